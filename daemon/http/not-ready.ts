/**
 * The 503 HMD_ERR_NOT_READY answer (pinned: with Retry-After) and the readiness log.
 *
 * Not being ready is a state, not a failure of the request: the answer is sent here, not through
 * the error handler (which logs every 5xx at error), and readiness is logged only when it changes
 * — once at warn when the daemon stops being ready (with the reasons), once at info when it is
 * ready again — however often probes ask.
 */
import type { FastifyReply } from 'fastify';
import type { Logger } from 'pino';
import { ErrorCode } from '../../sdk/errors.js';
import type { ErrorBody } from './errors.js';

/** Seconds a client is asked to wait before it tries again. */
export const RETRY_AFTER_S = 1;

/** Sends `503 { error: { code: HMD_ERR_NOT_READY, message, details } }` with Retry-After. */
export function sendNotReady(reply: FastifyReply, message: string, details?: unknown): FastifyReply {
  const body: ErrorBody = { error: { code: ErrorCode.HMD_ERR_NOT_READY, message } };
  if (details !== undefined) body.error.details = details;
  return reply.code(503).header('retry-after', String(RETRY_AFTER_S)).header('cache-control', 'no-store').type('application/json; charset=utf-8').send(body);
}

/** Logs readiness when it changes (what /readyz saw), never once per probe. */
export class ReadinessLog {
  private last: { ready: boolean; key: string } | undefined;

  constructor(private readonly log: Pick<Logger, 'warn' | 'info'>) {}

  observe(ready: boolean, reasons: readonly string[]): void {
    const key = ready ? '' : reasons.join('\n');
    if (this.last && this.last.ready === ready && this.last.key === key) return;
    const first = this.last === undefined;
    this.last = { ready, key };
    if (ready) {
      if (!first) this.log.info('Heimdall is ready again (/readyz answers 200).');
      return;
    }
    this.log.warn({ reasons }, `Heimdall is not ready (/readyz answers 503): ${reasons.map((r) => r.replace(/\.$/, '')).join('; ')}.`);
  }
}
