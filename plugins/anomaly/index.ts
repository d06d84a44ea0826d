/**
 * anomaly: provides `heimdall.anomaly.detect`, which the security plugin calls when failures pile
 * up. It classifies the burst by its size and tells operators on Bifrost.
 */
import { definePlugin } from '../../sdk/index.js';

interface DetectParams {
  trigger: string;
  reason: string;
  count: number;
}

const history: Array<{ at: string; reason: string; count: number; severity: string }> = [];

export default definePlugin({
  name: 'anomaly',
  version: '1.0.0',
  description: 'Classifies bursts of suspicious activity and notifies operators.',
  events: [],
  actions() {
    return {
      detect: {
        description: 'Classifies a burst of suspicious events (for example failed queries) by severity and notifies operators on Bifrost.',
        params: {
          type: 'object',
          properties: {
            trigger: { type: 'string', description: 'Who asked: autonomous, operator, model.' },
            reason: { type: 'string', description: 'What kind of burst, for example query_failures.' },
            count: { type: 'integer', minimum: 0, description: 'How many events were in the burst.' },
          },
          required: ['reason', 'count'],
          additionalProperties: false,
        },
        async handler(actx) {
          const p = actx.params as unknown as DetectParams;
          const severity = p.count >= 20 ? 'high' : p.count >= 10 ? 'medium' : 'low';
          history.push({ at: new Date().toISOString(), reason: p.reason, count: p.count, severity });
          if (history.length > 100) history.shift();
          const message = `Detected ${p.count} events of kind ${p.reason} (${severity} severity, trigger ${p.trigger ?? 'unknown'}).`;
          await actx.bifrost.sendNotification(severity === 'high' ? 'error' : 'warning', 'Anomaly detected', message, { reason: p.reason, count: p.count, severity });
          return { success: true, message, data: { severity, reason: p.reason, count: p.count, seen: history.length } };
        },
      },
    };
  },
});
