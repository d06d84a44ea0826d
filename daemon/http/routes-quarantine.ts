/**
 * The quarantine routes (under /v1, behind the bearer token when one is set):
 *
 *   GET  /v1/quarantine              the quarantined events, oldest first (?plugin= for one plugin),
 *                                    with the plugin, the event (a safe preview when it is itself
 *                                    over limits.events), the error, the attempts and the time
 *   POST /v1/quarantine/{id}/retry   puts the event back at the head of its plugin's queue (a new
 *                                    receive) and takes it out of the quarantine; 404 for an unknown
 *                                    id, 503 when the plugin cannot take it now (failed, queue full)
 */
import type { FastifyInstance } from 'fastify';
import type { DaemonApi } from './daemon-api.js';
import { HttpError } from './errors.js';
import { ErrorCode } from '../../sdk/errors.js';

export function registerQuarantineRoutes(app: FastifyInstance, api: DaemonApi): void {
  const q = api.quarantine;
  if (!q) return;

  app.get('/v1/quarantine', async (request) => {
    const query = request.query as Record<string, unknown>;
    const unknown = Object.keys(query).filter((k) => k !== 'plugin');
    if (unknown.length > 0) {
      throw new HttpError(400, ErrorCode.HMD_ERR_BAD_REQUEST, `GET /v1/quarantine takes only the query parameter "plugin"; it got ${unknown.map((k) => `"${k}"`).join(', ')}.`, { unexpected: unknown });
    }
    const plugin = typeof query['plugin'] === 'string' && query['plugin'] !== '' ? query['plugin'] : undefined;
    return { quarantine: q.list(plugin), stats: q.stats() };
  });

  app.post<{ Params: { id: string } }>('/v1/quarantine/:id/retry', async (request) => {
    const retried = q.retry(request.params.id);
    return { retried: true, ...retried };
  });
}
