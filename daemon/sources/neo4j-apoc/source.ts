/**
 * The `neo4j-apoc` source: durable change events from the transactional outbox that the APOC trigger
 * writes (outbox-trigger.ts), through the OutboxStore (outbox-store.ts). See ../README.md.
 *
 * One loop: make sure the trigger is in place (trigger-guard.ts), then one round of four steps —
 *   read    the next entries in seq order, bounded by batchSize and bytes, skipping those whose ack is pending;
 *   decode  entries → events (outbox-events.ts); an entry that cannot be read is dead-lettered;
 *   emit    the events, in chunks that fit the plugin queues (`room`);
 *   ack     once the batch's `settled` checkpoint passes, delete its entries in the background (in-flight.ts)
 * — again at once while full batches come back, else after pollIntervalMs. Only a crash between emit
 * and ack redelivers, with the same event ids. While the database is unreachable the source is
 * `degraded` and retries with backoff; the outbox keeps every committed change meanwhile.
 */
import type { Logger } from 'pino';
import type { Neo4jApocSourceConfig } from '../../../config/types.js';
import type { DatabaseEvent } from '../../../sdk/index.js';
import type { SourceStatus } from '../source.js';
import type { Database } from '../../db/database.js';
import type { Emit, EventSource } from '../source.js';
import { InFlight } from './in-flight.js';
import { explainOutboxError } from './outbox-errors.js';
import { decodeEntries, type DecodedEntries } from './outbox-events.js';
import { OutboxStore, type ReadResult, type StoredEntry } from './outbox-store.js';
import { FAILED_LABEL, RELAXED_SEQ_FLOOR, type Ordering } from './outbox-trigger.js';
import { TriggerGuard, type Waiting } from './trigger-guard.js';

export interface Neo4jApocSourceOptions {
  /** The daemon's database router (its default database, run() and connectivity watch are used). */
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
   * have left every plugin queue (handled, failed or dropped); see settle.ts. With it, entries are
   * deleted only after the plugins have handled their events (at-least-once up to the handlers, across
   * a kill -9) and at most maxBatchesInFlight batches are out at once, so a burst waits in the durable
   * outbox rather than in memory. Without it, entries are deleted as soon as emit returns.
   */
  settled?: () => Promise<void>;
  /**
   * Optional back-pressure: how many more events every consumer can take now (see roomInQueues in
   * settle.ts). A batch is then emitted in chunks that fit, waiting (for `settled`, or 5 ms) while
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

const MAX_BACKOFF_MS = 5000;
const STOP_SETTLE_MS = 5000;
const BACKLOG_REFRESH_MS = 1000;
const BACKLOG_WARN_EVERY_MS = 60_000;
const QUERY_TIMEOUT_MS = 30_000;

export class Neo4jApocSource implements EventSource {
  readonly name = 'neo4j-apoc';
  readonly database: string;
  private readonly store: OutboxStore;
  private readonly trigger: TriggerGuard;
  /** Emitted batches, oldest first, until their entries are acked. */
  private readonly inflight: InFlight;
  private state: SourceStatus['state'] = 'stopped';
  private reason: string | undefined;
  private emitted = 0;
  private lastSeq: string | undefined;
  private backlogCount = 0;
  private backlogAt = 0;
  private lastBacklogWarn = 0;
  private failures = 0;
  private stopping = false;
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private unsubscribe: (() => void) | undefined;
  private readonly log: Logger;

  constructor(private readonly opts: Neo4jApocSourceOptions) {
    this.database = opts.database ?? opts.db.defaultDatabase;
    this.log = opts.logger;
    this.store = new OutboxStore(opts.db, { database: this.database, maxBatchBytes: opts.maxBatchBytes, timeoutMs: QUERY_TIMEOUT_MS });
    this.trigger = new TriggerGuard({ store: this.store, ordering: this.ordering, install: opts.config.install, startWaitMs: opts.startWaitMs ?? 15_000, log: this.log });
    this.inflight = new InFlight((entries) => this.store.ack(entries));
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
      details: { database: this.database, backlog: this.backlogCount, lastSeq: this.lastSeqPlain(), ordering: this.ordering, triggerLoaded: this.trigger.ready },
    };
  }

  /** Starts polling; resolves after the first install attempt (bounded by startWaitMs), whatever its outcome. */
  async start(): Promise<void> {
    if (this.loop) return;
    this.stopping = false;
    this.state = 'starting';
    this.unsubscribe = this.opts.db.onConnectivity((up) => {
      if (up) {
        this.trigger.recheck(); // a restarted Neo4j reloads stored triggers; check once it answers
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
    const { unacked, error } = await this.inflight.drain(STOP_SETTLE_MS);
    if (error) {
      this.log.warn(`The neo4j-apoc source could not delete ${unacked} delivered outbox entries while stopping (${error.message}); they are delivered again, with the same event ids, after the next start.`);
    }
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    this.state = 'stopped';
    this.reason = undefined;
  }

  // ---- the loop ----------------------------------------------------------------------------------

  private async run(firstRound: () => void): Promise<void> {
    let first = true;
    while (!this.stopping) {
      let again = false;
      try {
        const waiting = await this.trigger.ensure(first);
        if (waiting) this.markWaiting(waiting);
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
      await this.pause(again);
    }
  }

  /** Between rounds: backoff after a failure, none while full batches come back, else the poll interval. */
  private pause(again: boolean): Promise<void> {
    const poll = this.opts.config.pollIntervalMs;
    if (this.failures > 0) return this.sleep(Math.min(MAX_BACKOFF_MS, poll * 2 ** Math.min(this.failures, 10)));
    if (again) return new Promise((r) => setImmediate(r));
    return this.sleep(poll);
  }

  /** One round of read → decode → emit → ack; true when more entries are probably waiting (read again at once). */
  private async round(): Promise<boolean> {
    this.inflight.takeAckError(); // a failed background ack makes this round fail (degraded); kick() retries it
    this.inflight.kick();
    if (await this.behind()) return true;
    const { entries, full } = await this.read();
    if (entries.length === 0) return this.idle();
    const { events, decoded, failed } = this.decode(entries);
    await this.deadLetter(failed);
    await this.emit(events);
    this.ack(decoded);
    await this.refreshBacklog(full);
    return full;
  }

  /** Waits instead of reading while the plugins or the acks are far behind; true when it waited. */
  private async behind(): Promise<boolean> {
    const poll = this.opts.config.pollIntervalMs;
    if (this.inflight.unsettled >= (this.opts.maxBatchesInFlight ?? 4)) {
      // The plugins are behind: wait for the oldest batch (or the poll interval) before reading more.
      await Promise.race([this.inflight.oldest(true), this.sleep(poll)]);
      return true;
    }
    const acking = this.inflight.ackRunning;
    if (acking && (this.inflight.ids.size >= 10 * this.opts.config.batchSize || this.inflight.bytes >= 4 * this.store.maxBatchBytes)) {
      // Acks are far behind (Neo4j is slow to commit): wait for them rather than re-reading ever more pending rows.
      await Promise.race([acking, this.sleep(poll)]);
      return true;
    }
    return false;
  }

  /** Nothing new in the outbox: refresh the backlog and wait for the oldest batch or the poll interval. */
  private async idle(): Promise<boolean> {
    await this.refreshBacklog(false);
    const oldest = this.inflight.oldest();
    if (oldest) await Promise.race([oldest, this.sleep(this.opts.config.pollIntervalMs)]);
    return this.inflight.size > 0;
  }

  // ---- the four steps ----------------------------------------------------------------------------

  /** Read: the next entries after those in flight. */
  private read(): Promise<ReadResult> {
    return this.store.read({ limit: this.opts.config.batchSize, pending: this.inflight });
  }

  /** Decode: entries → events, watching the sequence for gaps. */
  private decode(entries: readonly StoredEntry[]): DecodedEntries<StoredEntry> {
    for (const e of entries) this.observeSeq(e.seq);
    return decodeEntries(entries, this.database, this.name);
  }

  /** Entries that cannot be decoded are moved aside, so they do not block the outbox. */
  private async deadLetter(failed: DecodedEntries<StoredEntry>['failed']): Promise<void> {
    if (failed.length === 0) return;
    for (const { entry, reason } of failed) {
      this.log.error(`The outbox entry seq ${entry.seq} of the database ${this.database} cannot be read (${reason}); its events are lost. It is kept as a (:${FAILED_LABEL}) node for inspection.`);
    }
    await this.store.deadLetter(failed.map(({ entry, reason }) => ({ elementId: entry.elementId, reason })));
  }

  /** Emit: in chunks that fit the consumers' room when a `room` function is given. */
  private async emit(events: DatabaseEvent[]): Promise<void> {
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

  /** Ack: the entries are deleted once the batch's checkpoint passes (at once without one), in the background. */
  private ack(entries: StoredEntry[]): void {
    // Not a wake-up: with a checkpoint the ack waits for the next round, so a steady trickle does not turn into busy polling.
    this.inflight.add(entries, this.opts.settled?.());
    if (!this.opts.settled) this.inflight.kick(); // emit returned: the router has the events
  }

  // ---- state, sequence, backlog ------------------------------------------------------------------

  private setHealthy(): void {
    if (!this.trigger.ready) return; // the guard's Waiting set the reason
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
    this.trigger.invalidate();
  }

  private markWaiting(w: Waiting): void {
    if (this.reason !== w.reason) this.log.warn(w.reason);
    this.reason = w.reason;
    if (w.degraded || this.state !== 'starting') this.state = 'degraded';
  }

  /** Strict mode: a jump in seq means entries were deleted by someone else. */
  private observeSeq(seq: string): void {
    const prev = this.lastSeq === undefined ? undefined : Number(this.lastSeq);
    const cur = Number(seq);
    this.lastSeq = seq;
    if (this.ordering !== 'strict' || prev === undefined) return;
    if (cur < RELAXED_SEQ_FLOOR && prev < RELAXED_SEQ_FLOOR && cur > prev + 1) {
      this.log.error(`The outbox of the database ${this.database} skips from seq ${prev} to ${cur}: ${cur - prev - 1} transactions' entries were deleted by something other than Heimdall, and their events are lost.`);
    }
  }

  private lastSeqPlain(): number | string | null {
    if (this.lastSeq === undefined) return null;
    const n = Number(this.lastSeq);
    return Number.isSafeInteger(n) ? n : this.lastSeq;
  }

  private async refreshBacklog(force: boolean): Promise<void> {
    const now = Date.now();
    if (!force && now - this.backlogAt < BACKLOG_REFRESH_MS) return;
    this.backlogAt = now;
    this.backlogCount = await this.store.backlog();
    const limit = this.opts.config.backlogWarning;
    if (this.backlogCount > limit && now - this.lastBacklogWarn >= BACKLOG_WARN_EVERY_MS) {
      this.lastBacklogWarn = now;
      this.log.warn(
        { backlog: this.backlogCount, backlogWarning: limit },
        `The outbox of the database ${this.database} holds ${this.backlogCount} undelivered transactions, more than backlogWarning (${limit}); Heimdall is behind the write rate (or was down) and catches up at up to ${this.opts.config.batchSize} transactions per poll.`,
      );
    }
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
}
