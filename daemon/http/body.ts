/**
 * Request bodies: the JSON and NDJSON content-type parsers and the line splitter of NDJSON.
 *
 * Both parsers read the body as one string under `server.bodyLimitBytes` (fastify enforces the
 * limit while reading and answers 413). JSON.parse is the only per-line work on the NDJSON path.
 * Bodies that could carry a `__proto__` key (spelled out or with \u escapes) go through a slower
 * reviver that refuses it, so no parsed object can poison a prototype further down.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { HttpError } from './errors.js';
import { ErrorCode } from '../../sdk/errors.js';

/** Media types of NDJSON. Both spellings are in use. */
export const NDJSON_TYPES = ['application/x-ndjson', 'application/ndjson'] as const;

/** What the NDJSON parser hands to the route: the raw text, split lazily in chunks. */
export class NdjsonBody {
  constructor(readonly text: string) {}
}

/** True when the text might hold a `__proto__` key and needs the safe (slower) parse. */
export function needsSafeParse(text: string): boolean {
  return text.includes('__proto__') || text.includes('\\u');
}

function refuseProto(key: string, value: unknown): unknown {
  if (key === '__proto__') throw new SyntaxError('the key "__proto__" is not allowed');
  return value;
}

/** JSON.parse, with the `__proto__` guard when `safe`. */
export function parseJson(text: string, safe: boolean): unknown {
  return safe ? JSON.parse(text, refuseProto) : JSON.parse(text);
}

function syntaxMessage(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  return msg.replace(/\.$/, '');
}

/** One item found in an NDJSON body: a parsed value, or the reason its line is not JSON. */
export type NdjsonItem = { ok: true; value: unknown; text: string; line: number } | { ok: false; reason: string; line: number };

/**
 * Walks an NDJSON text in chunks of at most `max` non-blank lines, so that the caller can yield
 * to the event loop between chunks. Blank lines are skipped; `line` numbers are 1-based.
 */
export class NdjsonReader {
  private pos = 0;
  private lineNo = 0;
  private readonly safe: boolean;
  constructor(private readonly text: string) {
    this.safe = needsSafeParse(text);
    // A byte-order mark (editors on Windows write one) is not part of the first line.
    if (text.charCodeAt(0) === 0xfeff) this.pos = 1;
  }

  get done(): boolean {
    return this.pos >= this.text.length;
  }

  /** Reads up to `max` non-blank lines. */
  next(max: number): NdjsonItem[] {
    const out: NdjsonItem[] = [];
    const text = this.text;
    while (out.length < max && this.pos < text.length) {
      let nl = text.indexOf('\n', this.pos);
      if (nl === -1) nl = text.length;
      const line = text.slice(this.pos, nl);
      this.pos = nl + 1;
      this.lineNo++;
      // Fast path: an event line starts with '{'. Anything else is checked for being blank.
      if (line.charCodeAt(0) !== 123 && line.trim() === '') continue;
      try {
        out.push({ ok: true, value: parseJson(line, this.safe), text: line, line: this.lineNo });
      } catch (err) {
        out.push({ ok: false, line: this.lineNo, reason: `Line ${this.lineNo} is not valid JSON: ${syntaxMessage(err)}.` });
      }
    }
    return out;
  }
}

/**
 * Replaces fastify's default parsers (including text/plain) with one application/json parser for
 * every route. NDJSON is added only in the events route's scope (installNdjsonParser), so that
 * other routes answer 415 for it.
 */
export function installJsonParser(app: FastifyInstance, bodyLimit: number): void {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'string', bodyLimit }, (_req: FastifyRequest, body: string | Buffer, done) => {
    let text = typeof body === 'string' ? body : body.toString('utf8');
    if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    if (text.trim() === '') {
      done(null, undefined);
      return;
    }
    try {
      done(null, parseJson(text, needsSafeParse(text)));
    } catch (err) {
      done(new HttpError(400, ErrorCode.HMD_ERR_BAD_REQUEST, `The request body is not valid JSON: ${syntaxMessage(err)}.`), undefined);
    }
  });
}

/** Adds the NDJSON parser to `scope` (an encapsulated fastify context). */
export function installNdjsonParser(scope: FastifyInstance, bodyLimit: number): void {
  scope.addContentTypeParser([...NDJSON_TYPES], { parseAs: 'string', bodyLimit }, (_req: FastifyRequest, body: string | Buffer, done) => {
    done(null, new NdjsonBody(typeof body === 'string' ? body : body.toString('utf8')));
  });
}
