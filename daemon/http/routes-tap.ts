/**
 * GET /v1/events/stream: the event tap (daemon/tap/event-tap.ts) — Server-Sent Events of what the
 * sources emit, before any plugin. Under /v1, so behind the bearer token when one is set.
 *
 *   ?type=node.created,relationship.*   exact types or families (comma-separated)
 *   ?label=Person                       a node label or relationship type
 *   ?plugin=security                    what that plugin would receive (its subscription, its own writes)
 *   ?sample=10                          1 in N of the events that pass the other filters
 *
 * Parameters are checked before the stream starts: a mistake is a 400 with a sentence.
 */
import type { FastifyInstance } from 'fastify';
import type { DaemonApi } from './daemon-api.js';
import { HttpError } from './errors.js';
import { ErrorCode } from '../../sdk/errors.js';
import { parseTypes, type TapFilter } from '../tap/tap-filter.js';

type Query = Record<string, string | string[] | undefined>;
const PARAMS = ['type', 'label', 'plugin', 'sample'] as const;

function bad(message: string, details?: unknown): HttpError {
  return new HttpError(400, ErrorCode.HMD_ERR_BAD_REQUEST, message, details);
}

function one(q: Query, name: string): string | undefined {
  const v = q[name];
  if (Array.isArray(v)) return v.join(',');
  return v === undefined || v === '' ? undefined : v;
}

export function registerTapRoutes(app: FastifyInstance, api: DaemonApi): void {
  const tap = api.eventTap;
  if (!tap) return;
  app.addHook('preClose', (done) => {
    tap.close();
    done();
  });

  app.get('/v1/events/stream', async (request, reply) => {
    const q = request.query as Query;
    const unknown = Object.keys(q).filter((k) => !(PARAMS as readonly string[]).includes(k));
    if (unknown.length > 0) throw bad(`GET /v1/events/stream does not take ${unknown.map((k) => `"${k}"`).join(', ')}; it takes ${PARAMS.join(', ')}.`, { unexpected: unknown, allowed: PARAMS });
    const filter: TapFilter = {};
    const description: Record<string, unknown> = {};
    const type = one(q, 'type');
    if (type !== undefined) {
      const t = parseTypes(type);
      if (!t.ok) throw bad(`type=${type}: ${t.message}.`);
      filter.types = t.types;
      description['type'] = t.types;
    }
    const label = one(q, 'label');
    if (label !== undefined) {
      filter.label = label;
      description['label'] = label;
    }
    const plugin = one(q, 'plugin');
    if (plugin !== undefined) {
      const target = tap.target(plugin);
      if (!target) throw new HttpError(404, ErrorCode.HMD_ERR_NOT_FOUND, `No plugin is named ${plugin}; the plugins are ${tap.targetNames().join(', ') || '(none)'}.`, { plugin });
      filter.plugin = target;
      description['plugin'] = plugin;
    }
    const sample = one(q, 'sample');
    if (sample !== undefined) {
      const n = Number(sample);
      if (!/^\d+$/.test(sample) || n < 1 || !Number.isSafeInteger(n)) throw bad(`sample=${sample} must be a whole number of at least 1 (1 in N events).`);
      filter.sample = n;
      description['sample'] = n;
    }
    const refusal = tap.refusal();
    if (refusal) throw new HttpError(refusal.status, refusal.code, refusal.message);
    if (request.method === 'HEAD') return reply.code(200).header('content-type', 'text/event-stream; charset=utf-8').send();
    reply.hijack();
    tap.open(reply.raw, { ...filter, description }, request.ip);
  });
}
