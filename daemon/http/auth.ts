/**
 * Bearer-token authentication of the admin API, and the start-up check that refuses a
 * non-loopback bind without a token.
 *
 * Scope: every route under /v1 needs the token when `server.token` is non-empty. /healthz, /readyz
 * and /metrics stay open so that probes and Prometheus work without a secret; they reveal
 * liveness, readiness reasons and counters, never events, config or secrets.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { isLoopbackHost } from '../../config/loader.js';
import { ErrorCode, HeimdallError } from '../../sdk/errors.js';
import { HttpError } from './errors.js';

/**
 * Throws when the server would listen on a non-loopback address with no token. The config
 * validator checks this too; this is the last line of defence. The error has code HMD_ERR_CONFIG
 * so that `heimdall start` exits 2 (invalid config).
 */
export function assertSafeBind(host: string, token: string): void {
  if (!isLoopbackHost(host) && token.trim() === '') {
    throw new HeimdallError(ErrorCode.HMD_ERR_CONFIG,
      `Refusing to listen on ${host}: it is not a loopback address and server.token is empty, so anyone ` +
      'who can reach this port could control the daemon. Set server.token (for example ' +
      'token: ${HEIMDALL_TOKEN}) or bind to 127.0.0.1.');
  }
}

/** True when `url` (a route pattern or a raw URL) is under /v1 and so needs the token. */
export function isProtectedPath(url: string): boolean {
  return url === '/v1' || url.startsWith('/v1/') || url.startsWith('/v1?');
}

const digest = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();

/**
 * Returns an onRequest check for `token` (undefined when auth is off). It compares SHA-256 digests
 * with timingSafeEqual, so neither the token's content nor its length leaks through timing.
 */
export function createAuthCheck(token: string): ((request: FastifyRequest) => void) | undefined {
  if (token.length === 0) return undefined;
  const expected = digest(token);
  return (request) => {
    // The matched route pattern decides; a percent-encoded path cannot slip past the prefix check.
    const pattern = request.routeOptions?.url;
    if (!isProtectedPath(pattern ?? request.url)) return;
    const header = request.headers.authorization;
    if (header === undefined || header === '') {
      throw new HttpError(401, ErrorCode.HMD_ERR_UNAUTHORIZED,
        'This route needs a bearer token: send "Authorization: Bearer <token>" with the daemon\'s ' +
        'server.token (the CLI reads --token or HEIMDALL_TOKEN).',
        undefined, { 'www-authenticate': 'Bearer realm="heimdall"' });
    }
    const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
    if (match === null) {
      throw new HttpError(401, ErrorCode.HMD_ERR_UNAUTHORIZED,
        'The Authorization header is not a bearer token; send "Authorization: Bearer <token>".',
        undefined, { 'www-authenticate': 'Bearer realm="heimdall", error="invalid_request"' });
    }
    if (!timingSafeEqual(digest(match[1]!), expected)) {
      throw new HttpError(401, ErrorCode.HMD_ERR_UNAUTHORIZED,
        'The bearer token is not valid; use the token in the daemon\'s server.token ' +
        '(the CLI reads --token or HEIMDALL_TOKEN).',
        undefined, { 'www-authenticate': 'Bearer realm="heimdall", error="invalid_token"' });
    }
  };
}
