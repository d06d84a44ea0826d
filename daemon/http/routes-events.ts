/**
 * POST /v1/events: the HTTP source. Accepts one event object or an array (application/json), or
 * NDJSON (application/x-ndjson or application/ndjson, one event per line, blank lines ignored).
 *
 * Answer: 200 `{ accepted, rejected: [{ index, line?, id?, reason }], rejectedCount, ids }` when at
 * least one event was accepted (or the batch was empty); 400 HMD_ERR_INVALID_EVENT with that same
 * object in `error.details` when every event was rejected. `index` counts items in request order
 * (for NDJSON: non-blank lines); `line` is the 1-based NDJSON line. At most 1000 rejections are
 * listed; `rejectedCount` is always the full count. While the daemon drains or stops, a batch with
 * nothing accepted is a 503 HMD_ERR_SHUTTING_DOWN instead (same details). While it starts, events
 * are held and delivered once the plugins are up (200, accepted); past the start-up buffer a batch
 * with nothing accepted is a 503 HMD_ERR_NOT_READY with Retry-After, never a 400.
 *
 * Large bodies are parsed and ingested in chunks with a yield to the event loop between them, so
 * /healthz and the workers' replies are served while a 10 MiB batch goes in.
 */
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import type { FastifyInstance } from 'fastify';
import type { DaemonApi } from './daemon-api.js';
import { NdjsonBody, NdjsonReader, installNdjsonParser } from './body.js';
import { EVENT_TYPES_ACCEPTED, HttpError } from './errors.js';
import { sendNotReady } from './not-ready.js';
import { STARTING_REASON } from '../sources/http-source.js';

const STARTING_PREFIX = STARTING_REASON.slice(0, 30);
import { ErrorCode } from '../../sdk/errors.js';

/** Items handed to `api.ingest` at a time. */
export const INGEST_CHUNK = 1024;
/** Most rejections listed in one answer. */
export const MAX_REJECTIONS_LISTED = 1000;

export interface EventRejection {
  index: number;
  line?: number;
  id?: string;
  reason: string;
}

export interface EventsAnswer {
  accepted: number;
  rejected: EventRejection[];
  rejectedCount: number;
  ids: string[];
}

class AnswerBuilder {
  readonly answer: EventsAnswer = { accepted: 0, rejected: [], rejectedCount: 0, ids: [] };
  reject(r: EventRejection): void {
    this.answer.rejectedCount++;
    if (this.answer.rejected.length < MAX_REJECTIONS_LISTED) this.answer.rejected.push(r);
  }
  /** Ingests `items`; `indexOf[i]`/`lineOf[i]` give each item's place in the request. */
  ingest(api: DaemonApi, items: unknown[], indexOf: (i: number) => number, lineOf?: (i: number) => number, texts?: string[]): void {
    if (items.length === 0) return;
    let result;
    try {
      result = api.ingest(items, 'http', texts);
    } catch (err) {
      // Nothing of this request is in yet: let the error handler answer. Otherwise report the rest.
      if (this.answer.accepted === 0 && this.answer.rejectedCount === 0) throw err;
      const reason = `The daemon stopped taking events part-way through the request: ${(err as Error).message}`;
      for (let i = 0; i < items.length; i++) this.reject(withLine({ index: indexOf(i), reason }, lineOf?.(i)));
      return;
    }
    this.answer.accepted += result.accepted;
    for (const id of result.ids) this.answer.ids.push(id);
    for (const r of result.rejected) {
      const rej: EventRejection = { index: indexOf(r.index), reason: r.reason };
      if (r.id !== undefined) rej.id = r.id;
      this.reject(withLine(rej, lineOf?.(r.index)));
    }
  }
}

function withLine(r: EventRejection, line: number | undefined): EventRejection {
  if (line === undefined) return r;
  // Keep `line` next to `index` in the JSON for readability.
  const { index, ...rest } = r;
  return { index, line, ...rest };
}

/** Ingests an NDJSON text chunk by chunk. Lines that are not JSON are rejected on their own. */
export async function ingestNdjson(api: DaemonApi, text: string): Promise<EventsAnswer> {
  const b = new AnswerBuilder();
  const reader = new NdjsonReader(text);
  let index = 0;
  let first = true;
  while (!reader.done) {
    if (!first) await yieldToLoop();
    first = false;
    const chunk = reader.next(INGEST_CHUNK);
    const items: unknown[] = [];
    const texts: string[] = [];
    const indexes: number[] = [];
    const lines: number[] = [];
    for (const item of chunk) {
      if (item.ok) {
        items.push(item.value);
        texts.push(item.text);
        indexes.push(index);
        lines.push(item.line);
      } else {
        // Keep rejections in request order: ingest what came before this line first.
        b.ingest(api, items.splice(0), (i) => indexes[i]!, (i) => lines[i]!, texts.splice(0));
        indexes.length = 0;
        lines.length = 0;
        b.reject({ index, line: item.line, reason: item.reason });
      }
      index++;
    }
    b.ingest(api, items, (i) => indexes[i]!, (i) => lines[i]!, texts);
  }
  return b.answer;
}

/** Ingests one event object or an array of them, chunk by chunk. */
export async function ingestJson(api: DaemonApi, body: unknown): Promise<EventsAnswer> {
  if (body === undefined) {
    throw new HttpError(400, ErrorCode.HMD_ERR_BAD_REQUEST,
      'The request body is empty; send one event object, a JSON array of events, or NDJSON (one event per line).');
  }
  const items = Array.isArray(body) ? body : typeof body === 'object' && body !== null ? [body] : undefined;
  if (items === undefined) {
    throw new HttpError(400, ErrorCode.HMD_ERR_BAD_REQUEST,
      `The request body is a JSON ${body === null ? 'null' : typeof body}; send one event object or a JSON array of events.`);
  }
  const b = new AnswerBuilder();
  for (let start = 0; start < items.length; start += INGEST_CHUNK) {
    if (start > 0) await yieldToLoop();
    b.ingest(api, items.slice(start, start + INGEST_CHUNK), (i) => start + i);
  }
  return b.answer;
}

export function registerEventRoutes(app: FastifyInstance, api: DaemonApi, bodyLimit: number): void {
  // An encapsulated context: the NDJSON parser exists only here, other routes answer 415 for it.
  void app.register(async (scope) => {
    installNdjsonParser(scope, bodyLimit);
    scope.post('/v1/events', { config: { accepts: EVENT_TYPES_ACCEPTED } }, async (request, reply) => {
      const answer = request.body instanceof NdjsonBody
        ? await ingestNdjson(api, request.body.text)
        : await ingestJson(api, request.body);
      const total = answer.accepted + answer.rejectedCount;
      if (total > 0 && answer.accepted === 0) {
        const state = api.status().state;
        // Some were refused only because the daemon is starting: not ready, try again (never a 400).
        if (state === 'starting' && answer.rejected.some((r) => r.reason.startsWith(STARTING_PREFIX))) {
          return sendNotReady(reply, `Heimdall is starting and could not hold ${total === 1 ? 'the event' : `the ${total} events`} until its plugins are up; send ${total === 1 ? 'it' : 'them'} again after Retry-After (or once /readyz answers 200).`, answer);
        }
        if (state === 'draining' || state === 'stopped') {
          throw new HttpError(503, ErrorCode.HMD_ERR_SHUTTING_DOWN,
            `Heimdall is ${state} and accepts no new events; send them again once it has restarted.`, answer);
        }
        const first = answer.rejected[0]?.reason ?? 'no reason given';
        throw new HttpError(400, ErrorCode.HMD_ERR_INVALID_EVENT,
          `None of the ${total} event${total > 1 ? 's' : ''} in the request was accepted; ` +
          `the first problem: ${first.replace(/\.$/, '')}. error.details.rejected lists every item.`,
          answer);
      }
      return answer;
    });
  });
}
