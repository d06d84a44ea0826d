/**
 * Where a replay starts: `Last-Event-ID` or `?since=`. Accepted forms:
 *
 *   42              after message id 42 of the current run
 *   lx9k2a1f-42     after message 42 of the run with that epoch (the SSE `id:` form); another epoch
 *                   means the daemon restarted since, which the stream reports as a gap
 *   10m, 30s, 2h    the messages of the last 10 minutes (ms, s, m, h, d)
 *   2024-05-01T12:00:00Z   the messages at or after that time (ISO 8601)
 */

export type SincePoint =
  | { kind: 'id'; id: number; epoch?: string }
  | { kind: 'time'; at: number };

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

export const SINCE_FORMS = 'a message id (42), an SSE id (epoch-42), a duration (30s, 10m, 2h, 1d) or an ISO 8601 time';

/** Parses a since value; undefined with a sentence when it is none of the accepted forms. */
export function parseSince(raw: string, now = Date.now()): { ok: true; since: SincePoint } | { ok: false; message: string } {
  const v = raw.trim();
  if (/^\d+$/.test(v)) {
    const id = Number(v);
    if (!Number.isSafeInteger(id)) return { ok: false, message: `since "${raw}" is too large to be a message id.` };
    return { ok: true, since: { kind: 'id', id } };
  }
  if (/^\d{4}-\d{2}-\d{2}([T ].*)?$/.test(v)) {
    const at = Date.parse(v);
    if (Number.isNaN(at)) return { ok: false, message: `since "${raw}" looks like a date but is not a valid ISO 8601 time; write e.g. 2024-05-01T12:00:00Z.` };
    return { ok: true, since: { kind: 'time', at } };
  }
  const d = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(v);
  if (d) return { ok: true, since: { kind: 'time', at: now - Number(d[1]) * UNIT_MS[d[2]!]! } };
  const e = /^([0-9a-z]{4,})-(\d+)$/.exec(v);
  if (e) {
    const id = Number(e[2]);
    if (Number.isSafeInteger(id)) return { ok: true, since: { kind: 'id', id, epoch: e[1]! } };
  }
  return { ok: false, message: `since "${raw}" is not ${SINCE_FORMS}.` };
}

/** The SSE `id:` of a message: the run's epoch and the message id. */
export function sseId(epoch: string, id: number): string {
  return `${epoch}-${id}`;
}
