/**
 * What an operator sees of a running daemon, read through its admin HTTP API: the Bifrost buffer
 * and status, confirmation requests, the plugins' counters; and quiescence (every plugin queue
 * at 0), to wait for instead of sleeping before asserting that something did not happen.
 *
 * Works with an in-process daemon (test/helpers/in-process-daemon.ts) and a child process
 * (test/helpers/daemon-process.ts) alike: anything with the base `url` and, when auth is on, the
 * `token`.
 */
import assert from 'node:assert/strict';
import type { BifrostMessage } from '../../daemon/bifrost/bus.js';
import type { ConfirmationInfo } from '../../daemon/bifrost/confirmations.js';
import type { BifrostStats } from '../../daemon/bifrost/types.js';
import type { PluginStatus } from '../../daemon/workers/plugin-status.js';
import { waitFor } from './in-process-daemon.js';

export interface Reachable {
  url: string;
  token?: string;
}

/** fetch against the daemon, with its bearer token when it has one (and nothing else added). */
export function call(d: Reachable, path: string, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  if (d.token && !headers.has('authorization')) headers.set('authorization', `Bearer ${d.token}`);
  return fetch(`${d.url}${path}`, { ...init, headers });
}

/** POST `body` as JSON. */
export function postJson(d: Reachable, path: string, body: unknown): Promise<Response> {
  return call(d, path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
}

/** GET (or `init`) `path` and parse the JSON answer, which must be a 2xx. */
export async function getJson<T>(d: Reachable, path: string, init: RequestInit = {}): Promise<T> {
  const res = await call(d, path, init);
  const text = await res.text();
  assert.ok(res.ok, `${init.method ?? 'GET'} ${path} answered ${res.status}: ${text}`);
  return JSON.parse(text) as T;
}

/** GET /v1/bifrost/status. */
export function bifrostStatus(d: Reachable): Promise<BifrostStats> {
  return getJson<BifrostStats>(d, '/v1/bifrost/status');
}

/**
 * Every message in the Bifrost replay buffer after `since` (default: all), oldest first, paged
 * through GET /v1/bifrost/notifications. `query` adds filters, e.g. `level=warning`.
 */
export async function bifrostMessages(d: Reachable, query = '', since = '0'): Promise<BifrostMessage[]> {
  const out: BifrostMessage[] = [];
  let cursor = since;
  for (;;) {
    const page = await getJson<{ messages: BifrostMessage[]; more: boolean; next: string }>(
      d,
      `/v1/bifrost/notifications?since=${encodeURIComponent(cursor)}&limit=100000${query ? `&${query}` : ''}`,
    );
    out.push(...page.messages);
    if (!page.more) return out;
    cursor = page.next;
  }
}

/** GET /v1/confirmations: the requests waiting for an answer. */
export async function pendingConfirmations(d: Reachable): Promise<ConfirmationInfo[]> {
  const body = await getJson<{ confirmations: ConfirmationInfo[] }>(d, '/v1/confirmations');
  return body.confirmations.filter((c) => c.state === 'pending');
}

/** GET /v1/confirmations/{id}. */
export function confirmation(d: Reachable, id: string): Promise<ConfirmationInfo> {
  return getJson<ConfirmationInfo>(d, `/v1/confirmations/${encodeURIComponent(id)}`);
}

/** POST /v1/confirmations/{id}, as an operator would. */
export function answerConfirmation(d: Reachable, id: string, approve: boolean, reason?: string): Promise<ConfirmationInfo> {
  return getJson<ConfirmationInfo>(d, `/v1/confirmations/${encodeURIComponent(id)}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ approve, ...(reason ? { reason } : {}) }),
  });
}

/** Waits for the first pending confirmation request that `match` accepts and returns it. */
export async function waitForConfirmation(d: Reachable, what: string, match: (c: ConfirmationInfo) => boolean = () => true, timeoutMs = 10_000): Promise<ConfirmationInfo> {
  let found: ConfirmationInfo | undefined;
  await waitFor(what, async () => {
    found = (await pendingConfirmations(d)).find(match);
    return found !== undefined;
  }, timeoutMs);
  return found!;
}

/** GET /v1/plugins. */
export async function plugins(d: Reachable): Promise<PluginStatus[]> {
  return (await getJson<{ plugins: PluginStatus[] }>(d, '/v1/plugins')).plugins;
}

/**
 * Quiescence of the plugin queues: waits until no plugin has an event queued or in flight
 * (`counters.queued === 0` for every plugin) and returns the plugins' status then. Events are
 * counted as received when routed, so once the source has emitted an event and the queues are
 * at 0, every plugin has seen it or never will.
 */
export async function untilQueuesEmpty(d: Reachable, timeoutMs = 10_000): Promise<PluginStatus[]> {
  let last: PluginStatus[] = [];
  await waitFor('every plugin queue to be empty', async () => {
    last = await plugins(d);
    return last.every((p) => p.counters.queued === 0);
  }, timeoutMs);
  return last;
}
