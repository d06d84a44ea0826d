/**
 * What each action type does with its rendered input, through the plugin context only:
 * notify → ctx.bifrost.sendNotification, invoke → ctx.heimdall.invokeAction(Async),
 * prompt → ctx.heimdall.sendPrompt(Async) with the event as context, cypher →
 * ctx.database.query in write mode (the daemon's remediation executor, policy and audit),
 * webhook → fetch with a deadline (2xx is success), log → ctx.log.
 * Each executor resolves with a small JSON-safe result or throws an Error with a sentence.
 */
import type { DatabaseEvent, NotificationLevel, PluginContext } from '../../sdk/index.js';
import type { ActionType } from './types.js';

/** What an executor may use. */
export interface ActionEnv {
  ctx: PluginContext;
  fetch: typeof fetch;
  /** Deadline of a webhook attempt that sets no timeoutMs, ms. */
  webhookTimeoutMs: number;
  rule: string;
  event: DatabaseEvent;
  window: { count: number; events: DatabaseEvent[] };
}

export type ActionResultData = Record<string, unknown>;

const MAX_BODY_CHARS = 1000;

/** The facts a prompt carries as context (and a webhook sends when it has no body). */
export function firingContext(env: Pick<ActionEnv, 'rule' | 'event' | 'window'>): Record<string, unknown> {
  return { rule: env.rule, event: env.event, window: { count: env.window.count, events: env.window.events } };
}

async function notify(input: Record<string, unknown>, env: ActionEnv): Promise<ActionResultData> {
  const level = (input.level as NotificationLevel | undefined) ?? 'info';
  const title = typeof input.title === 'string' && input.title ? input.title : `Rule ${env.rule} fired`;
  const data = input.data && typeof input.data === 'object' && !Array.isArray(input.data) ? (input.data as Record<string, unknown>) : undefined;
  const data2 = { ...(data ?? {}), rule: env.rule, eventId: env.event.id };
  await env.ctx.bifrost.sendNotification(level, title, String(input.message ?? ''), data2);
  return { level, title };
}

async function invoke(input: Record<string, unknown>, env: ActionEnv): Promise<ActionResultData> {
  const name = String(input.action);
  const params = (input.params as Record<string, unknown> | undefined) ?? {};
  if (input.async === true) return { invocationId: await env.ctx.heimdall.invokeActionAsync(name, params) };
  const r = await env.ctx.heimdall.invokeAction(name, params);
  if (!r.success) throw new Error(`The action ${name} did not succeed: ${r.message}`);
  return { message: r.message, ...(r.data ? { data: r.data } : {}) };
}

async function prompt(input: Record<string, unknown>, env: ActionEnv): Promise<ActionResultData> {
  const text = String(input.text);
  const opts = { context: firingContext(env) };
  if (input.async === true) return { invocationId: await env.ctx.heimdall.sendPromptAsync(text, opts) };
  const r = await env.ctx.heimdall.sendPrompt(text, opts);
  if (!r.success) throw new Error(`The model did not answer the prompt successfully: ${r.message}`);
  return { message: r.message };
}

async function cypher(input: Record<string, unknown>, env: ActionEnv): Promise<ActionResultData> {
  const rows = await env.ctx.database.query(String(input.statement), (input.params as Record<string, unknown> | undefined) ?? {}, { mode: 'write' });
  return { rows: rows.length };
}

/**
 * A webhook URL as error messages show it: without userinfo and query, either of which may carry
 * a credential (the daemon also scrubs the tokens of configured URLs from everything it sends on;
 * the dead-letter file keeps the rendered input, which the retry needs).
 */
function shownUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.origin}${u.pathname}${u.search ? '?…' : ''}`;
  } catch {
    return url.replace(/\/\/[^/?#@]*@/, '//').replace(/\?.*$/, '?…');
  }
}

async function webhook(input: Record<string, unknown>, env: ActionEnv): Promise<ActionResultData> {
  const url = String(input.url);
  if (!/^https?:\/\//.test(url)) throw new Error(`The webhook URL ${JSON.stringify(shownUrl(url))} is not an http:// or https:// URL.`);
  const where = shownUrl(url);
  const method = (input.method as string | undefined) ?? 'POST';
  const headers: Record<string, string> = { 'content-type': 'application/json', 'user-agent': 'heimdall-rules' };
  for (const [k, v] of Object.entries((input.headers as Record<string, unknown> | undefined) ?? {})) headers[k.toLowerCase()] = String(v);
  const timeoutMs = typeof input.timeoutMs === 'number' ? input.timeoutMs : env.webhookTimeoutMs;
  const hasBody = method !== 'GET';
  const body = hasBody ? JSON.stringify(input.body !== undefined ? input.body : firingContext(env)) : undefined;
  let res: Response;
  try {
    res = await env.fetch(url, { method, headers, ...(body !== undefined ? { body } : {}), signal: AbortSignal.timeout(timeoutMs) });
  } catch (err) {
    const e = err as Error;
    const why = e.name === 'TimeoutError' || e.name === 'AbortError' ? `no answer within ${timeoutMs} ms` : ((e.cause as Error | undefined)?.message ?? e.message);
    throw new Error(`The webhook ${method} ${where} failed: ${why}.`);
  }
  let text = '';
  try {
    text = await res.text();
  } catch {
    // the status decides; a body that cannot be read is left out
  }
  const snippet = text.length > MAX_BODY_CHARS ? `${text.slice(0, MAX_BODY_CHARS)}…` : text;
  if (res.status < 200 || res.status > 299) throw new Error(`The webhook ${method} ${where} answered HTTP ${res.status}${snippet ? `: ${snippet.slice(0, 200)}` : ''}.`);
  return { status: res.status, ...(snippet ? { body: snippet } : {}) };
}

async function log(input: Record<string, unknown>, env: ActionEnv): Promise<ActionResultData> {
  const level = (input.level as 'debug' | 'info' | 'warn' | 'error' | undefined) ?? 'info';
  env.ctx.log[level](String(input.message), { rule: env.rule, eventId: env.event.id });
  return { level };
}

const EXECUTORS: Record<ActionType, (input: Record<string, unknown>, env: ActionEnv) => Promise<ActionResultData>> = { notify, invoke, prompt, cypher, webhook, log };

/** Runs one attempt of an action with its rendered input. */
export function executeAction(type: ActionType, input: unknown, env: ActionEnv): Promise<ActionResultData> {
  return EXECUTORS[type]((input ?? {}) as Record<string, unknown>, env);
}

const SECRET_HEADER = /^(authorization|proxy-authorization|cookie|set-cookie|x-api-key|api-key)$|token|secret|password/i;

/** A copy of a rule definition fit to show: credential-like webhook header values redacted. */
export function redactDefinition<T>(definition: T): T {
  const d = structuredClone(definition) as { actions?: Array<Record<string, unknown>> };
  for (const a of d.actions ?? []) if (a && typeof a === 'object' && a.webhook) a.webhook = redactInput('webhook', a.webhook);
  return d as T;
}

/**
 * A copy of a rendered input fit to show (history, dry runs, the dead-letter list): the values of
 * webhook headers that look like credentials are replaced by "[redacted]".
 */
export function redactInput(type: ActionType, input: unknown): unknown {
  if (type !== 'webhook' || !input || typeof input !== 'object') return input;
  const i = input as Record<string, unknown>;
  if (!i.headers || typeof i.headers !== 'object') return input;
  const headers: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(i.headers as Record<string, unknown>)) headers[k] = SECRET_HEADER.test(k) ? '[redacted]' : v;
  return { ...i, headers };
}
