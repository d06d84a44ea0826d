/**
 * The `neo4j-apoc` source: durable change events from the transactional outbox that the APOC trigger
 * writes (outbox-trigger.ts, installed by daemon/db/outbox-installer.ts). See README.md here.
 *
 * One loop: (install or check the trigger) → read up to batchSize entries in seq order → turn them
 * into events → emit (synchronous: the router has taken them when it returns) → delete exactly those
 * entries → repeat at once while full batches come back, else after pollIntervalMs. A failed delete
 * is retried before anything new is read, so only a crash between emit and delete redelivers, with
 * the same event ids. While the database is unreachable the source is `degraded` and retries with
 * backoff; the outbox keeps every committed change meanwhile.
 */
import neo4j from 'neo4j-driver';
import type { Logger } from 'pino';
import type { Neo4jApocSourceConfig } from '../../config/types.js';
import type { SourceStatus } from '../api.js';
import type { Database } from '../db/database.js';
import { explainOutboxError, installOutbox } from '../db/outbox-installer.js';
import type { DatabaseEvent } from '../../sdk/index.js';
import { entryEvents, type OutboxEntry } from './outbox-events.js';
import { ACK_METADATA, MAX_BATCH_BYTES, OUTBOX_LABEL, OUTBOX_PREFIX, RELAXED_SEQ_FLOOR, TRIGGER_NAME, orderingOf, type Ordering } from './outbox-trigger.js';
import type { Emit, EventSource } from './source.js';

export interface Neo4jApocSourceOptions {
  /** The daemon's database router (its driver, default database and connectivity watch are used). */
  db: Database;
  /** The `sources[]` entry (defaults applied by the config loader). */
  config: Neo4jApocSourceConfig;
  /** Hands events to the router; synchronous. */
  emit: Emit;
  logger: Logger;
  /** Logical database to capture. Default: db.defaultDatabase. */
  database?: string;
  /**
   * Optional delivery checkpoint, called right after each emit: resolves once the events emitted so far
   * have left every plugin queue (handled, failed or dropped); see outbox-settle.ts. With it, entries are
   * deleted only after the plugins have handled their events (at-least-once up to the handlers, across
   * a kill -9) and at most maxBatchesInFlight batches are out at once, so a burst waits in the durable
   * outbox rather than in memory. Without it, entries are deleted as soon as emit returns.
   */
  settled?: () => Promise<void>;
  /**
   * Optional back-pressure: how many more events every consumer can take now (see roomInQueues in
   * outbox-settle.ts). A batch is then emitted in chunks that fit, waiting (for `settled`, or 5 ms) while
   * there is no room, so plugin queues smaller than a batch do not drop its events.
   */
  room?: () => number;
  /** Batches emitted but not yet deleted, at most. Default 4. */
  maxBatchesInFlight?: number;
  /** Most entry text (changes + txMeta) one read or one delete takes, unless one entry is larger. Default MAX_BATCH_BYTES (16 MiB). */
  maxBatchBytes?: number;
  /** How long start() waits for the first install (and the trigger to load), ms. Default 15000. */
  startWaitMs?: number;
}

interface InFlight {
  ids: string[];
  /** `bytes` of each entry, for sizing the deletes. */
  sizes: number[];
  done: boolean;
  settled: Promise<void>;
}

const MAX_BACKOFF_MS = 5000;
const STOP_SETTLE_MS = 5000;
const INSTALL_RETRY_MS = 30_000;
const TRIGGER_CHECK_MS = 5000;
const BACKLOG_REFRESH_MS = 1000;
const BACKLOG_WARN_EVERY_MS = 60_000;
const QUERY_TIMEOUT_MS = 30_000;

export class Neo4jApocSource implements EventSource {
  readonly name = 'neo4j-apoc';
  readonly database: string;
  private readonly maxBatchBytes: number;
  private state: SourceStatus['state'] = 'stopped';
  private reason: string | undefined;
  private emitted = 0;
  private lastSeq: string | undefined;
  private backlogCount = 0;
  private backlogAt = 0;
  private lastBacklogWarn = 0;
  /** Emitted batches, oldest first, until their entries are deleted. */
  private inflight: InFlight[] = [];
  /** Element ids of every entry in `inflight`. */
  private readonly inflightIds = new Set<string>();
  /** Sum of their `bytes` (they are read again, and skipped, while their delete is pending). */
  private inflightBytes = 0;
  /** The background delete of settled batches, while one runs. */
  private acking: Promise<void> | undefined;
  /** Why the last background delete failed; the next round reports it (degraded) and retries. */
  private ackError: unknown;
  /** The trigger is installed, current and loaded. */
  private triggerReady = false;
  private nextTriggerCheck = 0;
  private failures = 0;
  private stopping = false;
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private unsubscribe: (() => void) | undefined;
  private readonly log: Logger;

  constructor(private readonly opts: Neo4jApocSourceOptions) {
    this.database = opts.database ?? opts.db.defaultDatabase;
    this.maxBatchBytes = opts.maxBatchBytes ?? MAX_BATCH_BYTES;
    this.log = opts.logger;
  }

  get ordering(): Ordering {
    return this.opts.config.ordering ?? 'strict';
  }

  /** Undelivered outbox entries (transactions), as of the last count (refreshed at most once a second while polling). */
  backlog(): number {
    return this.backlogCount;
  }

  status(): SourceStatus {
    return {
      name: this.name,
      type: 'neo4j-apoc',
      state: this.state,
      ...(this.reason ? { reason: this.reason } : {}),
      emitted: this.emitted,
      details: { database: this.database, backlog: this.backlogCount, lastSeq: this.lastSeqPlain(), ordering: this.ordering, triggerLoaded: this.triggerReady },
    };
  }

  /** Starts polling; resolves after the first install attempt (bounded by startWaitMs), whatever its outcome. */
  async start(): Promise<void> {
    if (this.loop) return;
    this.stopping = false;
    this.state = 'starting';
    this.unsubscribe = this.opts.db.onConnectivity((up) => {
      if (up) {
        this.nextTriggerCheck = 0; // a restarted Neo4j reloads stored triggers; check once it answers
        this.wake?.();
      }
    });
    let firstRound!: () => void;
    const first = new Promise<void>((r) => (firstRound = r));
    this.loop = this.run(firstRound);
    const limit = new Promise<void>((r) => setTimeout(r, (this.opts.startWaitMs ?? 15_000) + 1000).unref());
    await Promise.race([first, limit]);
  }

  /**
   * Stops reading; waits (up to 5 s) for emitted batches to settle and deletes their entries. Entries whose
   * events have not settled by then stay in the outbox and are delivered again by the next start.
   */
  async stop(): Promise<void> {
    this.stopping = true;
    this.wake?.();
    await this.loop;
    this.loop = undefined;
    await this.acking;
    if (this.inflight.length > 0) {
      const last = this.inflight[this.inflight.length - 1]!;
      await Promise.race([last.settled, new Promise((r) => setTimeout(r, STOP_SETTLE_MS).unref())]);
      try {
        await this.ackSettled();
      } catch (err) {
        this.log.warn(`The neo4j-apoc source could not delete ${this.inflightIds.size} delivered outbox entries while stopping (${(err as Error).message}); they are delivered again, with the same event ids, after the next start.`);
      }
    }
    this.inflight = [];
    this.inflightIds.clear();
    this.inflightBytes = 0;
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    this.state = 'stopped';
    this.reason = undefined;
  }

  private lastSeqPlain(): number | string | null {
    if (this.lastSeq === undefined) return null;
    const n = Number(this.lastSeq);
    return Number.isSafeInteger(n) ? n : this.lastSeq;
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(done, ms);
      function done(): void {
        clearTimeout(t);
        resolve();
      }
      this.wake = () => {
        this.wake = undefined;
        done();
      };
    });
  }

  private async run(firstRound: () => void): Promise<void> {
    let first = true;
    while (!this.stopping) {
      let again = false;
      try {
        await this.ensureTrigger(first);
        again = await this.round();
        this.failures = 0;
        this.setHealthy();
      } catch (err) {
        this.failures++;
        this.setDegraded(err);
      }
      if (first) {
        first = false;
        firstRound();
      }
      if (this.stopping) break;
      if (this.failures > 0) await this.sleep(Math.min(MAX_BACKOFF_MS, this.opts.config.pollIntervalMs * 2 ** Math.min(this.failures, 10)));
      else if (again) await new Promise((r) => setImmediate(r));
      else await this.sleep(this.opts.config.pollIntervalMs);
    }
  }

  private setHealthy(): void {
    if (!this.triggerReady) return; // ensureTrigger set the reason
    if (this.state !== 'running') {
      if (this.state === 'degraded') this.log.info(`The neo4j-apoc source reads the outbox of the database ${this.database} again and delivers what was committed meanwhile.`);
      this.state = 'running';
      this.reason = undefined;
    }
  }

  private setDegraded(err: unknown): void {
    const reason = explainOutboxError(err, this.database, 'read the outbox').message;
    if (this.state !== 'degraded' || this.reason !== reason) {
      this.log.warn(`The neo4j-apoc source cannot read the outbox of the database ${this.database}: ${reason} It keeps retrying; every change committed meanwhile stays in the outbox and is delivered once it can read again.`);
    }
    this.state = 'degraded';
    this.reason = reason;
    this.triggerReady = false;
    this.nextTriggerCheck = 0;
  }

  /** Installs (install: true) or checks (install: false) the trigger, at start, after a reconnect, and while it is not loaded. */
  private async ensureTrigger(first: boolean): Promise<void> {
    if (this.triggerReady || Date.now() < this.nextTriggerCheck) return;
    const driver = this.opts.db.driver;
    if (this.opts.config.install) {
      try {
        const res = await installOutbox(driver, {
          database: this.database,
          ordering: this.ordering,
          waitMs: first ? (this.opts.startWaitMs ?? 15_000) : 0,
          log: (line) => this.log.info(line),
        });
        this.triggerReady = res.loaded;
        if (!res.loaded) {
          this.markWaiting(`The outbox trigger is stored but the database ${this.database} has not loaded it yet (APOC loads triggers every apoc.trigger.refresh ms, 60000 by default); changes are captured once it has.`);
          this.nextTriggerCheck = Date.now() + TRIGGER_CHECK_MS;
        } else if (first || res.trigger !== 'unchanged') {
          this.log.info(`The neo4j-apoc source captures the changes of the database ${this.database} (${this.ordering} ordering, trigger ${res.trigger}).`);
        }
      } catch (err) {
        const e = explainOutboxError(err, this.database, 'install the outbox');
        if (isConnectivity(e)) throw err;
        this.markWaiting(`${e.message} Heimdall retries in ${INSTALL_RETRY_MS / 1000} s; entries already in the outbox are still delivered.`, true);
        this.nextTriggerCheck = Date.now() + INSTALL_RETRY_MS;
      }
      return;
    }
    const { records } = await driver.executeQuery('CALL apoc.trigger.list() YIELD name, query, paused WHERE name = $name RETURN query, paused', { name: TRIGGER_NAME }, { database: this.database, routing: neo4j.routing.READ, transactionConfig: { timeout: QUERY_TIMEOUT_MS } });
    const loaded = records[0];
    const ordering = loaded ? orderingOf(loaded.get('query') as string) : undefined;
    if (!loaded || loaded.get('paused')) {
      this.triggerReady = false;
      this.markWaiting(`The outbox trigger ${TRIGGER_NAME} is ${loaded ? 'paused' : 'not installed'} in the database ${this.database} and sources[].install is false; run \`heimdall db install\`. Changes are not captured until then.`, true);
      this.nextTriggerCheck = Date.now() + INSTALL_RETRY_MS;
      return;
    }
    if (ordering !== this.ordering && this.reason === undefined) {
      this.log.warn(`The outbox trigger in the database ${this.database} uses ${ordering ?? 'an unknown'} ordering but the config asks for ${this.ordering}; run \`heimdall db install\` to replace it.`);
    }
    this.triggerReady = true;
  }

  private markWaiting(reason: string, degraded = false): void {
    if (this.reason !== reason) this.log.warn(reason);
    this.reason = reason;
    if (degraded || this.state !== 'starting') this.state = 'degraded';
  }

  /** One round: delete settled batches, read → emit the next batch; true when a full batch came back (read again at once). */
  private async round(): Promise<boolean> {
    const driver = this.opts.db.driver;
    if (this.ackError) {
      const err = this.ackError;
      this.ackError = undefined;
      throw err;
    }
    this.kickAck();
    const { batchSize } = this.opts.config;
    const unsettled = this.inflight.filter((b) => !b.done);
    if (unsettled.length >= (this.opts.maxBatchesInFlight ?? 4)) {
      // The plugins are behind: wait for the oldest batch (or the poll interval) before reading more.
      await Promise.race([unsettled[0]!.settled, this.sleep(this.opts.config.pollIntervalMs)]);
      return true;
    }
    if (this.acking && (this.inflightIds.size >= 10 * batchSize || this.inflightBytes >= 4 * this.maxBatchBytes)) {
      // Deletes are far behind (Neo4j is slow to commit): wait for them rather than re-reading ever more pending rows.
      await Promise.race([this.acking, this.sleep(this.opts.config.pollIntervalMs)]);
      return true;
    }
    const { records } = await driver.executeQuery(
      // Entries whose delete is pending come back too (they are still there); their text is not fetched again.
      `${OUTBOX_PREFIX}WITH o, elementId(o) AS id, $skip[elementId(o)] IS NOT NULL AS skip ` +
        'RETURN id, skip, o.seq AS seq, o.committedAt AS at, CASE WHEN skip THEN null ELSE o.txMeta END AS meta, CASE WHEN skip THEN null ELSE o.changes END AS changes, coalesce(o.bytes, size(o.changes) + size(o.txMeta), 0) AS bytes',
      { limit: neo4j.int(batchSize + this.inflightIds.size), maxBytes: neo4j.int(this.maxBatchBytes + this.inflightBytes), skip: Object.fromEntries([...this.inflightIds].map((id) => [id, true])) },
      { database: this.database, routing: neo4j.routing.READ, transactionConfig: { timeout: QUERY_TIMEOUT_MS } },
    );
    const returnedBytes = records.reduce((a, r) => a + neo4j.integer.toNumber(r.get('bytes') as neo4j.Integer), 0);
    // The bound in the query counts the pending entries too (one may just have been deleted): apply it to the new ones here.
    const fresh: typeof records = [];
    let freshBytes = 0;
    for (const r of records) {
      if (r.get('skip')) continue;
      if (fresh.length > 0 && freshBytes >= this.maxBatchBytes) break;
      fresh.push(r);
      freshBytes += neo4j.integer.toNumber(r.get('bytes') as neo4j.Integer);
    }
    if (fresh.length === 0) {
      await this.refreshBacklog(false);
      if (this.inflight[0]) await Promise.race([this.inflight[0].settled, this.sleep(this.opts.config.pollIntervalMs)]);
      return this.inflight.length > 0;
    }
    const events: DatabaseEvent[] = [];
    const ids: string[] = [];
    const sizes: number[] = [];
    const dead: string[] = [];
    for (const r of fresh) {
      const entry: OutboxEntry = {
        elementId: r.get('id') as string,
        seq: String(r.get('seq')),
        committedAt: neo4j.integer.toNumber(r.get('at') as neo4j.Integer),
        txMeta: (r.get('meta') as string | null) ?? '{}',
        changes: (r.get('changes') as string | null) ?? '{}',
      };
      this.checkGap(entry.seq);
      try {
        for (const ev of entryEvents(entry, this.database, this.name)) events.push(ev);
        ids.push(entry.elementId);
        sizes.push(neo4j.integer.toNumber(r.get('bytes') as neo4j.Integer));
      } catch (err) {
        this.log.error(`The outbox entry seq ${entry.seq} of the database ${this.database} cannot be read (${(err as Error).message}); its events are lost. It is kept as a (:HeimdallOutboxFailed) node for inspection.`);
        dead.push(entry.elementId);
      }
      this.lastSeq = entry.seq;
    }
    if (dead.length > 0) {
      await driver.executeQuery(
        `UNWIND $ids AS id MATCH (o:${OUTBOX_LABEL}) WHERE elementId(o) = id REMOVE o:${OUTBOX_LABEL} SET o:HeimdallOutboxFailed`,
        { ids: dead },
        { database: this.database, transactionConfig: { metadata: { ...ACK_METADATA }, timeout: QUERY_TIMEOUT_MS } },
      );
    }
    await this.emitInChunks(events);
    // Full: the limit or the size bound cut the read, so more entries are probably waiting.
    const full = fresh.length >= batchSize || returnedBytes >= this.maxBatchBytes + this.inflightBytes || freshBytes >= this.maxBatchBytes;
    const batch: InFlight = { ids, sizes, done: !this.opts.settled, settled: Promise.resolve() };
    if (this.opts.settled) {
      // Not a wake-up: the delete waits for the next round, so a steady trickle does not turn into busy polling.
      batch.settled = this.opts.settled().catch(() => undefined).then(() => {
        batch.done = true;
      });
    }
    this.inflight.push(batch);
    for (const id of ids) this.inflightIds.add(id);
    this.inflightBytes += sizes.reduce((a, b) => a + b, 0);
    if (!this.opts.settled) this.kickAck(); // emit returned: the router has the events
    await this.refreshBacklog(full);
    return full;
  }

  /** Emits `events`, in chunks that fit the consumers' room when a `room` function is given. */
  private async emitInChunks(events: DatabaseEvent[]): Promise<void> {
    const room = this.opts.room;
    let i = 0;
    while (i < events.length) {
      const free = room ? Math.floor(room()) : Infinity;
      if (free < 1) {
        await (this.opts.settled ? this.opts.settled() : new Promise((r) => setTimeout(r, 5)));
        continue;
      }
      const chunk = free >= events.length - i ? (i === 0 ? events : events.slice(i)) : events.slice(i, i + free);
      this.opts.emit(chunk);
      this.emitted += chunk.length;
      i += chunk.length;
    }
  }

  /**
   * Starts deleting settled batches in the background unless a delete is already running. Deletes are
   * writes, so a commit stall in Neo4j (log rotation, checkpoint) must not hold up reading and emitting
   * the next entries; the entries being deleted are skipped by the reads meanwhile.
   */
  private kickAck(): void {
    if (this.acking || !this.inflight[0]?.done) return;
    this.acking = this.ackSettled()
      .catch((err: unknown) => {
        this.ackError = err;
      })
      .finally(() => {
        this.acking = undefined;
      });
  }

  /** Deletes the entries of every settled batch at the head of the in-flight list (chunks of at most maxBatchBytes). */
  private async ackSettled(): Promise<void> {
    while (this.inflight[0]?.done) {
      const batch = this.inflight[0];
      while (batch.ids.length > 0) {
        let n = 0;
        let bytes = 0;
        while (n < batch.ids.length && (n === 0 || bytes + batch.sizes[n]! <= this.maxBatchBytes)) bytes += batch.sizes[n++]!;
        const ids = batch.ids.slice(0, n);
        await this.opts.db.driver.executeQuery(
          `UNWIND $ids AS id MATCH (o:${OUTBOX_LABEL}) WHERE elementId(o) = id DELETE o`,
          { ids },
          { database: this.database, transactionConfig: { metadata: { ...ACK_METADATA }, timeout: QUERY_TIMEOUT_MS } },
        );
        batch.ids.splice(0, n);
        batch.sizes.splice(0, n);
        this.inflightBytes -= bytes;
        for (const id of ids) this.inflightIds.delete(id);
      }
      this.inflight.shift();
    }
  }

  private checkGap(seq: string): void {
    if (this.ordering !== 'strict' || this.lastSeq === undefined) return;
    const prev = Number(this.lastSeq);
    const cur = Number(seq);
    if (cur < RELAXED_SEQ_FLOOR && prev < RELAXED_SEQ_FLOOR && cur > prev + 1) {
      this.log.error(`The outbox of the database ${this.database} skips from seq ${prev} to ${cur}: ${cur - prev - 1} transactions' entries were deleted by something other than Heimdall, and their events are lost.`);
    }
  }

  private async refreshBacklog(force: boolean): Promise<void> {
    const now = Date.now();
    if (!force && now - this.backlogAt < BACKLOG_REFRESH_MS) return;
    this.backlogAt = now;
    const { records } = await this.opts.db.driver.executeQuery(`MATCH (o:${OUTBOX_LABEL}) RETURN count(o) AS n`, {}, { database: this.database, routing: neo4j.routing.READ, transactionConfig: { timeout: QUERY_TIMEOUT_MS } });
    this.backlogCount = neo4j.integer.toNumber(records[0]!.get('n') as neo4j.Integer);
    const limit = this.opts.config.backlogWarning;
    if (this.backlogCount > limit && now - this.lastBacklogWarn >= BACKLOG_WARN_EVERY_MS) {
      this.lastBacklogWarn = now;
      this.log.warn(
        { backlog: this.backlogCount, backlogWarning: limit },
        `The outbox of the database ${this.database} holds ${this.backlogCount} undelivered transactions, more than backlogWarning (${limit}); Heimdall is behind the write rate (or was down) and catches up at up to ${this.opts.config.batchSize} transactions per poll.`,
      );
    }
  }
}

function isConnectivity(e: { neo4jCode?: string; message: string }): boolean {
  return e.neo4jCode === 'ServiceUnavailable' || e.neo4jCode === 'SessionExpired' || /not reachable/.test(e.message);
}
