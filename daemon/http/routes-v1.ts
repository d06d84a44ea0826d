/**
 * The /v1 read and invoke routes: status, plugins, actions, action invocation and prompts.
 * Every route here is behind the bearer token when `server.token` is set (see auth.ts).
 * Bodies are checked by hand so that a mistake is answered with a sentence, not a schema path.
 */
import type { FastifyInstance } from 'fastify';
import type { PromptOptions } from '../../sdk/index.js';
import type { DaemonApi } from './daemon-api.js';
import { HttpError } from './errors.js';
import { ErrorCode } from '../../sdk/errors.js';

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

function refuseUnknownKeys(body: Record<string, unknown>, allowed: readonly string[], route: string, hint: string): void {
  const unknown = Object.keys(body).filter((k) => !allowed.includes(k));
  if (unknown.length > 0) {
    throw new HttpError(400, ErrorCode.HMD_ERR_BAD_REQUEST,
      `The body of ${route} has unexpected field${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => `"${k}"`).join(', ')}; ${hint}`,
      { unexpected: unknown, allowed });
  }
}

/** Reads `{ params }` of an invocation; an empty body means no params. */
export function readInvokeBody(body: unknown): Record<string, unknown> | undefined {
  const hint = 'send { "params": { ... } } with the action\'s parameters inside "params".';
  if (body === undefined || body === null) return undefined;
  if (!isPlainObject(body)) {
    throw new HttpError(400, ErrorCode.HMD_ERR_BAD_REQUEST, `The body of POST /v1/actions/{name}/invoke must be a JSON object; ${hint}`);
  }
  refuseUnknownKeys(body, ['params'], 'POST /v1/actions/{name}/invoke', hint);
  const params = body.params;
  if (params === undefined || params === null) return undefined;
  if (!isPlainObject(params)) {
    throw new HttpError(400, ErrorCode.HMD_ERR_BAD_REQUEST, `"params" must be a JSON object, not ${Array.isArray(params) ? 'an array' : typeof params}; ${hint}`);
  }
  return params;
}

/** Reads `{ prompt, context?, model?, temperature?, maxSteps?, async? }`. */
export function readPromptBody(body: unknown): { prompt: string; opts: PromptOptions; async: boolean } {
  const hint = 'send { "prompt": "...", "context": <optional JSON>, "async": <optional true> }.';
  if (!isPlainObject(body)) {
    throw new HttpError(400, ErrorCode.HMD_ERR_BAD_REQUEST, `The body of POST /v1/prompt must be a JSON object; ${hint}`);
  }
  refuseUnknownKeys(body, ['prompt', 'context', 'model', 'temperature', 'maxSteps', 'async'], 'POST /v1/prompt', hint);
  const { prompt, context, model, temperature, maxSteps } = body;
  if (body['async'] !== undefined && typeof body['async'] !== 'boolean') {
    throw new HttpError(400, ErrorCode.HMD_ERR_BAD_REQUEST, `"async" must be true or false; ${hint}`);
  }
  if (typeof prompt !== 'string' || prompt.trim() === '') {
    throw new HttpError(400, ErrorCode.HMD_ERR_BAD_REQUEST, `"prompt" must be a non-empty string; ${hint}`);
  }
  const opts: PromptOptions = {};
  if (context !== undefined) opts.context = context;
  if (model !== undefined) {
    if (typeof model !== 'string' || model === '') throw new HttpError(400, ErrorCode.HMD_ERR_BAD_REQUEST, '"model" must be a non-empty string naming the model to use.');
    opts.model = model;
  }
  if (temperature !== undefined) {
    if (typeof temperature !== 'number' || !Number.isFinite(temperature) || temperature < 0) {
      throw new HttpError(400, ErrorCode.HMD_ERR_BAD_REQUEST, '"temperature" must be a number of at least 0.');
    }
    opts.temperature = temperature;
  }
  if (maxSteps !== undefined) {
    if (typeof maxSteps !== 'number' || !Number.isInteger(maxSteps) || maxSteps < 1) {
      throw new HttpError(400, ErrorCode.HMD_ERR_BAD_REQUEST, '"maxSteps" must be a whole number of at least 1.');
    }
    opts.maxSteps = maxSteps;
  }
  return { prompt, opts, async: body['async'] === true };
}

export function registerV1Routes(app: FastifyInstance, api: DaemonApi): void {
  app.get('/v1/status', async () => api.status());
  app.get('/v1/plugins', async () => ({ plugins: api.plugins() }));
  app.get('/v1/actions', async () => ({ actions: api.actions() }));

  app.post<{ Params: { name: string } }>('/v1/actions/:name/invoke', async (request) => {
    const name = request.params.name;
    if (name === '') {
      throw new HttpError(400, ErrorCode.HMD_ERR_BAD_REQUEST, 'The action name in POST /v1/actions/{name}/invoke is empty; GET /v1/actions lists the names.');
    }
    const params = readInvokeBody(request.body);
    // An ActionResult with success:false is still a 200: the call worked, the action said no.
    return api.invokeAction(name, params, { kind: 'operator' });
  });

  app.post('/v1/prompt', async (request, reply) => {
    const { prompt, opts, async } = readPromptBody(request.body);
    if (async && api.invocations) {
      // as POST /v1/invocations { kind: prompt }: queued, answered with the id at once
      const rec = api.invocations.submit({ kind: 'prompt', prompt, opts });
      reply.code(202);
      return { invocationId: rec.id, status: rec.status, url: `/v1/invocations/${rec.id}` };
    }
    return api.prompt(prompt, opts);
  });
}
