/**
 * deletion-summary: every 10 `node.deleted` events writes a DeletionSummary node through
 * ctx.database.query (needs `write: true` in its plugin config and a database).
 */
import { definePlugin } from '../../sdk/index.js';

interface Config {
  every: number;
}

let deleted = 0;
let labels: Record<string, number> = {};
let summaries = 0;

export default definePlugin<Config>({
  name: 'deletion-summary',
  version: '1.0.0',
  description: 'Writes a DeletionSummary node for every N deleted nodes.',
  events: ['node.deleted'],
  configSchema: { type: 'object', properties: { every: { type: 'integer', minimum: 1, default: 10 } }, additionalProperties: false },
  async onDatabaseEvent(event, ctx) {
    deleted++;
    for (const l of event.nodeLabels ?? []) labels[l] = (labels[l] ?? 0) + 1;
    const every = ctx.config.every ?? 10;
    if (deleted < every) return;
    const count = deleted;
    const byLabel = JSON.stringify(labels);
    deleted = 0;
    labels = {};
    try {
      await ctx.database.query('CREATE (s:DeletionSummary {count: $count, byLabel: $byLabel, at: datetime()}) RETURN elementId(s) AS id', { count, byLabel }, { mode: 'write' });
      summaries++;
      ctx.log.info(`Wrote a DeletionSummary node for ${count} deleted nodes.`);
    } catch (err) {
      ctx.log.warn(`Could not write the DeletionSummary node for ${count} deleted nodes: ${(err as Error).message}`);
    }
  },
  actions() {
    return {
      status: {
        description: 'Reports deletions counted towards the next summary and summaries written.',
        handler: () => ({ success: true, message: `${deleted} deletions pending, ${summaries} summaries written.`, data: { pending: deleted, summaries } }),
      },
    };
  },
});
