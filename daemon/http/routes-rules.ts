/**
 * Rules and dead-letter routes (under /v1, so behind the bearer token when one is set), on top of
 * the rules plugin's actions through {@link RulesApi}:
 *
 *   GET  /v1/rules                      every rule with its state and counts; the invalid ones with their problems
 *   GET  /v1/rules/{name}               definition, state, live gates, statistics
 *   POST /v1/rules/{name}/pause|resume  → { name, state, changed, message }
 *   POST /v1/rules/{name}/test          { "event": {...} } → dry run (matches, why not, rendered actions); runs nothing
 *   GET  /v1/rules/{name}/history       ?limit= → { firings } newest first
 *   GET  /v1/dead-letters               ?rule=&limit= → { count, max, …, entries }
 *   POST /v1/dead-letters/{id}/retry    → { success, message, id, removed, attempts, … } (200 also when it failed again)
 *
 * 404 for an unknown rule or dead letter, 400 for a test event that is not an event, 409 for
 * pausing a rule that is disabled in its definition, 503 while the rules plugin is not running.
 *
 *   POST /v1/reload                     re-read the config and rule files → the ReloadReport; 400 with every problem when invalid
 */
import type { FastifyInstance } from 'fastify';
import { ErrorCode } from '../../sdk/errors.js';
import type { DaemonApi } from './daemon-api.js';
import { HttpError } from './errors.js';

type Query = Record<string, string | string[] | undefined>;

const bad = (message: string, details?: unknown): HttpError => new HttpError(400, ErrorCode.HMD_ERR_BAD_REQUEST, message, details);

/** Reads the allowed query parameters once each; `limit` as a whole number from 1 to 10000. */
function readQuery(route: string, q: Query, allowed: readonly string[]): { rule?: string; limit?: number } {
  const unknown = Object.keys(q).filter((k) => !allowed.includes(k));
  if (unknown.length > 0) {
    throw bad(`${route} does not take the query parameter${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => `"${k}"`).join(', ')}; it takes ${allowed.join(', ')}.`, { unexpected: unknown, allowed });
  }
  const out: { rule?: string; limit?: number } = {};
  for (const k of allowed) {
    const v = q[k];
    if (v === undefined || v === '') continue;
    if (Array.isArray(v)) throw bad(`The query parameter "${k}" was given ${v.length} times; give it once.`);
    if (k === 'limit') {
      if (!/^\d+$/.test(v) || Number(v) < 1 || Number(v) > 10_000) throw bad(`limit=${v} must be a whole number from 1 to 10000.`);
      out.limit = Number(v);
    } else out.rule = v;
  }
  return out;
}

/** A POST without a body, or with an empty JSON object. */
export function noBody(body: unknown, route: string): void {
  if (body === undefined || body === null) return;
  if (typeof body === 'object' && !Array.isArray(body) && Object.keys(body).length === 0) return;
  throw bad(`${route} takes no body; send none, or {}.`);
}

function readTestBody(body: unknown): unknown {
  const hint = 'send { "event": { "type": "node.updated", "properties": { ... } } }.';
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw bad(`The body of POST /v1/rules/{name}/test must be a JSON object; ${hint}`);
  const unknown = Object.keys(body).filter((k) => k !== 'event');
  if (unknown.length > 0) throw bad(`The body of POST /v1/rules/{name}/test has unexpected field${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => `"${k}"`).join(', ')}; ${hint}`, { unexpected: unknown });
  if (!('event' in body)) throw bad(`The body of POST /v1/rules/{name}/test needs "event"; ${hint}`);
  return (body as { event: unknown }).event;
}

export function registerRuleRoutes(app: FastifyInstance, api: DaemonApi): void {
  const rules = api.rules;
  if (!rules) return;
  type Named = { Params: { name: string } };

  app.get('/v1/rules', async (request) => {
    readQuery('GET /v1/rules', request.query as Query, []);
    return rules.list();
  });
  app.get<Named>('/v1/rules/:name', async (request) => rules.show(request.params.name));
  app.post<Named>('/v1/rules/:name/pause', async (request) => {
    noBody(request.body, 'POST /v1/rules/{name}/pause');
    return rules.pause(request.params.name);
  });
  app.post<Named>('/v1/rules/:name/resume', async (request) => {
    noBody(request.body, 'POST /v1/rules/{name}/resume');
    return rules.resume(request.params.name);
  });
  app.post<Named>('/v1/rules/:name/test', async (request) => rules.test(request.params.name, readTestBody(request.body)));
  app.get<Named>('/v1/rules/:name/history', async (request) => {
    const { limit } = readQuery('GET /v1/rules/{name}/history', request.query as Query, ['limit']);
    return rules.history(request.params.name, limit);
  });

  app.get('/v1/dead-letters', async (request) => rules.deadLetters(readQuery('GET /v1/dead-letters', request.query as Query, ['rule', 'limit'])));
  app.post<{ Params: { id: string } }>('/v1/dead-letters/:id/retry', async (request) => {
    noBody(request.body, 'POST /v1/dead-letters/{id}/retry');
    return rules.retryDeadLetter(request.params.id);
  });
}

/** POST /v1/reload: re-read the config file and the rule files; 400 with every problem when the new config is invalid. */
export function registerReloadRoute(app: FastifyInstance, api: DaemonApi): void {
  const reloader = api.reload;
  if (!reloader) return;
  app.post('/v1/reload', async (request) => {
    noBody(request.body, 'POST /v1/reload');
    return reloader.reload('POST /v1/reload');
  });
}
