/**
 * The `neo4j-apoc` source: durable change events from the transactional outbox that the APOC trigger
 * writes (outbox-trigger.ts), through the OutboxStore (outbox-store.ts). See ../README.md.
 *
 * One loop: make sure the trigger is in place (trigger-guard.ts), then one round of four steps —
 *   read    the next entries in seq order, bounded by batchSize and bytes, skipping those whose ack is pending;
 *   decode  entries → events (outbox-events.ts); an entry that cannot be read is dead-lettered;
 *   emit    the events, in chunks that fit the plugin queues (`room`);
 *   ack     once the batch's `settled` checkpoint passes, delete its entries in the background (in-flight.ts)
 * — again at once while full batches come back, MIN_POLL_MS (5 ms) after a round that found entries, and against
 * an empty outbox after a wait that doubles from 5 ms up to pollIntervalMs once a busy spell's hold has passed
 * (poll-pacer.ts). Only a crash between emit
 * and ack redelivers, with the same event ids. While the database is unreachable the source is
 * `degraded` and retries with backoff; the outbox keeps every committed change meanwhile.
 *
 * Beside the loop, the watchdog (watchdog.ts) checks every checkIntervalMs that capture is still on:
 * trigger installed, current and not paused, sequence not moved backwards. What it finds raises an
 * alarm (capture-alarm.ts: a Bifrost error notice through `notify`, degraded with the reason) and, with
 * `reinstall` (and `install`), makes the next round install again. Checks and installs never overlap.
 */
import type { Logger } from 'pino';
import type { DatabaseEvent } from '../../../sdk/index.js';
import type { EventSource, SourceStatus } from '../source.js';
import { CaptureAlarm } from './capture-alarm.js';
import { InFlight, realPacing } from './in-flight.js';
import { explainOutboxError } from './outbox-errors.js';
import { decodeEntries, type DecodedEntries } from './outbox-events.js';
import { OutboxStore, type ReadResult, type StoredEntry } from './outbox-store.js';
import { PollPacer } from './poll-pacer.js';
import { FAILED_LABEL, type Ordering } from './outbox-trigger.js';
import { TriggerGuard, type Waiting } from './trigger-guard.js';
import type { Neo4jApocSourceOptions } from './source-options.js';
import { CaptureWatchdog, inspect, systemTimer } from './watchdog.js';

export type { Neo4jApocSourceOptions, Notify } from './source-options.js';

const MAX_BACKOFF_MS = 5000;
const STOP_SETTLE_MS = 5000;
const BACKLOG_REFRESH_MS = 1000;
const BACKLOG_WARN_EVERY_MS = 60_000;
const QUERY_TIMEOUT_MS = 30_000;
/**
 * The least time between the starts of two acks (deletes of delivered entries, in-flight.ts): with a steady writer
 * each ack would otherwise be a commit for every few of the application's, which it waits behind on a slow disk.
 */
export const ACK_GAP_MS = 50;

/** What a round found: a full batch (read again at once), some entries, none, or a batch whose ack is due ('ack': at once). */
type Found = 'full' | 'some' | 'none' | 'ack';

export class Neo4jApocSource implements EventSource {
  readonly name = 'neo4j-apoc';
  readonly database: string;
  private readonly store: OutboxStore;
  private readonly trigger: TriggerGuard;
  private readonly alarm: CaptureAlarm;
  private readonly watchdog: CaptureWatchdog;
  /** Emitted batches, oldest first, until their entries are acked. */
  private readonly inflight: InFlight;
  private state: SourceStatus['state'] = 'stopped';
  private reason: string | undefined;
  /** Why the source is degraded: a failed round, the watchdog's alarm, or the guard waiting for the trigger. */
  private degradedBy: 'failure' | 'alarm' | 'waiting' | undefined;
  /** What the trigger guard last answered while the trigger is not in place (told beside the alarm's reason). */
  private waiting: Waiting | undefined;
  /** Installs (the loop's guard) and watchdog checks run one at a time. */
  private exclusive: Promise<unknown> = Promise.resolve();
  private emitted = 0;
  private lastSeq: string | undefined;
  private backlogCount = 0;
  private backlogAt = 0;
  private lastBacklogWarn = 0;
  private failures = 0;
  /** The waits between reads (the idle backoff, and the hold after a busy spell). */
  private readonly pacer: PollPacer;
  private stopping = false;
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private unsubscribe: (() => void) | undefined;
  private readonly log: Logger;

  constructor(private readonly opts: Neo4jApocSourceOptions) {
    this.database = opts.database ?? opts.db.defaultDatabase;
    this.log = opts.logger;
    this.store = new OutboxStore(opts.db, { database: this.database, maxBatchBytes: opts.maxBatchBytes, timeoutMs: QUERY_TIMEOUT_MS, capture: opts.config.capture ?? 'auto' });
    const { install, reinstall } = opts.config;
    const checkIntervalMs = opts.config.checkIntervalMs;
    const store = this.store;
    this.alarm = new CaptureAlarm({
      database: this.database,
      ordering: this.ordering,
      get capture() {
        return store.capture; // settled by the first install (capture: auto)
      },
      reinstall: install && reinstall,
      noReinstallBecause: install ? 'its neo4j-apoc source has reinstall: false' : 'its neo4j-apoc source has install: false',
      checkIntervalMs,
      notify: opts.notify ?? (() => {}),
      log: this.log,
      now: opts.now ?? Date.now,
      changed: () => this.refreshState(),
    });
    this.trigger = new TriggerGuard({
      store: this.store,
      ordering: this.ordering,
      install,
      startWaitMs: opts.startWaitMs ?? 15_000,
      log: this.log,
      minSeq: () => this.alarm.highestSeq,
      onInstalled: (res) => this.alarm.installed(res),
    });
    this.watchdog = new CaptureWatchdog({ intervalMs: checkIntervalMs, timer: opts.timer ?? systemTimer, check: () => this.check() });
    this.inflight = new InFlight((entries) => this.store.ack(entries), realPacing(ACK_GAP_MS, opts.config.batchSize));
    this.pacer = new PollPacer(opts.config.pollIntervalMs);
  }

  get ordering(): Ordering {
    return this.opts.config.ordering ?? 'relaxed';
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
      details: { database: this.database, backlog: this.backlogCount, lastSeq: this.lastSeqPlain(), epoch: this.alarm.epoch ?? null, ordering: this.ordering, capture: this.store.captureSettled ? this.store.capture : null, triggerLoaded: this.trigger.ready },
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
    this.watchdog.start();
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
    await this.watchdog.stop();
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
    this.degradedBy = undefined;
  }

  /**
   * One watchdog check now (the timer calls it every checkIntervalMs): reads what is in place, raises or ends the
   * alarm, moves the sequence to a new epoch when ids would repeat, and asks the loop to reinstall when it may.
   * Skipped while the trigger guard has not got the trigger in place (its own reason stands meanwhile).
   */
  check(): Promise<void> {
    return this.serial(async () => {
      if (this.stopping || !this.trigger.ready) return;
      const expected = { ...this.alarm.expectation(), capture: this.store.capture }; // before the read: what was delivered by then was committed by then
      const snap = await this.store.watch();
      const act = this.alarm.checked(inspect(snap, expected), snap);
      if (act.bumpEpochAbove !== undefined) {
        const epoch = await this.store.bumpEpoch(act.bumpEpochAbove);
        if (epoch) this.alarm.bumped(epoch);
      }
      if (act.reinstall) {
        this.trigger.invalidate();
        this.wake?.();
      }
      this.refreshState();
    });
  }

  // ---- the loop ----------------------------------------------------------------------------------

  private async run(firstRound: () => void): Promise<void> {
    let first = true;
    while (!this.stopping) {
      let found: Found = 'none';
      try {
        // Only when there is something to install or check: waiting behind a watchdog check (its reads of the
        // system database take tens of milliseconds) for nothing stalled delivery every checkIntervalMs.
        const waiting = this.trigger.due ? await this.serial(() => this.trigger.ensure(first)) : undefined;
        if (waiting) this.markWaiting(waiting);
        found = await this.round();
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
      await this.pause(found);
    }
  }

  /**
   * Between rounds: backoff after a failure; none while full batches come back or a settled batch waits for its ack;
   * MIN_POLL_MS after a round that found entries (so a steady write rate is followed within milliseconds without a
   * query storm); and against an empty outbox the pacer's wait (poll-pacer.ts: MIN_POLL_MS for a while after a busy
   * spell, then doubling up to pollIntervalMs, so the idle cost stays one read per pollIntervalMs).
   */
  private pause(found: Found): Promise<void> {
    const poll = this.opts.config.pollIntervalMs;
    if (this.failures > 0) return this.sleep(Math.min(MAX_BACKOFF_MS, poll * 2 ** Math.min(this.failures, 10)));
    const now = performance.now();
    if (found === 'full' || found === 'some') this.pacer.found(now);
    if (found === 'full' || found === 'ack') return new Promise((r) => setImmediate(r));
    if (found === 'some') return this.sleep(this.pacer.currentIdleMs);
    return this.sleep(this.pacer.emptyWait(now));
  }

  /** One round of read → decode → emit → ack; says what it found (see pause). */
  private async round(): Promise<Found> {
    this.inflight.takeAckError(); // a failed background ack makes this round fail (degraded); kick() retries it
    this.inflight.kick();
    if (await this.behind()) return 'ack';
    const { entries, full } = await this.read();
    for (const e of entries) this.alarm.observe(e.epoch, e.seq);
    if (entries.length === 0) return this.idle();
    const { events, decoded, failed } = this.decode(entries);
    await this.deadLetter(failed);
    await this.emit(events);
    this.ack(decoded);
    await this.refreshBacklog(full);
    return full ? 'full' : 'some';
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
    if (acking && (this.inflight.keys.size >= 10 * this.opts.config.batchSize || this.inflight.bytes >= 4 * this.store.maxBatchBytes)) {
      // Acks are far behind (Neo4j is slow to commit): wait for them rather than re-reading ever more pending rows.
      await Promise.race([acking, this.sleep(poll)]);
      return true;
    }
    return false;
  }

  /**
   * Nothing new in the outbox: refresh the backlog; while a batch has not settled, wait for it (or the idle interval)
   * and answer 'ack' so that the next round acks it at once; else 'none'.
   */
  private async idle(): Promise<Found> {
    await this.refreshBacklog(false);
    const unsettled = this.inflight.oldest(true);
    if (!unsettled) return 'none';
    await Promise.race([unsettled, this.sleep(this.pacer.currentIdleMs)]);
    return 'ack';
  }

  // ---- the four steps ----------------------------------------------------------------------------

  /** Read: the next entries after those in flight. */
  private read(): Promise<ReadResult> {
    return this.store.read({ limit: this.opts.config.batchSize, pending: this.inflight });
  }

  /** Decode: entries → events (they went through the gap check already). */
  private decode(entries: readonly StoredEntry[]): DecodedEntries<StoredEntry> {
    this.lastSeq = entries[entries.length - 1]?.seq ?? this.lastSeq;
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
    if (this.trigger.ready && (this.degradedBy === 'failure' || this.degradedBy === 'waiting')) {
      this.log.info(`The neo4j-apoc source reads the outbox of the database ${this.database} again and delivers what was committed meanwhile.`);
    }
    if (this.trigger.ready && this.degradedBy !== 'alarm') this.degradedBy = undefined;
    this.refreshState();
  }

  /**
   * Degraded with the alarm's reason while the watchdog's alarm is raised (it says more than anything else); else
   * running once the trigger is in place, unless a failed round's reason stands (until a round succeeds) or the
   * guard's Waiting (until the trigger is in place).
   */
  private refreshState(): void {
    if (this.stopping) return;
    if (this.trigger.ready) this.waiting = undefined;
    const alarm = this.alarm.reason;
    if (alarm) {
      this.state = 'degraded';
      // A reinstall that fails (or waits for the database to load the trigger) says why after the alarm.
      this.reason = this.waiting ? `${alarm} ${this.waiting.reason}` : alarm;
      this.degradedBy = 'alarm';
      return;
    }
    if (this.degradedBy === 'alarm') this.degradedBy = undefined;
    if (this.degradedBy === 'failure' || !this.trigger.ready) return;
    this.state = 'running';
    this.reason = undefined;
    this.degradedBy = undefined;
  }

  private setDegraded(err: unknown): void {
    const reason = explainOutboxError(err, this.database, 'read the outbox').message;
    if (this.state !== 'degraded' || this.reason !== reason) {
      this.log.warn(`The neo4j-apoc source cannot read the outbox of the database ${this.database}: ${reason} It keeps retrying; every change committed meanwhile stays in the outbox and is delivered once it can read again.`);
    }
    this.state = 'degraded';
    this.reason = reason;
    this.degradedBy = 'failure';
    this.trigger.invalidate();
  }

  private markWaiting(w: Waiting): void {
    if (this.waiting?.reason !== w.reason) this.log.warn(w.reason);
    this.waiting = w;
    if (this.alarm.reason) return; // refreshState tells it after the alarm's reason
    this.reason = w.reason;
    if (w.degraded || this.state !== 'starting') {
      this.state = 'degraded';
      this.degradedBy = 'waiting';
    }
  }

  /** Runs fn after every install or check started before it has finished. */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.exclusive.then(fn, fn);
    this.exclusive = run.catch(() => undefined);
    return run;
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
