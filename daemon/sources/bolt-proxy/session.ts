/**
 * The state of one Bolt connection as the tap sees it, driven by decoded requests and responses.
 *
 * Pipelining: the server answers requests strictly in order, each with one summary (SUCCESS, FAILURE
 * or IGNORED; RECORDs come before a PULL's summary), so the session keeps a FIFO of the requests
 * still to be answered and pairs every summary with its head. After a FAILURE the server IGNOREs
 * everything until RESET; the FIFO pairs those too. A summary with no request waiting is counted
 * and ignored (Neo4j sends an empty SUCCESS to every open connection when it shuts down).
 *
 * Queries: RUN opens one (auto-commit outside BEGIN…COMMIT, with its own transaction number),
 * PULL/DISCARD stream it (qid -1 = the latest RUN; an explicit qid picks that result of the open
 * transaction), and its last summary (has_more absent) completes it: query.executed; a FAILURE of its
 * RUN or PULL gives query.failed. A RUN the server ignored never ran and gives nothing.
 * Transactions: BEGIN opens one; COMMIT SUCCESS gives transaction.commit; ROLLBACK, a failure inside
 * it, a failed COMMIT, RESET or the connection closing gives transaction.rollback (once).
 */
import type { DatabaseEvent } from '../../../sdk/events.js';
import { EventFactory, type ConnectionInfo, type EventSettings, type QueryView, type TxView } from './events.js';
import { MessageError, type Failure, type Request, type Response } from './messages.js';

interface Query extends Omit<QueryView, 'tx'> {
  tx?: Tx;
  ran: boolean;
  done: boolean;
  qid?: number;
}

interface Tx extends TxView {
  ended: boolean;
  byQid: Map<number, Query>;
  last?: Query;
}

type Pending =
  | { kind: 'HELLO' | 'LOGON' | 'LOGOFF' | 'ROUTE' | 'TELEMETRY' }
  | { kind: 'RUN'; q: Query }
  | { kind: 'PULL' | 'DISCARD'; q: Query | undefined }
  | { kind: 'BEGIN' | 'COMMIT' | 'ROLLBACK' | 'RESET'; tx: Tx | undefined };

const CLOSED: Failure = { code: 'Heimdall.BoltProxy.ConnectionClosed', message: 'The connection closed before the result was complete.' };
const IGNORED: Failure = { code: 'Heimdall.BoltProxy.Ignored', message: 'The server ignored the rest of this result (after an earlier failure or a RESET).' };

export interface SessionCounters {
  authFailures: number;
}

export class BoltSession {
  readonly conn: ConnectionInfo;
  private readonly events: EventFactory;
  private readonly pending: Pending[] = [];
  private head = 0;
  private txCounter = 0;
  private tx: Tx | undefined;
  private lastAuto: Query | undefined;
  /** Queries not yet complete. */
  private readonly open = new Set<Query>();
  private closed = false;
  /** Summaries that answered no request (a server shutting down sends one). */
  unsolicited = 0;

  constructor(
    conn: ConnectionInfo,
    settings: EventSettings,
    private readonly emit: (ev: DatabaseEvent) => void,
    private readonly counters: SessionCounters,
    private readonly mono: () => number = () => performance.now(),
    clock?: { wall(): number; mono(): number },
  ) {
    this.conn = conn;
    this.events = new EventFactory(conn, settings, clock ?? { wall: Date.now, mono });
  }

  /** Requests sent but not yet answered. */
  get outstanding(): number {
    return this.pending.length - this.head;
  }

  /** The kind of the next request to be answered (the ROUTE rewrite looks at this). */
  get nextAnswerFor(): Pending['kind'] | undefined {
    return this.pending[this.head]?.kind;
  }

  request(r: Request): void {
    switch (r.kind) {
      case 'HELLO':
        if (r.userAgent !== undefined) this.conn.userAgent = r.userAgent;
        if (r.principal !== undefined) this.conn.principal = r.principal;
        this.conn.own = r.userAgent === 'heimdall' || (r.userAgent?.startsWith('heimdall/') ?? false);
        return this.push({ kind: 'HELLO' });
      case 'LOGON':
        if (r.principal !== undefined) this.conn.principal = r.principal;
        return this.push({ kind: 'LOGON' });
      case 'LOGOFF':
        delete this.conn.principal;
        return this.push({ kind: 'LOGOFF' });
      case 'GOODBYE':
        return; // answered by the server closing the connection
      case 'ROUTE':
      case 'TELEMETRY':
        return this.push({ kind: r.kind });
      case 'BEGIN': {
        const e = r.extra;
        const tx: Tx = { no: ++this.txCounter, startedAt: this.mono(), statements: 0, ended: false, byQid: new Map() };
        if (e.db !== undefined) tx.db = e.db;
        if (e.mode !== undefined) tx.mode = e.mode;
        if (e.txMetadata !== undefined) tx.metadata = e.txMetadata;
        if (e.impUser !== undefined) tx.impUser = e.impUser;
        this.tx = tx;
        return this.push({ kind: 'BEGIN', tx });
      }
      case 'RUN': {
        const tx = this.tx;
        const q: Query = {
          query: r.query,
          params: r.params,
          paramsOmitted: r.truncated,
          txNo: tx ? tx.no : ++this.txCounter,
          autoCommit: !tx,
          startedAt: this.mono(),
          records: 0,
          ran: false,
          done: false,
        };
        if (tx) {
          if (tx.db !== undefined) q.db = tx.db;
          q.tx = tx;
          tx.last = q;
        } else {
          if (r.extra.db !== undefined) q.db = r.extra.db;
          if (r.extra.impUser !== undefined) q.impUser = r.extra.impUser;
          if (r.extra.txMetadata !== undefined) q.txMetadata = r.extra.txMetadata;
          this.lastAuto = q;
        }
        this.open.add(q);
        return this.push({ kind: 'RUN', q });
      }
      case 'PULL':
      case 'DISCARD': {
        const tx = this.tx;
        const q = tx ? (r.qid >= 0 ? (tx.byQid.get(r.qid) ?? tx.last) : tx.last) : this.lastAuto;
        return this.push({ kind: r.kind, q });
      }
      case 'COMMIT':
      case 'ROLLBACK':
      case 'RESET': {
        const tx = this.tx;
        this.tx = undefined;
        return this.push({ kind: r.kind, tx });
      }
    }
  }

  response(r: Response): void {
    if (r.kind === 'RECORD') {
      const p = this.pending[this.head];
      if (!p || p.kind !== 'PULL') throw new MessageError(`A RECORD arrived while the next answer was for ${p ? p.kind : 'no request'}.`);
      if (p.q) p.q.records++;
      return;
    }
    const p = this.pending[this.head];
    if (!p) {
      // Neo4j sends an unsolicited SUCCESS {} as it shuts down, just before it closes the connection.
      this.unsolicited++;
      return;
    }
    this.pending[this.head++] = undefined as unknown as Pending;
    if (this.head > 1024 && this.head * 2 > this.pending.length) {
      this.pending.splice(0, this.head);
      this.head = 0;
    }
    switch (p.kind) {
      case 'HELLO':
      case 'LOGON':
        if (r.kind === 'FAILURE') this.counters.authFailures++;
        else if (r.kind === 'SUCCESS' && p.kind === 'HELLO' && typeof r.meta['connection_id'] === 'string') this.conn.serverConnectionId = r.meta['connection_id'];
        return;
      case 'RUN':
        return this.runAnswered(p.q, r);
      case 'PULL':
      case 'DISCARD':
        return this.streamAnswered(p.q, r);
      case 'BEGIN':
        if (p.tx && r.kind === 'FAILURE') this.endTx(p.tx, 'rollback', 'begin failed', { failure: r.failure });
        else if (p.tx && r.kind === 'IGNORED') p.tx.ended = true; // never began: an earlier failure
        return;
      case 'COMMIT':
        if (!p.tx) return;
        if (r.kind === 'SUCCESS') this.endTx(p.tx, 'commit', 'commit', typeof r.meta['bookmark'] === 'string' ? { bookmark: r.meta['bookmark'] } : {});
        else this.endTx(p.tx, 'rollback', 'commit failed', r.kind === 'FAILURE' ? { failure: r.failure } : {});
        return;
      case 'ROLLBACK':
        if (p.tx) this.endTx(p.tx, 'rollback', 'rollback', r.kind === 'FAILURE' ? { failure: r.failure } : {});
        return;
      case 'RESET':
        if (p.tx) this.endTx(p.tx, 'rollback', 'reset');
        return;
      default:
        return;
    }
  }

  private runAnswered(q: Query, r: Exclude<Response, { kind: 'RECORD' }>): void {
    if (r.kind === 'SUCCESS') {
      q.ran = true;
      const t = r.meta['t_first'];
      if (typeof t === 'number') q.tFirst = t;
      if (Array.isArray(r.meta['fields'])) q.fields = r.meta['fields'].length;
      const qid = r.meta['qid'];
      if (q.tx) {
        q.tx.statements++;
        if (typeof qid === 'number') {
          q.qid = qid;
          q.tx.byQid.set(qid, q);
        }
      }
      return;
    }
    if (r.kind === 'IGNORED') {
      this.finish(q); // never ran
      return;
    }
    this.fail(q, r.failure);
  }

  private finish(q: Query): void {
    q.done = true;
    this.open.delete(q);
    if (this.lastAuto === q) this.lastAuto = undefined;
  }

  private streamAnswered(q: Query | undefined, r: Exclude<Response, { kind: 'RECORD' }>): void {
    if (!q || q.done) return;
    if (r.kind === 'SUCCESS') {
      if (r.meta['has_more'] === true) return;
      this.finish(q);
      q.summary = r.meta;
      if (q.tx && typeof r.meta['db'] === 'string') q.tx.resultDb = r.meta['db'];
      this.emit(this.events.query(q));
      if (q.tx) q.tx.byQid.delete(q.qid ?? -1);
      return;
    }
    if (r.kind === 'IGNORED') {
      if (q.ran) this.fail(q, IGNORED, false);
      else this.finish(q);
      return;
    }
    this.fail(q, r.failure);
  }

  /** query.failed, and the rollback of its transaction (a failure inside an explicit transaction ends it). */
  private fail(q: Query, failure: Failure, rollsBack = true, extra: Record<string, unknown> = {}): void {
    this.finish(q);
    this.emit(this.events.query(q, failure, extra));
    if (q.tx && rollsBack) this.endTx(q.tx, 'rollback', 'failure', { failure });
  }

  private endTx(tx: Tx, outcome: 'commit' | 'rollback', reason: string, opts: { bookmark?: string; failure?: Failure } = {}): void {
    if (tx.ended) return;
    tx.ended = true;
    this.emit(this.events.transaction(tx, outcome, reason, opts));
  }

  /** The connection is gone: results still streaming failed, an open transaction rolled back (the server does so). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const q of [...this.open]) this.fail(q, CLOSED, false, { incomplete: true });
    const txs = new Set<Tx>();
    if (this.tx) txs.add(this.tx);
    for (let i = this.head; i < this.pending.length; i++) {
      const p = this.pending[i]!;
      if ((p.kind === 'BEGIN' || p.kind === 'COMMIT' || p.kind === 'ROLLBACK' || p.kind === 'RESET') && p.tx) txs.add(p.tx);
    }
    for (const tx of txs) this.endTx(tx, 'rollback', 'connection closed');
    this.pending.length = 0;
    this.head = 0;
  }

  private push(p: Pending): void {
    this.pending.push(p);
  }
}
