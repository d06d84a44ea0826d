/**
 * Bifrost routes (all under /v1, so behind the bearer token when one is set):
 *
 *   GET  /v1/bifrost/stream          SSE; Last-Event-ID or ?since= replay, ?last=N, filters
 *   GET  /v1/bifrost/notifications   polling: ?since=&limit=&level=&plugin=&kind=
 *   GET  /v1/bifrost/status          counters of the bus, the stream clients, the sinks
 *   GET  /v1/confirmations           pending confirmation requests
 *   GET  /v1/confirmations/{id}      one request, pending or settled
 *   POST /v1/confirmations/{id}      { approve: true|false, reason? }
 *
 * Filters: level=<lowest level> (info < success < warning < error), plugin=a,b ('daemon' for the
 * daemon's own notices), kind=notification,confirmation_request. Query parameters are checked
 * before the stream starts, so a mistake is a 400 with a sentence, never a broken stream. A since
 * id past the newest message of this run (not a restart: that needs another epoch) is such a
 * mistake: 400 saying what the newest id is.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { DaemonApi } from './daemon-api.js';
import { parseFilter, type BifrostFilter } from '../bifrost/filter.js';
import { parseSince, SINCE_FORMS, type SincePoint } from '../bifrost/since.js';
import type { BifrostApi } from '../bifrost/types.js';
import { HttpError } from './errors.js';
import { ErrorCode } from '../../sdk/errors.js';

type Query = Record<string, string | string[] | undefined>;

const STREAM_PARAMS = ['since', 'last', 'level', 'plugin', 'kind'] as const;
const POLL_PARAMS = ['since', 'limit', 'level', 'plugin', 'kind'] as const;
const DEFAULT_POLL_LIMIT = 100;

function refuseUnknownParams(q: Query, allowed: readonly string[], route: string): void {
  const unknown = Object.keys(q).filter((k) => !allowed.includes(k));
  if (unknown.length > 0) {
    throw new HttpError(400, ErrorCode.HMD_ERR_BAD_REQUEST,
      `${route} does not take the query parameter${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => `"${k}"`).join(', ')}; it takes ${allowed.join(', ')}.`,
      { unexpected: unknown, allowed });
  }
}

function single(q: Query, name: string): string | undefined {
  const v = q[name];
  if (Array.isArray(v)) {
    throw new HttpError(400, ErrorCode.HMD_ERR_BAD_REQUEST, `The query parameter "${name}" was given ${v.length} times; give it once.`);
  }
  return v === '' ? undefined : v;
}

function filterOf(q: Query): BifrostFilter {
  const f = parseFilter({ level: q.level, plugin: q.plugin, kind: q.kind });
  if (!f.ok) throw new HttpError(400, ErrorCode.HMD_ERR_BAD_REQUEST, `The query parameter ${f.message}`);
  return f.filter;
}

function sinceOf(raw: string | undefined, from: string): { since: SincePoint; text: string } | undefined {
  if (raw === undefined) return undefined;
  const s = parseSince(raw);
  if (!s.ok) throw new HttpError(400, ErrorCode.HMD_ERR_BAD_REQUEST, `${from} "${raw}" is not ${SINCE_FORMS}.`, { [from]: raw });
  return { since: s.since, text: raw };
}

/** A since id this run has not reached yet is a 400 (it is not a restart). */
function refuseAhead(bifrost: BifrostApi, since: { since: SincePoint; text: string } | undefined, from: string): void {
  if (!since || since.since.kind !== 'id') return;
  const r = bifrost.query({ since: since.since, sinceText: since.text, limit: 1 });
  if (r.ahead) throw new HttpError(400, ErrorCode.HMD_ERR_BAD_REQUEST, `${from} ${r.ahead}`, { [from]: since.text, lastId: r.lastId, epoch: r.epoch });
}

function positiveInt(raw: string | undefined, name: string, max: number): number | undefined {
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(n) || n < 1) {
    throw new HttpError(400, ErrorCode.HMD_ERR_BAD_REQUEST, `The query parameter "${name}" must be a whole number of at least 1, not "${raw}".`);
  }
  return Math.min(n, max);
}

function readAnswerBody(body: unknown): { approve: boolean; reason?: string } {
  const hint = 'send { "approve": true } or { "approve": false, "reason": "why" }.';
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new HttpError(400, ErrorCode.HMD_ERR_BAD_REQUEST, `The body of POST /v1/confirmations/{id} must be a JSON object; ${hint}`);
  }
  const b = body as Record<string, unknown>;
  const unknown = Object.keys(b).filter((k) => k !== 'approve' && k !== 'reason');
  if (unknown.length > 0) {
    throw new HttpError(400, ErrorCode.HMD_ERR_BAD_REQUEST, `The body of POST /v1/confirmations/{id} has unexpected field${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => `"${k}"`).join(', ')}; ${hint}`);
  }
  if (typeof b.approve !== 'boolean') {
    throw new HttpError(400, ErrorCode.HMD_ERR_BAD_REQUEST, `"approve" must be true or false${b.approve === undefined ? ' and is missing' : `, not ${JSON.stringify(b.approve)}`}; ${hint}`);
  }
  if (b.reason !== undefined && (typeof b.reason !== 'string' || b.reason.length > 2000)) {
    throw new HttpError(400, ErrorCode.HMD_ERR_BAD_REQUEST, `"reason" must be a string of at most 2000 characters; ${hint}`);
  }
  return { approve: b.approve, ...(typeof b.reason === 'string' && b.reason.trim() !== '' ? { reason: b.reason.trim() } : {}) };
}

function lastEventId(request: FastifyRequest): string | undefined {
  const h = request.headers['last-event-id'];
  const v = Array.isArray(h) ? h[h.length - 1] : h;
  return v === undefined || v.trim() === '' ? undefined : v.trim();
}

export function registerBifrostRoutes(app: FastifyInstance, api: DaemonApi): void {
  const bifrost: BifrostApi | undefined = api.bifrost;
  if (!bifrost) return;

  // End every stream before the server waits for its connections to finish.
  app.addHook('preClose', (done) => {
    bifrost.closeStreams();
    done();
  });

  app.get('/v1/bifrost/stream', async (request, reply) => {
    const q = request.query as Query;
    refuseUnknownParams(q, STREAM_PARAMS, 'GET /v1/bifrost/stream');
    const filter = filterOf(q);
    const header = lastEventId(request);
    // Last-Event-ID (a reconnect) wins over ?since= (the first connect).
    const since = header !== undefined ? sinceOf(header, 'Last-Event-ID') : sinceOf(single(q, 'since'), 'since');
    refuseAhead(bifrost, since, header !== undefined ? 'Last-Event-ID' : 'since');
    const last = positiveInt(single(q, 'last'), 'last', bifrost.bufferSize);
    const refusal = bifrost.streamRefusal();
    if (refusal) throw new HttpError(refusal.status, refusal.code, refusal.message);
    // HEAD (fastify adds it for every GET) checks the route without opening a stream that never ends.
    if (request.method === 'HEAD') return reply.code(200).header('content-type', 'text/event-stream; charset=utf-8').send();
    reply.hijack();
    bifrost.openStream(reply.raw, {
      ...(since ? { since: since.since, sinceText: since.text } : {}),
      filter,
      ...(last ? { last } : {}),
      remote: request.ip,
    });
  });

  app.get('/v1/bifrost/notifications', async (request) => {
    const q = request.query as Query;
    refuseUnknownParams(q, POLL_PARAMS, 'GET /v1/bifrost/notifications');
    const filter = filterOf(q);
    const since = sinceOf(single(q, 'since'), 'since');
    refuseAhead(bifrost, since, 'since');
    const limit = positiveInt(single(q, 'limit'), 'limit', bifrost.bufferSize) ?? Math.min(DEFAULT_POLL_LIMIT, bifrost.bufferSize);
    const r = bifrost.query({ ...(since ? { since: since.since, sinceText: since.text } : {}), filter, limit });
    return { messages: r.messages, ...(r.gap ? { gap: r.gap } : {}), more: r.more, next: r.next, epoch: r.epoch, lastId: r.lastId, oldestId: r.oldestId };
  });

  app.get('/v1/bifrost/status', async () => bifrost.stats());

  app.get('/v1/confirmations', async () => ({ confirmations: bifrost.listConfirmations() }));

  app.get<{ Params: { id: string } }>('/v1/confirmations/:id', async (request) => {
    const c = bifrost.getConfirmation(request.params.id);
    if (!c) {
      throw new HttpError(404, ErrorCode.HMD_ERR_NOT_FOUND,
        `There is no confirmation request with id ${request.params.id}. GET /v1/confirmations (\`heimdall confirmations\`) lists the pending ones; ids do not survive a daemon restart.`,
        { id: request.params.id });
    }
    return c;
  });

  app.post<{ Params: { id: string } }>('/v1/confirmations/:id', async (request) => {
    const { approve, reason } = readAnswerBody(request.body);
    return bifrost.answerConfirmation(request.params.id, approve, reason);
  });
}
