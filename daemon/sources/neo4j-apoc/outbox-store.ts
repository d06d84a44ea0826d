/**
 * The outbox of one database, and every statement Heimdall runs against it: for delivery read, ack,
 * dead-letter and backlog; for the watchdog the trigger and counter as they are now and an epoch bump;
 * install, uninstall and status (outbox-install.ts). Everything runs through Database.run
 * (outbox-statements.ts: routing, timeout, transaction metadata, database name); Heimdall's own writes
 * carry the internal key (../../db/own-state.ts), so the trigger lets them through and captures nothing of them.
 */
import neo4j from 'neo4j-driver';
import { batchOf, chooseCapture, install, schemaCovers, status, uninstall } from './outbox-install.js';
import { OutboxStatements, type OutboxDatabase } from './outbox-statements.js';
import { COUNTER_LABEL, COUNTER_NAME, FAILED_LABEL, OUTBOX_LABEL, TRIGGER_NAME, nextEpoch, type Capture, type CaptureChoice } from './outbox-trigger.js';
import type {
  CaptureSnapshot,
  InstallOptions,
  InstallResult,
  LoadedTrigger,
  OutboxStatus,
  OutboxStoreOptions,
  ReadRequest,
  ReadResult,
  StoredEntry,
  UninstallOptions,
  UninstallResult,
} from './outbox-store-types.js';

export type * from './outbox-store-types.js';

/** The key of an entry in ReadRequest.pending: its element id and seq. */
export const pendingKey = (e: Pick<StoredEntry, 'elementId' | 'seq'>): string => `${e.elementId}|${e.seq}`;
export type { OutboxDatabase };

/**
 * Most entry text (the `bytes` property: changes + txMeta) one read or one ack handles, unless a single
 * entry is larger. Deleting a node makes Neo4j hold its property values in the transaction, so an unbounded
 * batch of entries from huge transactions would exhaust db.memory.transaction.total.max (or the daemon's heap).
 */
export const MAX_BATCH_BYTES = 16 * 1024 * 1024;

/**
 * The source's steady queries (read, ack, backlog) keep the plan Neo4j cached for them. Their best plan does not
 * depend on how many entries the outbox holds (an index seek in seq order, a seek by element id, the count store),
 * but Neo4j plans a query again once its statistics moved and dbms.cypher.min_replan_interval (10 s) passed: while
 * a writer committed 300-500 tx/s, the read planned again about 10 s after the daemon started took ~150 ms, and every
 * event committed meanwhile waited behind it (bench (b2), capture: listener, two runs each: commit→handler p99
 * 15-22 ms with the cached plan against 58-97 ms without). A schema change (the seq index, the counter's constraint)
 * still empties the plan cache, so a plan made before the index existed is not kept.
 */
export const KEEP_PLAN = 'CYPHER replan=skip ';

/**
 * The next entries, leaving out those whose ack is pending ($skip: pendingKey -> true). Neo4j still walks the seq
 * index past them, but does not send them: with 1,000 entries pending and 10 new ones a read took 3.7-4.5 ms
 * (p50, quiet machine) against 15-21 ms when the pending ones came back as rows to be skipped here.
 */
const READ =
  KEEP_PLAN +
  `${batchOf("$skip[elementId(o) + '|' + toString(o.seq)] IS NULL")}` +
  'RETURN elementId(o) AS id, o.seq AS seq, coalesce(o.epoch, 0) AS epoch, o.committedAt AS at, o.txMeta AS meta, ' +
  'o.changes AS changes, coalesce(o.bytes, size(o.changes) + size(o.txMeta), 0) AS bytes';

/** The loaded trigger and the counter, in one read. */
const WATCH =
  'CALL apoc.trigger.list() YIELD name, query, paused, params WHERE name = $name ' +
  'WITH collect({query: query, paused: paused, params: params})[0] AS t ' +
  `OPTIONAL MATCH (c:${COUNTER_LABEL} {name: $counter}) RETURN t, c.value AS value, c.epoch AS epoch`;

/** The counter alone (capture: listener; the listener's settings come from heimdall.capture.status()). */
const WATCH_COUNTER = `OPTIONAL MATCH (c:${COUNTER_LABEL} {name: $counter}) RETURN c.value AS value, c.epoch AS epoch`;

const num = (v: unknown): number => (v === null || v === undefined ? 0 : Number(v));

export class OutboxStore {
  readonly database: string;
  readonly maxBatchBytes: number;
  /** What the options asked for; 'auto' is settled by the first install or status (settleCapture). */
  readonly captureChoice: CaptureChoice;
  private readonly st: OutboxStatements;
  private settling: Promise<Capture> | undefined;
  private chosen = false;
  /** The choice last logged, so that choosing again (unsettleCapture) says only what changed. */
  private told: string | undefined;

  constructor(db: OutboxDatabase, opts: OutboxStoreOptions) {
    this.database = opts.database;
    this.maxBatchBytes = opts.maxBatchBytes ?? MAX_BATCH_BYTES;
    this.captureChoice = opts.capture ?? 'trigger';
    this.st = new OutboxStatements(db, opts.database, opts.timeoutMs ?? 30_000, this.captureChoice === 'listener' ? 'listener' : 'trigger');
  }

  /** What writes the entries: the APOC trigger or the listener of Heimdall's Neo4j extension ('trigger' while auto is not settled). */
  get capture(): Capture {
    return this.st.capture;
  }

  /** With capture: auto, the next settleCapture chooses again (install: false, while nothing the choice expects is installed). */
  unsettleCapture(): void {
    if (this.captureChoice !== 'auto' || !this.chosen) return;
    this.settling = undefined;
    this.chosen = false;
  }

  /** Whether `capture` is what writes the entries (false while capture: auto has not chosen yet). */
  get captureSettled(): boolean {
    return this.captureChoice !== 'auto' || this.chosen;
  }

  /**
   * With capture: auto, chooses the capture once (outbox-install.ts chooseCapture) and says which and why through
   * `log`; a failed choice (Neo4j unreachable) is made again by the next call. Otherwise the configured capture.
   */
  settleCapture(log: (line: string) => void = () => {}): Promise<Capture> {
    if (this.captureChoice !== 'auto') return Promise.resolve(this.capture);
    this.settling ??= chooseCapture(this.st).then(
      ({ capture, why }) => {
        this.st.useCapture(capture);
        this.chosen = true;
        const by = capture === 'listener' ? "the listener of Heimdall's Neo4j extension" : 'the APOC trigger';
        const line = `The outbox of the database ${this.database} is written by ${by} (capture: auto): ${why}.`;
        if (line !== this.told) log(line);
        this.told = line;
        return capture;
      },
      (err: unknown) => {
        this.settling = undefined;
        throw err;
      },
    );
    return this.settling;
  }

  // ---- delivery ----------------------------------------------------------------------------------

  /** The next entries in seq order, bounded by `limit` and by maxBatchBytes of entry text. */
  async read(req: ReadRequest): Promise<ReadResult> {
    const skip: Record<string, boolean> = {};
    for (const key of req.pending?.keys ?? []) skip[key] = true;
    const rows = await this.st.read(READ, { limit: neo4j.int(req.limit), maxBytes: neo4j.int(this.maxBatchBytes), skip });
    const entries: StoredEntry[] = [];
    let bytes = 0;
    for (const r of rows) {
      const entry: StoredEntry = {
        elementId: r['id'] as string,
        seq: String(r['seq']),
        epoch: String(r['epoch']),
        committedAt: num(r['at']),
        txMeta: (r['meta'] as string | null) ?? '{}',
        changes: (r['changes'] as string | null) ?? '{}',
        bytes: num(r['bytes']),
      };
      entries.push(entry);
      bytes += entry.bytes;
    }
    const full = entries.length >= req.limit || bytes >= this.maxBatchBytes;
    return { entries, full };
  }

  /**
   * Deletes these entries (in transactions of at most maxBatchBytes of entry text); resolves with how many were still
   * there. DETACH: a relationship someone attached to an entry must not keep it (and every later ack) in place.
   *
   * An entry is matched by its element id AND its seq and epoch: Neo4j reuses the ids of deleted nodes, and an ack is
   * retried whole when it failed part-way or its commit was not confirmed (Neo4j went away), so by then the id of an
   * entry it did delete may belong to a new entry that was never delivered.
   */
  async ack(entries: ReadonlyArray<Pick<StoredEntry, 'elementId' | 'bytes' | 'seq' | 'epoch'>>): Promise<number> {
    let deleted = 0;
    for (let i = 0; i < entries.length; ) {
      let n = 0;
      let bytes = 0;
      while (i + n < entries.length && (n === 0 || bytes + entries[i + n]!.bytes <= this.maxBatchBytes)) bytes += entries[i + n++]!.bytes;
      const rows = await this.st.internal(
        `${KEEP_PLAN}UNWIND $rows AS row MATCH (o:${OUTBOX_LABEL}) WHERE elementId(o) = row.id AND o.seq = row.seq AND coalesce(o.epoch, 0) = row.epoch DETACH DELETE o RETURN count(o) AS n`,
        { rows: entries.slice(i, i + n).map((e) => ({ id: e.elementId, seq: neo4j.int(e.seq), epoch: neo4j.int(e.epoch) })) },
      );
      deleted += num(rows[0]?.['n']);
      i += n;
    }
    return deleted;
  }

  /** Relabels entries that cannot be decoded to (:HeimdallOutboxFailed {failure, failedAt}); resolves with how many were relabelled. */
  async deadLetter(entries: ReadonlyArray<{ elementId: string; reason: string }>): Promise<number> {
    if (entries.length === 0) return 0;
    const rows = await this.st.internal(
      `UNWIND $rows AS row MATCH (o:${OUTBOX_LABEL}) WHERE elementId(o) = row.id ` +
        `REMOVE o:${OUTBOX_LABEL} SET o:${FAILED_LABEL}, o.failure = row.reason, o.failedAt = timestamp() RETURN count(o) AS n`,
      { rows: entries.map((e) => ({ id: e.elementId, reason: e.reason })) },
    );
    return num(rows[0]?.['n']);
  }

  /** Undelivered entries (transactions); Neo4j answers a label count from its count store. */
  async backlog(): Promise<number> {
    const rows = await this.st.read(`${KEEP_PLAN}MATCH (o:${OUTBOX_LABEL}) RETURN count(o) AS n`, {});
    return num(rows[0]?.['n']);
  }

  // ---- the watchdog ------------------------------------------------------------------------------

  /** The trigger as the captured database runs it now (apoc.trigger.list), or undefined when it runs none of ours. */
  loadedTrigger(): Promise<LoadedTrigger | undefined> {
    return this.st.loadedTrigger();
  }

  /** The trigger stored and loaded, the counter and the schema, as they are now (read-only). */
  async watch(): Promise<CaptureSnapshot> {
    if (this.capture === 'listener') {
      const loaded = await this.st.loadedTrigger();
      const [row] = await this.st.read(WATCH_COUNTER, { counter: COUNTER_NAME });
      const value = row?.['value'];
      const counter = value === null || value === undefined ? undefined : { value: Number(value), epoch: String(row?.['epoch'] ?? 0) };
      return { loaded, stored: loaded && { query: loaded.query, paused: false, keyed: loaded.keyed }, counter, ...(await schemaCovers(this.st)) };
    }
    const [row] = await this.st.read(WATCH, { name: TRIGGER_NAME, counter: COUNTER_NAME });
    const loaded = this.st.loadedFrom((row?.['t'] ?? undefined) as Record<string, unknown> | undefined);
    const value = row?.['value'];
    const counter = value === null || value === undefined ? undefined : { value: Number(value), epoch: String(row?.['epoch'] ?? 0) };
    let stored: CaptureSnapshot['stored'];
    try {
      const s = await this.st.storedTrigger();
      stored = s && { query: s.query, paused: s.paused, keyed: s.key !== undefined };
    } catch (err) {
      if (!/Forbidden|permission|not allowed|access denied/i.test(`${(err as Error).message} ${(err as { cause?: Error }).cause?.message ?? ''}`)) throw err;
      stored = null; // a user that may not read the system database: what the database runs is what counts
    }
    return { loaded, stored, counter, ...(await schemaCovers(this.st)) };
  }

  /**
   * Moves the counter to a new epoch (and raises it to minSeq when it is lower), so that seqs handed out again get
   * event ids that did not exist before. Resolves with the new epoch, or undefined when there is no counter.
   */
  async bumpEpoch(minSeq = 0): Promise<string | undefined> {
    const rows = await this.st.internal(
      `MATCH (c:${COUNTER_LABEL} {name: $name}) SET c.epoch = ${nextEpoch('c.epoch')}, c.value = CASE WHEN coalesce(c.value, 0) < $minSeq THEN $minSeq ELSE coalesce(c.value, 0) END RETURN c.epoch AS epoch`,
      { name: COUNTER_NAME, minSeq: neo4j.int(minSeq) },
    );
    return rows[0] ? String(rows[0]['epoch']) : undefined;
  }

  /** Transaction metadata that marks a write as the daemon's own (for tools and tests that write with a driver of their own). */
  internalMetadata(): Promise<Record<string, unknown>> {
    return this.st.internalMetadata();
  }

  // ---- lifecycle (outbox-install.ts) -------------------------------------------------------------

  /** Creates the index, constraint, counter and trigger (or brings them up to date), and waits for the trigger to load. */
  async install(opts: InstallOptions = {}): Promise<InstallResult> {
    await this.settleCapture(opts.log);
    return install(this.st, opts);
  }

  /** Drops the trigger; deletes the counter, index and constraint when no undelivered entry is left (or purge). */
  uninstall(opts: UninstallOptions = {}): Promise<UninstallResult> {
    return uninstall(this.st, { ...opts, maxBatchBytes: this.maxBatchBytes });
  }

  /** What is in place, read-only. */
  async status(): Promise<OutboxStatus> {
    await this.settleCapture();
    return status(this.st);
  }
}
