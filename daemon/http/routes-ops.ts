/**
 * Operational routes outside /v1, open without a token: /healthz (liveness), /readyz (readiness)
 * and /metrics (Prometheus). /healthz does no work beyond a clock read, so it stays fast while the
 * daemon is busy. /readyz answers 200 with `reasons` listing what is degraded but settled (a plugin
 * failed for good), or 503 HMD_ERR_NOT_READY with Retry-After and the reasons; readiness changes
 * are logged once each (not-ready.ts), not every probe.
 */
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { DaemonApi } from './daemon-api.js';
import { ReadinessLog, sendNotReady } from './not-ready.js';

export function registerOpsRoutes(app: FastifyInstance, api: DaemonApi, startedAtMs: number, logger?: Pick<Logger, 'warn' | 'info'>): void {
  const readinessLog = logger ? new ReadinessLog(logger) : undefined;
  const healthHeaders = { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' };

  app.get('/healthz', (_request, reply) => {
    const uptimeS = Math.floor((Date.now() - startedAtMs) / 1000);
    reply.headers(healthHeaders).send(`{"status":"ok","uptimeS":${uptimeS}}`);
  });

  app.get('/readyz', (_request, reply) => {
    const readiness = api.readiness();
    if (readiness.ready) {
      readinessLog?.observe(true, []);
      reply.header('cache-control', 'no-store').send({ status: 'ready', reasons: readiness.reasons });
      return;
    }
    const reasons = readiness.reasons.length > 0 ? readiness.reasons : ['The daemon did not say why.'];
    readinessLog?.observe(false, reasons);
    sendNotReady(reply,
      `Heimdall is not ready: ${reasons.map((r) => r.replace(/\.$/, '')).join('; ')}. ` +
      'GET /v1/status shows the state of every source and plugin.',
      { status: 'not_ready', reasons });
  });

  app.get('/metrics', async (_request, reply) => {
    const { contentType, body } = await api.metrics();
    reply.header('content-type', contentType).header('cache-control', 'no-store').send(body);
  });
}
