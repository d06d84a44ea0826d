/**
 * Operational routes outside /v1, open without a token: /healthz (liveness), /readyz (readiness)
 * and /metrics (Prometheus). /healthz does no work beyond a clock read, so it stays fast while the
 * daemon is busy.
 */
import type { FastifyInstance } from 'fastify';
import type { DaemonApi } from './daemon-api.js';
import { HttpError } from './errors.js';
import { ErrorCode } from '../../sdk/errors.js';

export function registerOpsRoutes(app: FastifyInstance, api: DaemonApi, startedAtMs: number): void {
  const healthHeaders = { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' };

  app.get('/healthz', (_request, reply) => {
    const uptimeS = Math.floor((Date.now() - startedAtMs) / 1000);
    reply.headers(healthHeaders).send(`{"status":"ok","uptimeS":${uptimeS}}`);
  });

  app.get('/readyz', (_request, reply) => {
    const readiness = api.readiness();
    if (readiness.ready) {
      reply.header('cache-control', 'no-store').send({ status: 'ready', reasons: [] });
      return;
    }
    const reasons = readiness.reasons.length > 0 ? readiness.reasons : ['The daemon did not say why.'];
    throw new HttpError(503, ErrorCode.HMD_ERR_NOT_READY,
      `Heimdall is not ready: ${reasons.map((r) => r.replace(/\.$/, '')).join('; ')}. ` +
      'GET /v1/status shows the state of every source and plugin.',
      { status: 'not_ready', reasons });
  });

  app.get('/metrics', async (_request, reply) => {
    const { contentType, body } = await api.metrics();
    reply.header('content-type', contentType).header('cache-control', 'no-store').send(body);
  });
}
