/**
 * GET /v1/metrics/history (under /v1, so behind the bearer token when one is set): the bounded
 * server-side history of every plugin's queue counters that the console charts, sampled every
 * 5 s over the last 15 minutes (daemon/metrics-history.ts fills it). `?since=<ms since the
 * epoch>` returns only the samples taken after that moment, so a page that polls gets one new
 * sample at a time.
 *
 * The port this route consumes is declared here, beside it; the sampler meets it.
 */
import type { FastifyInstance } from 'fastify';
import { HttpError } from './errors.js';
import { ErrorCode } from '../../sdk/errors.js';

export interface PluginSample {
  received: number;
  delivered: number;
  /** Dropped, every reason together. */
  dropped: number;
  failed: number;
  /** Waiting plus in flight at the moment of the sample. */
  queued: number;
  capacity: number;
  /** Per second since the previous sample (0 in the first sample of a plugin). */
  receivedPerS: number;
  deliveredPerS: number;
  droppedPerS: number;
  failedPerS: number;
}

export interface HistorySample {
  /** When the sample was taken, ms since the epoch. */
  t: number;
  plugins: Record<string, PluginSample>;
}

export interface MetricsHistoryResult {
  intervalMs: number;
  windowMs: number;
  /** The most samples kept. */
  capacity: number;
  /** Oldest first; with `since`, only the samples taken after it. */
  samples: HistorySample[];
}

export interface MetricsHistoryApi {
  query(since?: number): MetricsHistoryResult;
}

export function registerHistoryRoutes(app: FastifyInstance, history: MetricsHistoryApi | undefined): void {
  if (!history) return;
  app.get('/v1/metrics/history', async (request) => {
    const q = request.query as Record<string, string | string[] | undefined>;
    const unknown = Object.keys(q).filter((k) => k !== 'since');
    if (unknown.length > 0) {
      throw new HttpError(400, ErrorCode.HMD_ERR_BAD_REQUEST,
        `GET /v1/metrics/history does not take the query parameter${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => `"${k}"`).join(', ')}; it takes since.`,
        { unexpected: unknown, allowed: ['since'] });
    }
    const raw = q.since;
    if (raw === undefined || raw === '') return history.query();
    if (Array.isArray(raw) || !/^\d+$/.test(raw) || !Number.isSafeInteger(Number(raw))) {
      throw new HttpError(400, ErrorCode.HMD_ERR_BAD_REQUEST,
        `The query parameter "since" must be a time in milliseconds since the epoch (the "t" of a sample), not ${JSON.stringify(raw)}.`);
    }
    return history.query(Number(raw));
  });
}
