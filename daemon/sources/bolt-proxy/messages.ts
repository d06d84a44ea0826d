/**
 * Bolt message signatures and decoding of the fields the tap needs (Bolt 4.x, 5.x, 6.x).
 *
 * Requests (client → server), each answered by exactly one summary (SUCCESS, FAILURE or IGNORED),
 * in order, except GOODBYE which is answered by the server closing the connection:
 *   HELLO 01 {extra}            user_agent, and up to 5.0 scheme/principal/credentials
 *   GOODBYE 02, RESET 0F, COMMIT 12, ROLLBACK 13, LOGOFF 6B
 *   RUN 10 query params {extra} extra: db, tx_metadata, mode, bookmarks, imp_user, tx_timeout
 *   BEGIN 11 {extra}            the same extra keys
 *   DISCARD 2F {n, qid}, PULL 3F {n, qid}
 *   TELEMETRY 54 api (5.4+), ROUTE 66 {routing} [bookmarks] {db, imp_user} (4.3: db as a string)
 *   LOGON 6A {scheme, principal, credentials} (5.1+)
 * Responses (server → client):
 *   SUCCESS 70 {metadata}, RECORD 71 [values], IGNORED 7E, FAILURE 7F {metadata}
 *   FAILURE metadata is {code, message} up to 5.6 and, from 5.7, {neo4j_code, message, gql_status,
 *   description, diagnostic_record, cause}.
 *
 * Credentials are never kept: HELLO and LOGON yield the user agent, scheme and principal only.
 */
import { PackReader, PackStreamError } from './packstream.js';

export const SIG = {
  HELLO: 0x01,
  GOODBYE: 0x02,
  RESET: 0x0f,
  RUN: 0x10,
  BEGIN: 0x11,
  COMMIT: 0x12,
  ROLLBACK: 0x13,
  DISCARD: 0x2f,
  PULL: 0x3f,
  TELEMETRY: 0x54,
  ROUTE: 0x66,
  LOGON: 0x6a,
  LOGOFF: 0x6b,
  SUCCESS: 0x70,
  RECORD: 0x71,
  IGNORED: 0x7e,
  FAILURE: 0x7f,
} as const;

const REQUEST_NAMES: Record<number, string> = {
  0x01: 'HELLO',
  0x02: 'GOODBYE',
  0x0f: 'RESET',
  0x10: 'RUN',
  0x11: 'BEGIN',
  0x12: 'COMMIT',
  0x13: 'ROLLBACK',
  0x2f: 'DISCARD',
  0x3f: 'PULL',
  0x54: 'TELEMETRY',
  0x66: 'ROUTE',
  0x6a: 'LOGON',
  0x6b: 'LOGOFF',
};

export function requestName(sig: number): string | undefined {
  return REQUEST_NAMES[sig];
}

/** Where a RUN's parameter map sits in its body: decoded only as far as captureParams asks (values.ts). */
export interface ParamsRef {
  body: Buffer;
  offset: number;
}

/** Transaction settings carried by BEGIN and by an auto-commit RUN. */
export interface TxExtra {
  db?: string;
  mode?: string;
  txMetadata?: Record<string, unknown>;
  impUser?: string;
  txTimeout?: number;
  bookmarks?: number;
}

export type Request =
  | { kind: 'HELLO'; userAgent?: string; scheme?: string; principal?: string }
  | { kind: 'LOGON'; scheme?: string; principal?: string }
  | { kind: 'LOGOFF' | 'GOODBYE' | 'RESET' | 'COMMIT' | 'ROLLBACK' | 'TELEMETRY' | 'ROUTE' }
  | { kind: 'RUN'; query: string; params: ParamsRef | undefined; extra: TxExtra; truncated: boolean }
  | { kind: 'BEGIN'; extra: TxExtra }
  | { kind: 'PULL' | 'DISCARD'; n: number; qid: number };

export type Response =
  | { kind: 'SUCCESS'; meta: Record<string, unknown> }
  | { kind: 'RECORD' }
  | { kind: 'IGNORED' }
  | { kind: 'FAILURE'; failure: Failure };

export interface Failure {
  code: string;
  message: string;
  gqlStatus?: string;
  description?: string;
}

/** The message is not a request or response this tap can follow. */
export class MessageError extends Error {
  override name = 'MessageError';
}

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const num = (v: unknown): number | undefined => (typeof v === 'number' ? v : typeof v === 'bigint' ? Number(v) : undefined);

function mapOrEmpty(v: unknown): Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v) && !Buffer.isBuffer(v) ? (v as Record<string, unknown>) : {};
}

function txExtra(raw: Record<string, unknown>): TxExtra {
  const out: TxExtra = {};
  const db = str(raw['db']);
  if (db !== undefined) out.db = db;
  const mode = str(raw['mode']);
  if (mode !== undefined) out.mode = mode;
  const meta = raw['tx_metadata'];
  if (meta !== null && typeof meta === 'object' && !Array.isArray(meta)) out.txMetadata = meta as Record<string, unknown>;
  const imp = str(raw['imp_user']);
  if (imp !== undefined) out.impUser = imp;
  const t = num(raw['tx_timeout']);
  if (t !== undefined) out.txTimeout = t;
  if (Array.isArray(raw['bookmarks'])) out.bookmarks = raw['bookmarks'].length;
  return out;
}

/**
 * Decodes a client message. `truncated` bodies (longer than the tap keeps) yield a RUN with the query
 * text when it fits and no parameters; other truncated requests keep only their kind.
 */
export function decodeRequest(sig: number, body: Buffer, truncated = false): Request {
  const name = REQUEST_NAMES[sig];
  if (!name) throw new MessageError(`0x${sig.toString(16)} is not a Bolt request signature this proxy knows.`);
  const r = new PackReader(body);
  const { size } = r.structHeader();
  switch (sig) {
    case SIG.HELLO: {
      const extra = mapOrEmpty(r.value());
      const out: Request = { kind: 'HELLO' };
      const ua = str(extra['user_agent']);
      if (ua !== undefined) out.userAgent = ua;
      const scheme = str(extra['scheme']);
      if (scheme !== undefined) out.scheme = scheme;
      const principal = str(extra['principal']);
      if (principal !== undefined) out.principal = principal;
      return out;
    }
    case SIG.LOGON: {
      const auth = mapOrEmpty(r.value());
      const out: Request = { kind: 'LOGON' };
      const scheme = str(auth['scheme']);
      if (scheme !== undefined) out.scheme = scheme;
      const principal = str(auth['principal']);
      if (principal !== undefined) out.principal = principal;
      return out;
    }
    case SIG.RUN: {
      if (size < 2) throw new MessageError(`A RUN message has ${size} field(s), expected 3.`);
      const query = r.string();
      if (truncated) {
        return { kind: 'RUN', query, params: undefined, extra: {}, truncated: true };
      }
      const params: ParamsRef = { body, offset: r.pos };
      r.skip();
      const extra = size >= 3 ? txExtra(mapOrEmpty(r.value())) : {};
      return { kind: 'RUN', query, params, extra, truncated: false };
    }
    case SIG.BEGIN:
      return { kind: 'BEGIN', extra: size >= 1 ? txExtra(mapOrEmpty(r.value())) : {} };
    case SIG.PULL:
    case SIG.DISCARD: {
      const extra = size >= 1 ? mapOrEmpty(r.value()) : {};
      return { kind: sig === SIG.PULL ? 'PULL' : 'DISCARD', n: num(extra['n']) ?? -1, qid: num(extra['qid']) ?? -1 };
    }
    default:
      return { kind: name as 'LOGOFF' };
  }
}

/** Reads just the query text of a (possibly truncated) RUN body; undefined if even that is cut. */
export function runQueryText(body: Buffer): string | undefined {
  try {
    const r = new PackReader(body);
    r.structHeader();
    return r.string();
  } catch (err) {
    if (err instanceof PackStreamError) return undefined;
    throw err;
  }
}

/** Decodes a server message. RECORD bodies are never needed (pass null). */
export function decodeResponse(sig: number, body: Buffer | null): Response {
  if (sig === SIG.RECORD) return { kind: 'RECORD' };
  if (sig === SIG.IGNORED) return { kind: 'IGNORED' };
  if (sig !== SIG.SUCCESS && sig !== SIG.FAILURE) throw new MessageError(`0x${sig.toString(16)} is not a Bolt response signature this proxy knows.`);
  if (!body) throw new MessageError('A SUCCESS or FAILURE message arrived without its body.');
  const r = new PackReader(body);
  const { size } = r.structHeader();
  const meta = size >= 1 ? mapOrEmpty(r.value()) : {};
  if (sig === SIG.SUCCESS) return { kind: 'SUCCESS', meta };
  return { kind: 'FAILURE', failure: failureOf(meta) };
}

/** Normalises both FAILURE shapes (pre-5.7 {code, message}; 5.7+ GQL {neo4j_code, gql_status, description, …}). */
export function failureOf(meta: Record<string, unknown>): Failure {
  const code = str(meta['neo4j_code']) ?? str(meta['code']) ?? str(meta['gql_status']) ?? 'Neo.DatabaseError.General.UnknownError';
  const message = str(meta['message']) ?? str(meta['description']) ?? '';
  const out: Failure = { code, message };
  const gql = str(meta['gql_status']);
  if (gql !== undefined) out.gqlStatus = gql;
  const desc = str(meta['description']);
  if (desc !== undefined) out.description = desc;
  return out;
}
