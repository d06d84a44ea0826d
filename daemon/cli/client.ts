/**
 * A small HTTP client of the admin API for the CLI (fetch). It turns every failure into a
 * {@link CliError} with a sentence: unreachable daemon, HTTP error envelopes, non-JSON answers.
 */
import { CliError, usageError } from './exit.js';
import { ErrorCode } from '../../sdk/errors.js';
import { DEFAULT_URL, resolveDaemonAddress } from './daemon-address.js';

export { DEFAULT_URL } from './daemon-address.js';

export interface ClientOptions {
  /** Base URL of the daemon (--url; else $HEIMDALL_URL, the config's server section, the default: see daemon-address.ts). */
  url?: string | undefined;
  /** Bearer token (--token; else $HEIMDALL_TOKEN, the config's server.token). */
  token?: string | undefined;
  /** --config: the config file whose server section names the daemon. */
  config?: string | undefined;
}

/** The `{ error: { code, message, details? } }` envelope of the API. */
export interface ApiErrorBody {
  error: { code: string; message: string; details?: unknown };
}

/** A 4xx/5xx answer of the API. */
export class ApiError extends CliError {
  constructor(readonly status: number, readonly body: ApiErrorBody) {
    super(body.error.message);
    this.name = 'ApiError';
  }
  get code(): string {
    return this.body.error.code;
  }
}

function describeCause(err: unknown): string {
  let cur: unknown = err;
  // fetch wraps the socket error: TypeError('fetch failed', { cause }). Happy-eyeballs gives an AggregateError.
  while (cur instanceof Error && cur.cause !== undefined && cur.message === 'fetch failed') cur = cur.cause;
  if (cur instanceof AggregateError && cur.errors.length > 0) cur = cur.errors[0];
  if (cur instanceof Error) {
    const code = (cur as NodeJS.ErrnoException).code;
    return cur.message || code || cur.name;
  }
  return String(cur);
}

export class DaemonClient {
  readonly url: string;
  /** The bearer token sent with every request, if any. */
  readonly token: string | undefined;
  /** Where the URL came from (`--url`, `$HEIMDALL_URL`, `the config FILE`, `the default`). */
  readonly from: string;

  constructor(opts: ClientOptions = {}) {
    const address = resolveDaemonAddress(opts);
    const raw = address.url;
    this.from = address.from;
    let parsed: URL;
    try {
      parsed = new URL(raw);
    } catch {
      throw usageError(`--url "${raw}" is not a URL; pass the daemon's address, e.g. --url ${DEFAULT_URL}.`);
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
      throw usageError(`--url "${raw}" must start with http:// or https://, e.g. --url ${DEFAULT_URL}.`);
    }
    this.url = parsed.toString().replace(/\/+$/, '');
    this.token = address.token;
  }

  /** The authorization header for requests the client does not make itself (streams). */
  authHeaders(): Record<string, string> {
    return this.token ? { authorization: `Bearer ${this.token}` } : {};
  }

  /** GETs `path` and returns the parsed JSON body. */
  get<T>(path: string): Promise<T> {
    return this.request<T>('GET', path);
  }

  /** POSTs a JSON body. */
  postJson<T>(path: string, body: unknown): Promise<T> {
    return this.request<T>('POST', path, JSON.stringify(body), 'application/json');
  }

  /** POSTs an NDJSON text. */
  postNdjson<T>(path: string, text: string): Promise<T> {
    return this.request<T>('POST', path, text, 'application/x-ndjson');
  }

  async request<T>(method: string, path: string, body?: string, contentType?: string): Promise<T> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (contentType) headers['content-type'] = contentType;
    if (this.token) headers['authorization'] = `Bearer ${this.token}`;
    let res: Response;
    try {
      res = await fetch(`${this.url}${path}`, { method, headers, body });
    } catch (err) {
      throw new CliError(
        `Cannot reach the Heimdall daemon at ${this.url}${this.from === '--url' ? '' : ` (from ${this.from})`}: ${describeCause(err)}. ` +
        'Start it with `heimdall start` or pass --url.',
      );
    }
    const text = await res.text();
    let json: unknown;
    try {
      json = text === '' ? undefined : JSON.parse(text);
    } catch {
      throw new CliError(
        `The server at ${this.url} answered ${method} ${path} with HTTP ${res.status} and a body that is not JSON; ` +
        'check that --url points at a Heimdall daemon.',
      );
    }
    if (!res.ok) {
      if (isErrorBody(json)) throw new ApiError(res.status, json);
      throw new ApiError(res.status, {
        error: { code: ErrorCode.HMD_ERR_INTERNAL, message: `The daemon answered ${method} ${path} with HTTP ${res.status} and no error message.` },
      });
    }
    return json as T;
  }
}

function isErrorBody(v: unknown): v is ApiErrorBody {
  if (typeof v !== 'object' || v === null) return false;
  const e = (v as { error?: unknown }).error;
  return typeof e === 'object' && e !== null && typeof (e as { message?: unknown }).message === 'string';
}
