/**
 * audit: a `remediate` action that records a remediation as an AuditEvent node, as in the
 * reference ("Remediation inside a plugin action").
 */
import { definePlugin } from '../../sdk/index.js';

export default definePlugin({
  name: 'audit',
  version: '1.0.0',
  description: 'Records remediation decisions as AuditEvent nodes in the graph.',
  events: [],
  actions() {
    return {
      remediate: {
        description: 'Creates an AuditEvent node that records an event summary and the suggested fix.',
        params: {
          type: 'object',
          properties: {
            summary: { type: 'string', minLength: 1, description: 'What happened, in one or two sentences.' },
            suggestedFix: { type: 'string', description: 'What should be done about it.' },
          },
          required: ['summary'],
          additionalProperties: false,
        },
        destructive: false,
        async handler(actx) {
          const { summary, suggestedFix } = actx.params as { summary: string; suggestedFix?: string };
          try {
            const rows = await actx.database.query(
              'CREATE (a:AuditEvent {summary: $summary, suggestedFix: $suggestedFix, invocationId: $invocationId, trigger: $trigger, at: datetime()}) RETURN elementId(a) AS id',
              { summary, suggestedFix: suggestedFix ?? null, invocationId: actx.invocationId, trigger: actx.trigger.kind },
              { mode: 'write' },
            );
            const id = rows[0]?.id as string | undefined;
            await actx.bifrost.sendNotification('success', 'Remediation recorded', `Recorded an AuditEvent: ${summary}`, { id: id ?? null });
            return { success: true, message: 'Remediation audit node created.', data: { id: id ?? null } };
          } catch (err) {
            return { success: false, message: `The AuditEvent node could not be created: ${(err as Error).message}` };
          }
        },
      },
    };
  },
});
