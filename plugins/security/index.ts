/**
 * security: counts `query.failed` events in a time window; at the threshold it asks the anomaly
 * plugin to analyse them (invokeActionAsync) and the model for remediation (sendPromptAsync),
 * then resets. The reference's first example: with the bolt-proxy source the failures are real
 * queries that failed on the wire (README.md here).
 */
import { definePlugin, type DatabaseEvent } from '../../sdk/index.js';

interface SecurityConfig {
  threshold: number;
  windowMs: number;
}

let failed: DatabaseEvent[] = [];
let windowStart = Date.now();
let triggers = 0;

export default definePlugin<SecurityConfig>({
  name: 'security',
  version: '1.0.0',
  description: 'Watches failed queries and asks for analysis when too many fail in a window.',
  events: ['query.failed'],
  configSchema: {
    type: 'object',
    properties: {
      threshold: { type: 'integer', minimum: 1, default: 5 },
      windowMs: { type: 'integer', minimum: 1, default: 300000 },
    },
    additionalProperties: false,
  },
  async onDatabaseEvent(event, ctx) {
    const threshold = ctx.config.threshold ?? 5;
    const windowMs = ctx.config.windowMs ?? 300_000;
    if (Date.now() - windowStart > windowMs) {
      failed = [];
      windowStart = Date.now();
    }
    failed.push(event);
    if (failed.length < threshold) return;
    const count = failed.length;
    const recent = failed.map((e) => ({
      id: e.id,
      timestamp: e.timestamp,
      query: e.query,
      error: e.error,
      userId: e.userId,
      database: e.database,
      source: e.source,
      // from the wire (the bolt-proxy source): which connection and client sent it
      ...(e.requestId !== undefined ? { connection: e.requestId } : {}),
      ...(typeof e.metadata?.['bolt'] === 'object' ? { userAgent: (e.metadata['bolt'] as { userAgent?: string }).userAgent } : {}),
    }));
    failed = [];
    windowStart = Date.now();
    triggers++;
    const actionId = await ctx.heimdall.invokeActionAsync('heimdall.anomaly.detect', { trigger: 'autonomous', reason: 'query_failures', count });
    const promptId = await ctx.heimdall.sendPromptAsync(
      `Multiple query failures detected in the last window (${count} failures). Analyze them and suggest remediation; a change to the data goes through heimdall.remediate.cypher, and you may record your conclusion with heimdall.audit.remediate.`,
      { context: { recentFailures: recent } },
    );
    ctx.log.info(`${count} queries failed within ${windowMs} ms; asked for anomaly detection (${actionId}) and a model analysis (${promptId}).`, { actionId, promptId });
  },
  actions() {
    return {
      status: {
        description: 'Reports how many failed queries are in the current window and how often the threshold was reached.',
        params: { type: 'object', properties: {}, additionalProperties: false },
        handler: () => ({ success: true, message: `${failed.length} failed queries in the current window; threshold reached ${triggers} times.`, data: { inWindow: failed.length, triggers } }),
      },
    };
  },
});
