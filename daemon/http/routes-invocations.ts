/**
 * Invocation routes (under /v1, so behind the bearer token when one is set):
 *
 *   GET  /v1/invocations          recent invocations, newest first: ?plugin=&kind=&status=&limit=
 *   GET  /v1/invocations/{id}     one invocation with its result (404 once it left the history)
 *   POST /v1/invocations          queue an async invocation → 202 { invocationId, status, url }
 *        { "kind": "action", "name": "...", "params": {...} }
 *        { "kind": "prompt", "prompt": "...", "context"?, "model"?, "temperature"?, "maxSteps"? }
 *        { "kind": "raw_prompt", "prompt": "..." }
 *
 * An unknown action or invalid params (404/400), no model (503) and a full queue (503) are
 * answered at once instead of queueing an invocation that cannot succeed.
 */
import type { FastifyInstance } from 'fastify';
import type { PromptOptions } from '../../sdk/index.js';
import type { DaemonApi } from './daemon-api.js';
import type { InvocationFilter, InvocationKind, InvocationRequest, InvocationStatus } from '../invoker/invocation-store.js';
import { HttpError } from './errors.js';
import { ErrorCode } from '../../sdk/errors.js';

type Query = Record<string, string | string[] | undefined>;

const KINDS: readonly InvocationKind[] = ['action', 'prompt', 'raw_prompt'];
const STATUSES: readonly InvocationStatus[] = ['queued', 'running', 'succeeded', 'failed', 'rejected'];
const LIST_PARAMS = ['plugin', 'kind', 'status', 'limit'] as const;
const MAX_LIMIT = 1000;

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function bad(message: string, details?: unknown): HttpError {
  return new HttpError(400, ErrorCode.HMD_ERR_BAD_REQUEST, message, details);
}

function readFilter(q: Query): InvocationFilter {
  const unknown = Object.keys(q).filter((k) => !(LIST_PARAMS as readonly string[]).includes(k));
  if (unknown.length > 0) {
    throw bad(`GET /v1/invocations does not take the query parameter${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => `"${k}"`).join(', ')}; it takes ${LIST_PARAMS.join(', ')}.`, { unexpected: unknown, allowed: LIST_PARAMS });
  }
  const one = (name: string): string | undefined => {
    const v = q[name];
    if (Array.isArray(v)) throw bad(`The query parameter "${name}" was given ${v.length} times; give it once.`);
    return v === undefined || v === '' ? undefined : v;
  };
  const f: InvocationFilter = {};
  const plugin = one('plugin');
  if (plugin) f.plugin = plugin;
  const kind = one('kind');
  if (kind) {
    if (!(KINDS as readonly string[]).includes(kind)) throw bad(`kind=${kind} is not a kind of invocation; use one of ${KINDS.join(', ')}.`);
    f.kind = kind as InvocationKind;
  }
  const status = one('status');
  if (status) {
    if (!(STATUSES as readonly string[]).includes(status)) throw bad(`status=${status} is not a status; use one of ${STATUSES.join(', ')}.`);
    f.status = status as InvocationStatus;
  }
  const limit = one('limit');
  if (limit !== undefined) {
    const n = Number(limit);
    if (!/^\d+$/.test(limit) || n < 1 || n > MAX_LIMIT) throw bad(`limit=${limit} must be a whole number from 1 to ${MAX_LIMIT}.`);
    f.limit = n;
  }
  return f;
}

/** Reads and checks the body of POST /v1/invocations. */
export function readInvocationBody(body: unknown): InvocationRequest {
  const hint = 'send { "kind": "action", "name": "...", "params": {...} } or { "kind": "prompt", "prompt": "..." }.';
  if (!isPlainObject(body)) throw bad(`The body of POST /v1/invocations must be a JSON object; ${hint}`);
  const kind = body['kind'];
  const allowed: Record<InvocationKind, string[]> = {
    action: ['kind', 'name', 'params'],
    prompt: ['kind', 'prompt', 'context', 'model', 'temperature', 'maxSteps'],
    raw_prompt: ['kind', 'prompt'],
  };
  if (typeof kind !== 'string' || !(kind in allowed)) throw bad(`"kind" must be one of ${KINDS.join(', ')}; ${hint}`);
  const unknown = Object.keys(body).filter((k) => !allowed[kind as InvocationKind].includes(k));
  if (unknown.length > 0) {
    throw bad(`A ${kind} invocation does not take ${unknown.map((k) => `"${k}"`).join(', ')}; it takes ${allowed[kind as InvocationKind].join(', ')}.`, { unexpected: unknown });
  }
  if (kind === 'action') {
    const name = body['name'];
    if (typeof name !== 'string' || name === '') throw bad('"name" must be the full action name, e.g. heimdall.audit.remediate; GET /v1/actions lists them.');
    const params = body['params'];
    if (params !== undefined && params !== null && !isPlainObject(params)) throw bad('"params" must be a JSON object with the action\'s parameters.');
    return { kind: 'action', name, ...(isPlainObject(params) ? { params } : {}) };
  }
  const prompt = body['prompt'];
  if (typeof prompt !== 'string' || prompt.trim() === '') throw bad(`"prompt" must be a non-empty string; ${hint}`);
  if (kind === 'raw_prompt') return { kind: 'raw_prompt', prompt };
  const opts: PromptOptions = {};
  if (body['context'] !== undefined) opts.context = body['context'];
  const { model, temperature, maxSteps } = body;
  if (model !== undefined) {
    if (typeof model !== 'string' || model === '') throw bad('"model" must be a non-empty string naming the model to use.');
    opts.model = model;
  }
  if (temperature !== undefined) {
    if (typeof temperature !== 'number' || !Number.isFinite(temperature) || temperature < 0) throw bad('"temperature" must be a number of at least 0.');
    opts.temperature = temperature;
  }
  if (maxSteps !== undefined) {
    if (typeof maxSteps !== 'number' || !Number.isInteger(maxSteps) || maxSteps < 1) throw bad('"maxSteps" must be a whole number of at least 1.');
    opts.maxSteps = maxSteps;
  }
  return { kind: 'prompt', prompt, opts };
}

export function registerInvocationRoutes(app: FastifyInstance, api: DaemonApi): void {
  const inv = api.invocations;
  if (!inv) return;

  app.get('/v1/invocations', async (request) => {
    const filter = readFilter(request.query as Query);
    return { invocations: inv.list(filter) };
  });

  app.get<{ Params: { id: string } }>('/v1/invocations/:id', async (request) => {
    const r = inv.get(request.params.id);
    if (!r) {
      throw new HttpError(404, ErrorCode.HMD_ERR_NOT_FOUND,
        `No invocation with id ${request.params.id} is in the history; it never existed or is older than the last invoker.historySize invocations. GET /v1/invocations lists the recent ones.`,
        { id: request.params.id });
    }
    return r;
  });

  app.post('/v1/invocations', async (request, reply) => {
    const req = readInvocationBody(request.body);
    const rec = inv.submit(req);
    reply.code(202);
    return { invocationId: rec.id, status: rec.status, url: `/v1/invocations/${rec.id}` };
  });
}
