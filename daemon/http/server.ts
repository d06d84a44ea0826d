/**
 * The admin HTTP API (fastify 5). It only talks to the daemon through {@link DaemonApi}.
 *
 * - /healthz, /readyz, /metrics: open (probes and Prometheus need no secret).
 * - /v1/*: behind `Authorization: Bearer <server.token>` when the token is non-empty.
 * - Every 4xx/5xx is `{ error: { code, message, details? } }`, fastify's own errors included.
 * - fastify's request logging is off (too chatty at 100k events/s); errors are logged once each,
 *   5xx at error and 4xx at debug, with a per-request child logger.
 * - Every JSON and text body (answers, error envelopes, /readyz, /v1/status, /metrics) is scrubbed
 *   of the config's secrets and credential-shaped text before it is sent (an onSend hook with the
 *   daemon's SecretScrubber); the SSE streams are Bifrost messages, scrubbed when published, and
 *   the event tap, which is event data.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { SecretScrubber } from '../../config/secret-scrubber.js';
import type { HeimdallConfig } from '../../config/types.js';
import type { DaemonApi } from './daemon-api.js';
import { assertSafeBind, createAuthCheck } from './auth.js';
import { installJsonParser } from './body.js';
import { HttpError, clientErrorHandler, pathOf, sendHttpError, toHttpError } from './errors.js';
import { registerBifrostRoutes } from './routes-bifrost.js';
import { registerConsoleRoutes } from './routes-console.js';
import { registerEventRoutes } from './routes-events.js';
import { registerHistoryRoutes } from './routes-history.js';
import { registerInvocationRoutes } from './routes-invocations.js';
import { registerOpsRoutes } from './routes-ops.js';
import { registerPluginRoutes } from './routes-plugins.js';
import { registerQuarantineRoutes } from './routes-quarantine.js';
import { registerReloadRoute, registerRuleRoutes } from './routes-rules.js';
import { registerTapRoutes } from './routes-tap.js';
import { registerV1Routes } from './routes-v1.js';
import { ErrorCode } from '../../sdk/errors.js';

export interface HttpServerOptions {
  api: DaemonApi;
  config: HeimdallConfig;
  logger: Logger;
  /** Where the built console is (default dist/console/); tests point it elsewhere. */
  consoleDir?: string;
  /** Scrubs every body sent; default one that knows the secrets of `config`. */
  secrets?: SecretScrubber;
}

export interface HttpServer {
  app: FastifyInstance;
  /** Starts listening on server.host:server.port; resolves to the base URL (http://host:port). */
  listen(): Promise<string>;
  /** Stops accepting connections and closes idle ones; in-flight requests finish first. */
  close(): Promise<void>;
}

const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;

/** The base URL clients use for a bound address. */
export function baseUrl(address: string, port: number): string {
  const host = address.includes(':') ? `[${address}]` : address;
  return `http://${host}:${port}`;
}

export function createHttpServer(opts: HttpServerOptions): HttpServer {
  const { api, config, logger } = opts;
  const { host, port, token, bodyLimitBytes } = config.server;
  assertSafeBind(host, token);
  const startedAtMs = Date.now();

  const app = Fastify({
    logger: false,
    // Action names are heimdall.<plugin>.<action>; the default 100 characters could cut a long one.
    routerOptions: { maxParamLength: 512 },
    bodyLimit: bodyLimitBytes,
    // Errors before routing (malformed URL, …) get the same JSON envelope.
    frameworkErrors: (err, request, reply) => {
      sendHttpError(logger, request, reply, toHttpError(err, request, bodyLimitBytes), err);
    },
    clientErrorHandler: clientErrorHandler(logger),
    // fastify's own 503 while closing is not our envelope; the onRequest hook below answers instead.
    return503OnClosing: false,
    forceCloseConnections: 'idle',
  });

  installJsonParser(app, bodyLimitBytes);

  // Bodies are strings here (fastify has serialized them); streams and buffers (the console's files) pass.
  const secrets = opts.secrets ?? SecretScrubber.fromConfig(config);
  app.addHook('onSend', (_request, reply, payload, done) => {
    if (typeof payload !== 'string') return done(null, payload);
    const type = String(reply.getHeader('content-type') ?? '');
    done(null, type.includes('json') ? secrets.json(payload) : type.startsWith('text/plain') ? secrets.text(payload) : payload);
  });

  // Every route, for the 404 message: "GET /healthz, …". Collected as routes are added.
  const routeList: string[] = [];
  app.addHook('onRoute', (route) => {
    const methods = (Array.isArray(route.method) ? route.method : [route.method]).filter((m) => m !== 'HEAD');
    for (const m of methods) routeList.push(`${m} ${route.url.replace(/:([A-Za-z]+)/g, '{$1}')}`);
  });

  let closing = false;
  app.addHook('onRequest', async (_request, reply) => {
    if (!closing) return;
    reply.header('connection', 'close');
    throw new HttpError(503, ErrorCode.HMD_ERR_SHUTTING_DOWN,
      'Heimdall is shutting down and takes no new requests; retry once it has restarted.');
  });

  const authCheck = createAuthCheck(token);
  if (authCheck) {
    app.addHook('onRequest', async (request) => {
      authCheck(request);
    });
  }

  app.setErrorHandler((err, request, reply) => {
    const httpErr = toHttpError(err, request, bodyLimitBytes);
    return sendHttpError(logger, request, reply, httpErr, err);
  });

  app.setNotFoundHandler((request, reply) => {
    const path = pathOf(request.url);
    const allowed = METHODS.filter((m) => m !== request.method && app.findRoute({ method: m, url: path }) !== null);
    if (allowed.length > 0) {
      return sendHttpError(logger, request, reply, new HttpError(405, ErrorCode.HMD_ERR_METHOD_NOT_ALLOWED,
        `${request.method} is not supported on ${path}; use ${allowed.join(' or ')}.`,
        { method: request.method, path, allowed }, { allow: allowed.join(', ') }));
    }
    return sendHttpError(logger, request, reply, new HttpError(404, ErrorCode.HMD_ERR_NOT_FOUND,
      `No route matches ${request.method} ${path}. The admin API serves ${routeList.join(', ')}.`,
      { method: request.method, path }));
  });

  registerOpsRoutes(app, api, startedAtMs, logger);
  registerV1Routes(app, api);
  registerPluginRoutes(app, api);
  registerEventRoutes(app, api, bodyLimitBytes);
  registerBifrostRoutes(app, api);
  registerInvocationRoutes(app, api);
  registerRuleRoutes(app, api);
  registerReloadRoute(app, api);
  registerHistoryRoutes(app, api.metricsHistory);
  registerConsoleRoutes(app, opts.consoleDir ? { dir: opts.consoleDir } : {});
  registerTapRoutes(app, api);
  registerQuarantineRoutes(app, api);

  return {
    app,
    async listen() {
      try {
        await app.listen({ host, port });
      } catch (err) {
        const e = err as NodeJS.ErrnoException;
        if (e.code === 'EADDRINUSE') {
          throw new Error(`Cannot listen on ${host}:${port}: the port is already in use. Stop the other process or set server.port to a free port (0 picks one).`, { cause: err });
        }
        if (e.code === 'EACCES') {
          throw new Error(`Cannot listen on ${host}:${port}: permission denied. Ports below 1024 need privileges; set server.port to 1024 or above.`, { cause: err });
        }
        if (e.code === 'EADDRNOTAVAIL' || e.code === 'ENOTFOUND') {
          throw new Error(`Cannot listen on ${host}:${port}: this machine has no such address. Set server.host to one of its addresses, such as 127.0.0.1.`, { cause: err });
        }
        throw err;
      }
      const addr = app.server.address();
      if (addr === null || typeof addr === 'string') return `http://${host}:${port}`;
      return baseUrl(addr.address, addr.port);
    },
    async close() {
      closing = true;
      await app.close();
    },
  };
}
