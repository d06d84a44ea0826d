/**
 * Errors of the admin HTTP API: every 4xx/5xx answer is `{ error: { code, message, details? } }`.
 * Every code comes from the one catalogue in sdk/errors.ts (docs/errors.md); codes are never reused.
 */
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { ERROR_CODES, HeimdallError, isErrorCode, ErrorCode } from '../../sdk/errors.js';

/** Every code the HTTP layer answers with; the same catalogue as everywhere else. */
export type HttpErrorCode = ErrorCode;

/** The JSON body of every error answer. */
export interface ErrorBody {
  error: { code: string; message: string; details?: unknown };
}

/** A Heimdall error with the HTTP status (and headers) the API answers it with, as-is. */
export class HttpError extends HeimdallError {
  constructor(
    readonly statusCode: number,
    code: ErrorCode,
    message: string,
    details?: unknown,
    /** Extra response headers (WWW-Authenticate, Allow, …). */
    readonly headers?: Record<string, string>,
  ) {
    super(code, message, details);
  }
}

/**
 * The HTTP status of every code in the catalogue. A Record over all codes, so a new code does not
 * compile until it has a status here (docs/errors.md lists the same; a unit test compares them).
 */
export const STATUS_BY_CODE: Readonly<Record<ErrorCode, number>> = {
  HMD_ERR_INTERNAL: 500,
  HMD_ERR_ACTION_NOT_FOUND: 404,
  HMD_ERR_INVALID_PARAMS: 400,
  HMD_ERR_ACTION_FAILED: 500,
  HMD_ERR_ACTION_TIMEOUT: 504,
  HMD_ERR_NO_DATABASE: 503,
  HMD_ERR_DATABASE_UNAVAILABLE: 503,
  HMD_ERR_READ_ONLY: 403,
  HMD_ERR_QUERY_FAILED: 502,
  HMD_ERR_NO_MODEL: 503,
  HMD_ERR_PLUGIN_UNAVAILABLE: 503,
  HMD_ERR_INVALID_PLUGIN: 500,
  HMD_ERR_PLUGIN_INIT: 500,
  HMD_ERR_RATE_LIMITED: 429,
  HMD_ERR_QUEUE_FULL: 503,
  HMD_ERR_INVALID_EVENT: 400,
  HMD_ERR_CONFIG: 400,
  HMD_ERR_POLICY_DENIED: 403,
  HMD_ERR_NOT_FOUND: 404,
  HMD_ERR_CONFLICT: 409,
  HMD_ERR_BAD_REQUEST: 400,
  HMD_ERR_UNAUTHORIZED: 401,
  HMD_ERR_METHOD_NOT_ALLOWED: 405,
  HMD_ERR_BODY_TOO_LARGE: 413,
  HMD_ERR_UNSUPPORTED_MEDIA_TYPE: 415,
  HMD_ERR_NOT_READY: 503,
  HMD_ERR_SHUTTING_DOWN: 503,
  HMD_ERR_STATEMENT_REFUSED: 403,
  HMD_ERR_INVOCATION_DEPTH: 508,
  HMD_ERR_RESULT_TOO_LARGE: 502,
};

/** The status the API answers for a code (500 when the code is not in the catalogue). */
export function statusForCode(code: string): number {
  return isErrorCode(code) ? STATUS_BY_CODE[code] : 500;
}

/** The Content-Types each kind of route accepts, for 415 messages. */
export const JSON_TYPES = ['application/json'] as const;
export const EVENT_TYPES_ACCEPTED = ['application/json', 'application/x-ndjson', 'application/ndjson'] as const;

/** Formats a byte count for a person: 10485760 → "10 MiB (10485760 bytes)". */
export function formatBytes(n: number): string {
  if (n >= 1024 * 1024 && n % (1024 * 1024) === 0) return `${n / (1024 * 1024)} MiB (${n} bytes)`;
  if (n >= 1024 && n % 1024 === 0) return `${n / 1024} KiB (${n} bytes)`;
  return `${n} bytes`;
}

/** Removes the query string, for messages. */
export function pathOf(url: string): string {
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
}

/**
 * Turns anything thrown inside fastify (our HttpError, any other HeimdallError or error with a code, fastify's own
 * FST_ERR_* errors, a plain Error) into an HttpError with a status, a stable code and a sentence.
 */
export function toHttpError(err: unknown, request: FastifyRequest, bodyLimit: number): HttpError {
  if (err instanceof HttpError) return err;
  const e = (err ?? {}) as Partial<FastifyError> & { details?: unknown };
  const code = typeof e.code === 'string' ? e.code : undefined;
  const where = `${request.method} ${pathOf(request.url)}`;
  switch (code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new HttpError(413, ErrorCode.HMD_ERR_BODY_TOO_LARGE,
        `The request body is larger than the limit of ${formatBytes(bodyLimit)}. ` +
        'Send smaller batches, or raise server.bodyLimitBytes in the daemon config.',
        { limitBytes: bodyLimit });
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE': {
      const accepted = acceptedTypes(request);
      const got = request.headers['content-type'];
      return new HttpError(415, ErrorCode.HMD_ERR_UNSUPPORTED_MEDIA_TYPE,
        `${where} does not accept Content-Type ${got ? `"${got}"` : '(none)'}; ` +
        `send one of: ${accepted.join(', ')}.`,
        { accepted, received: got ?? null });
    }
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new HttpError(400, ErrorCode.HMD_ERR_BAD_REQUEST,
        'The Content-Length header does not match the size of the body that was sent.');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return new HttpError(400, ErrorCode.HMD_ERR_BAD_REQUEST, `The request body is not valid JSON: ${e.message}.`);
    case 'FST_ERR_BAD_URL':
    case 'FST_ERR_ASYNC_CONSTRAINT':
      return new HttpError(400, ErrorCode.HMD_ERR_BAD_REQUEST, `The request URL is malformed: ${e.message}.`);
    default:
      break;
  }
  if (isErrorCode(code)) return new HttpError(statusForCode(code), code, e.message ?? ERROR_CODES[code], e.details);
  const status = typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 600 ? e.statusCode : 500;
  if (status < 500) {
    return new HttpError(status, ErrorCode.HMD_ERR_BAD_REQUEST, `The request to ${where} was refused: ${e.message ?? 'bad request'}.`);
  }
  return new HttpError(500, ErrorCode.HMD_ERR_INTERNAL,
    `Heimdall failed while handling ${where}: ${e.message ?? String(err)}. ` +
    'This is a bug or an unexpected state; the daemon log has the stack trace.');
}

/** Route-level list of accepted types (set in the route's `config.accepts`), JSON by default. */
export function acceptedTypes(request: FastifyRequest): readonly string[] {
  const cfg = request.routeOptions?.config as { accepts?: readonly string[] } | undefined;
  return cfg?.accepts ?? JSON_TYPES;
}

/**
 * Sends the error envelope and logs it: 5xx at error (an operator may have to act), 4xx at debug
 * (the client's mistake; it has the answer). The per-request child logger is only made here.
 */
export function sendHttpError(logger: Logger, request: FastifyRequest, reply: FastifyReply, err: HttpError, cause?: unknown): FastifyReply {
  const log = logger.child({ reqId: request.id, method: request.method, path: pathOf(request.url) });
  if (err.statusCode >= 500) {
    // Known failures (timeout, plugin down, …) are explained by the message; a stack only helps for bugs.
    const withStack = err.code === ErrorCode.HMD_ERR_INTERNAL && cause instanceof Error;
    log.error({ code: err.code, status: err.statusCode, err: withStack ? cause : undefined }, `Request failed with ${err.statusCode}: ${err.message}`);
  } else {
    log.debug({ code: err.code, status: err.statusCode }, `Request refused with ${err.statusCode}: ${err.message}`);
  }
  if (err.headers) reply.headers(err.headers);
  const body: ErrorBody = { error: { code: err.code, message: err.message } };
  if (err.details !== undefined) body.error.details = err.details;
  return reply.code(err.statusCode).type('application/json; charset=utf-8').send(body);
}

/**
 * Answers requests Node's HTTP parser refused (malformed request line or headers, headers too
 * large, request timeout) with the same envelope, then closes the socket. Nothing is logged above
 * debug: these are almost always scanners or broken proxies.
 */
export function clientErrorHandler(logger: Logger) {
  return (err: Error & { code?: string }, socket: import('node:net').Socket): void => {
    if (err.code === 'ECONNRESET' || socket.destroyed) return;
    let status = 400;
    let body: ErrorBody = { error: { code: ErrorCode.HMD_ERR_BAD_REQUEST, message: `The request is not valid HTTP (${err.code ?? err.message}).` } };
    if (err.code === 'HPE_HEADER_OVERFLOW') {
      status = 431;
      body = { error: { code: ErrorCode.HMD_ERR_BAD_REQUEST, message: 'The request headers are too large; send fewer or shorter headers.' } };
    } else if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
      status = 408;
      body = { error: { code: ErrorCode.HMD_ERR_BAD_REQUEST, message: 'The request was not received in time; send the whole request promptly.' } };
    }
    logger.debug({ code: err.code, status }, `Refused a malformed HTTP request with ${status}: ${err.message}`);
    const text = JSON.stringify(body);
    if (socket.writable) {
      socket.write(`HTTP/1.1 ${status} ${status === 400 ? 'Bad Request' : status === 431 ? 'Request Header Fields Too Large' : 'Request Timeout'}\r\n` +
        `Content-Length: ${Buffer.byteLength(text)}\r\nContent-Type: application/json; charset=utf-8\r\nConnection: close\r\n\r\n${text}`);
    }
    socket.destroy(err);
  };
}
