/**
 * Builds the pinned bolt-proxy events from what the session saw (DESIGN.md, "Wave 2"):
 *   query.executed / query.failed   query (cut at maxQueryChars), queryParams (captureParams),
 *                                   durationMs (RUN seen → last SUCCESS of its result seen),
 *                                   rowsAffected, database, userId, requestId, txId, error,
 *                                   metadata.bolt { version, userAgent, queryType, stats, autoCommit,
 *                                   tFirstMs, tLastMs, bookmark, gqlStatus?, records, … }
 *   transaction.commit / .rollback  txId, durationMs (BEGIN seen → answer seen), metadata.bolt.statements
 * Transaction metadata goes in metadata.tx; the daemon's own work in metadata.origin.
 */
import type { DatabaseEvent, EventOrigin, EventType } from '../../../sdk/events.js';
import type { Failure } from './messages.js';
import { captureParams, cutText, plain, type CaptureParams } from './values.js';
import type { ParamsRef } from './messages.js';

export interface ConnectionInfo {
  /** The proxy's id of this client connection (requestId). */
  id: string;
  version: string;
  userAgent?: string;
  /** Authenticated principal (HELLO up to 5.0, LOGON from 5.1). */
  principal?: string;
  /** The server's own id of the connection (HELLO SUCCESS connection_id). */
  serverConnectionId?: string;
  /** The daemon's own driver (user agent "heimdall"). */
  own: boolean;
}

export interface EventSettings {
  captureParams: CaptureParams;
  maxQueryChars: number;
  /** Database named in events when neither the request nor the server said which. */
  defaultDatabase: string;
}

export interface TxView {
  no: number;
  db?: string;
  mode?: string;
  metadata?: Record<string, unknown>;
  impUser?: string;
  startedAt: number;
  statements: number;
  /** Database the server reported for the transaction's statements. */
  resultDb?: string;
}

export interface QueryView {
  query: string;
  params: ParamsRef | undefined;
  paramsOmitted: boolean;
  db?: string;
  impUser?: string;
  txNo: number;
  autoCommit: boolean;
  tx?: TxView;
  txMetadata?: Record<string, unknown>;
  startedAt: number;
  records: number;
  tFirst?: number;
  fields?: number;
  summary?: Record<string, unknown>;
}

/** Counters in SUCCESS stats that count changed things (their sum is rowsAffected for writes). */
const CHANGE_COUNTERS = [
  'nodes-created',
  'nodes-deleted',
  'relationships-created',
  'relationships-deleted',
  'properties-set',
  'labels-added',
  'labels-removed',
  'indexes-added',
  'indexes-removed',
  'constraints-added',
  'constraints-removed',
  'system-updates',
];

const camel = (k: string): string => k.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
const int = (v: unknown): number | undefined => (typeof v === 'number' ? v : typeof v === 'bigint' ? Number(v) : undefined);
const round = (ms: number): number => Math.round(ms * 1000) / 1000;

/** metadata.origin for the daemon's own work: its driver's connections, or transactions whose metadata has app: 'heimdall'. */
export function originOf(conn: ConnectionInfo, txMeta: Record<string, unknown> | undefined): EventOrigin | undefined {
  const ours = txMeta?.['app'] === 'heimdall';
  if (!ours && !conn.own) return undefined;
  const origin: EventOrigin = { plugin: typeof txMeta?.['plugin'] === 'string' ? (txMeta['plugin'] as string) : 'heimdall' };
  if (typeof txMeta?.['action'] === 'string') origin.action = txMeta['action'] as string;
  if (typeof txMeta?.['invocationId'] === 'string') origin.invocationId = txMeta['invocationId'] as string;
  return origin;
}

export class EventFactory {
  private seq = 0;
  constructor(
    private readonly conn: ConnectionInfo,
    private readonly s: EventSettings,
    private readonly clock: { wall(): number; mono(): number } = { wall: Date.now, mono: () => performance.now() },
  ) {}

  txId(no: number): string {
    return `${this.conn.id}:${no}`;
  }

  private base(type: EventType, database: string, userId: string | undefined, txNo: number, txMeta: Record<string, unknown> | undefined): DatabaseEvent {
    const ev: DatabaseEvent = {
      id: `${this.conn.id}:e${++this.seq}`,
      type,
      timestamp: new Date(this.clock.wall()).toISOString(),
      database,
      source: 'bolt-proxy',
      requestId: this.conn.id,
      txId: this.txId(txNo),
    };
    if (userId !== undefined) ev.userId = userId;
    const metadata: NonNullable<DatabaseEvent['metadata']> = {};
    if (txMeta) metadata.tx = plain(txMeta, this.s.maxQueryChars) as Record<string, unknown>;
    const origin = originOf(this.conn, txMeta);
    if (origin) metadata.origin = origin;
    ev.metadata = metadata;
    return ev;
  }

  private boltBase(): Record<string, unknown> {
    const b: Record<string, unknown> = { version: this.conn.version };
    if (this.conn.userAgent !== undefined) b.userAgent = this.conn.userAgent;
    if (this.conn.serverConnectionId !== undefined) b.serverConnectionId = this.conn.serverConnectionId;
    return b;
  }

  private userOf(impUser: string | undefined): string | undefined {
    return impUser ?? this.conn.principal;
  }

  /** query.executed (failure undefined) or query.failed. */
  query(q: QueryView, failure?: Failure, extra: Record<string, unknown> = {}): DatabaseEvent {
    const sum = q.summary ?? {};
    const database = (typeof sum['db'] === 'string' ? (sum['db'] as string) : undefined) ?? q.db ?? this.s.defaultDatabase;
    const txMeta = q.tx ? q.tx.metadata : q.txMetadata;
    const impUser = q.tx ? q.tx.impUser : q.impUser;
    const ev = this.base(failure ? 'query.failed' : 'query.executed', database, this.userOf(impUser), q.txNo, txMeta);
    const text = cutText(q.query, this.s.maxQueryChars);
    ev.query = text.text;
    const params = captureParams(q.params, this.s.captureParams, this.s.maxQueryChars);
    if (params) ev.queryParams = params;
    ev.durationMs = round(this.clock.mono() - q.startedAt);
    const bolt = this.boltBase();
    const statsRaw = sum['stats'];
    let stats: Record<string, unknown> | undefined;
    let changed = 0;
    let hasChangeCounter = false;
    if (statsRaw && typeof statsRaw === 'object') {
      stats = {};
      for (const [k, v] of Object.entries(statsRaw as Record<string, unknown>)) {
        stats[camel(k)] = typeof v === 'bigint' ? Number(v) : v;
        if (CHANGE_COUNTERS.includes(k) && int(v) !== undefined) {
          changed += int(v)!;
          hasChangeCounter = true;
        }
      }
    }
    ev.rowsAffected = hasChangeCounter ? changed : q.records;
    if (typeof sum['type'] === 'string') bolt.queryType = sum['type'];
    bolt.stats = stats ?? {};
    bolt.autoCommit = q.autoCommit;
    if (q.tFirst !== undefined) bolt.tFirstMs = q.tFirst;
    const tLast = int(sum['t_last']);
    if (tLast !== undefined) bolt.tLastMs = tLast;
    if (typeof sum['bookmark'] === 'string') bolt.bookmark = sum['bookmark'];
    bolt.records = q.records;
    if (q.fields !== undefined) bolt.fields = q.fields;
    if (text.cut) bolt.queryChars = q.query.length;
    if (q.paramsOmitted) bolt.paramsOmitted = true;
    if (impUser !== undefined && this.conn.principal !== undefined) bolt.authenticatedUser = this.conn.principal;
    if (failure) {
      ev.error = `${failure.code}: ${failure.message}`;
      if (failure.gqlStatus !== undefined) bolt.gqlStatus = failure.gqlStatus;
      if (failure.description !== undefined) bolt.gqlDescription = failure.description;
    }
    Object.assign(bolt, extra);
    ev.metadata!.bolt = bolt;
    return ev;
  }

  /** transaction.commit (failure undefined and reason 'commit') or transaction.rollback. */
  transaction(tx: TxView, outcome: 'commit' | 'rollback', reason: string, opts: { bookmark?: string; failure?: Failure } = {}): DatabaseEvent {
    const database = tx.resultDb ?? tx.db ?? this.s.defaultDatabase;
    const ev = this.base(outcome === 'commit' ? 'transaction.commit' : 'transaction.rollback', database, this.userOf(tx.impUser), tx.no, tx.metadata);
    ev.durationMs = round(this.clock.mono() - tx.startedAt);
    const bolt = this.boltBase();
    bolt.statements = tx.statements;
    bolt.autoCommit = false;
    bolt.reason = reason;
    if (tx.mode !== undefined) bolt.mode = tx.mode;
    if (opts.bookmark !== undefined) bolt.bookmark = opts.bookmark;
    if (opts.failure) {
      ev.error = `${opts.failure.code}: ${opts.failure.message}`;
      if (opts.failure.gqlStatus !== undefined) bolt.gqlStatus = opts.failure.gqlStatus;
    }
    ev.metadata!.bolt = bolt;
    return ev;
  }
}
