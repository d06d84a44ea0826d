/**
 * Talking to the admin API: every request goes to this origin's /v1 routes, with the operator's
 * token (when there is one) as `Authorization: Bearer …`. The token lives in the tab's
 * sessionStorage only (gone when the tab closes) and is never put in a URL. A 401 from any route
 * tells the app to ask for the token again.
 */

const TOKEN_KEY = 'heimdall.console.token';

let token: string | undefined = read();
const unauthorizedListeners = new Set<() => void>();

function read(): string | undefined {
  try {
    return sessionStorage.getItem(TOKEN_KEY) ?? undefined;
  } catch {
    return undefined;
  }
}

export function getToken(): string | undefined {
  return token;
}

export function setToken(value: string | undefined): void {
  token = value === undefined || value === '' ? undefined : value;
  try {
    if (token === undefined) sessionStorage.removeItem(TOKEN_KEY);
    else sessionStorage.setItem(TOKEN_KEY, token);
  } catch {
    // Storage refused (private mode): the token lives in memory for this page only.
  }
}

/** Called whenever the API answers 401. */
export function onUnauthorized(fn: () => void): () => void {
  unauthorizedListeners.add(fn);
  return () => unauthorizedListeners.delete(fn);
}

export function reportUnauthorized(): void {
  for (const fn of [...unauthorizedListeners]) fn();
}

export function authHeaders(withToken: string | undefined = token): Record<string, string> {
  return withToken ? { authorization: `Bearer ${withToken}` } : {};
}

/** An answer of the API that is not 2xx, with the daemon's sentence. */
export class ApiError extends Error {
  constructor(readonly status: number, readonly code: string | undefined, message: string, readonly details?: unknown) {
    super(message);
  }
}

interface ErrorBody {
  error?: { code?: string; message?: string; details?: unknown };
}

async function errorOf(res: Response): Promise<ApiError> {
  let body: ErrorBody | undefined;
  try {
    body = (await res.json()) as ErrorBody;
  } catch {
    body = undefined;
  }
  const e = body?.error;
  return new ApiError(res.status, e?.code, e?.message ?? `The daemon answered ${res.status} ${res.statusText}.`, e?.details);
}

export interface RequestOptions {
  method?: 'GET' | 'POST';
  body?: unknown;
  signal?: AbortSignal;
  /** Use this token instead of the stored one (checking a token the operator typed). */
  token?: string;
  /** Do not report a 401 to the app (the token prompt's own check). */
  quiet401?: boolean;
}

/** Fetches JSON from the API; throws ApiError on a non-2xx answer and on a network failure. */
export async function api<T>(path: string, opts: RequestOptions = {}): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json', ...authHeaders(opts.token ?? token) };
  if (opts.body !== undefined) headers['content-type'] = 'application/json';
  let res: Response;
  try {
    res = await fetch(path, {
      method: opts.method ?? 'GET',
      headers,
      cache: 'no-store',
      ...(opts.body !== undefined ? { body: JSON.stringify(opts.body) } : {}),
      ...(opts.signal ? { signal: opts.signal } : {}),
    });
  } catch (err) {
    if ((err as Error).name === 'AbortError') throw err;
    throw new ApiError(0, undefined, 'The daemon cannot be reached; it may be stopped or restarting.');
  }
  if (!res.ok) {
    const e = await errorOf(res);
    if (res.status === 401 && !opts.quiet401) reportUnauthorized();
    throw e;
  }
  return (await res.json()) as T;
}

export const post = <T>(path: string, body: unknown = {}): Promise<T> => api<T>(path, { method: 'POST', body });

export const enc = encodeURIComponent;
