/**
 * Logging what a plugin's handlers threw in one batch: the first few failures the worker reports
 * (protocol.ts EventsResult.failures) one line each, the rest as one count, never a line per event.
 */
import type { Logger } from 'pino';
import { deserializeError } from '../../sdk/index.js';
import type { EventsResult } from './protocol.js';

export function logBatchFailures(log: Pick<Logger, 'warn'>, plugin: string, res: EventsResult): void {
  for (const f of res.failures) {
    const e = deserializeError(f.error);
    log.warn({ eventId: f.id, err: { message: e.message, stack: e.stack } }, `The plugin ${plugin} threw while handling event ${f.id}: ${e.message}. The event is counted as failed and the next one is delivered.`);
  }
  if (res.failed > res.failures.length) log.warn(`The plugin ${plugin} threw on ${res.failed - res.failures.length} more events of the same batch.`);
}
