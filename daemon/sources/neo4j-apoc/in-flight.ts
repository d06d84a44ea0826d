/**
 * The batches the neo4j-apoc source has emitted and not yet acknowledged, oldest first.
 *
 * A batch waits for its `settled` checkpoint (its events have left every plugin queue; without a
 * checkpoint it is settled at once), then its entries are acked — deleted from the outbox — strictly
 * in the order the batches were emitted. Acks are writes, so they run in the background: a commit
 * stall in Neo4j (log rotation, checkpoint) must not hold up reading and emitting the next entries.
 * Until its ack has finished an entry is still in the outbox; `keys` let the next read skip it. A
 * failed ack keeps its batch here; the source learns of it through takeAckError() and the
 * next kick() tries again, so nothing new is delivered ahead of an entry whose ack is owed.
 *
 * Each ack is a commit, and on a disk that makes commits slow every commit of the daemon's is one
 * the application waits behind. So acks are paced: one starts at least `gapMs` after the last one
 * started (the settled batches meanwhile are acked together), unless `flushAt` entries or more are
 * waiting. The entries stay in the outbox that much longer; their events were delivered already.
 */
import { pendingKey, type StoredEntry } from './outbox-store.js';

/** How acks are paced (see the top): the least time between the starts of two acks, and the clock. */
export interface AckPacing {
  gapMs: number;
  /** Settled entries at which an ack starts at once, gap or not. */
  flushAt: number;
  now(): number;
  /** Runs `fn` in `ms`; cancel() stops it. */
  later(fn: () => void, ms: number): { cancel(): void };
}

const NO_PACING: AckPacing = { gapMs: 0, flushAt: Number.POSITIVE_INFINITY, now: () => 0, later: () => ({ cancel: () => {} }) };

/** Real time: performance.now() and an unref'd timer. */
export function realPacing(gapMs: number, flushAt: number): AckPacing {
  return {
    gapMs,
    flushAt,
    now: () => performance.now(),
    later: (fn, ms) => {
      const t = setTimeout(fn, ms);
      t.unref();
      return { cancel: () => clearTimeout(t) };
    },
  };
}

interface Batch {
  entries: readonly StoredEntry[];
  done: boolean;
  settled: Promise<void>;
}

export class InFlight {
  private batches: Batch[] = [];
  /** pendingKey (element id and seq) of every entry in flight. */
  readonly keys = new Set<string>();
  /** Sum of their `bytes`. */
  bytes = 0;
  private acking: Promise<void> | undefined;
  private ackError: unknown;
  private lastAckAt = Number.NEGATIVE_INFINITY;
  private paced: { cancel(): void } | undefined;

  constructor(
    private readonly ack: (entries: readonly StoredEntry[]) => Promise<unknown>,
    private readonly pacing: AckPacing = NO_PACING,
  ) {}

  /** Batches in flight. */
  get size(): number {
    return this.batches.length;
  }

  /** Batches whose checkpoint has not passed yet. */
  get unsettled(): number {
    return this.batches.filter((b) => !b.done).length;
  }

  /** The background ack, while one runs. */
  get ackRunning(): Promise<void> | undefined {
    return this.acking;
  }

  /** Resolves when the oldest batch (or, with unsettledOnly, the oldest not yet settled) has settled; undefined when there is none. */
  oldest(unsettledOnly = false): Promise<void> | undefined {
    return (unsettledOnly ? this.batches.find((b) => !b.done) : this.batches[0])?.settled;
  }

  /** Adds an emitted batch; `settled` is its delivery checkpoint (none: settled now). */
  add(entries: readonly StoredEntry[], settled?: Promise<void>): void {
    const batch: Batch = { entries, done: !settled, settled: Promise.resolve() };
    if (settled) {
      batch.settled = settled.catch(() => undefined).then(() => {
        batch.done = true;
      });
    }
    this.batches.push(batch);
    for (const e of entries) this.keys.add(pendingKey(e));
    this.bytes += entries.reduce((a, e) => a + e.bytes, 0);
  }

  /** Throws (once) why the last background ack failed. */
  takeAckError(): void {
    if (this.ackError === undefined) return;
    const err = this.ackError;
    this.ackError = undefined;
    throw err;
  }

  /**
   * Starts acking the settled batches at the head in the background, unless an ack runs already; within `gapMs` of
   * the last ack's start (and with fewer than `flushAt` settled entries) it starts when the gap is over instead.
   */
  kick(): void {
    if (this.acking || !this.batches[0]?.done) return;
    const { gapMs, flushAt, now, later } = this.pacing;
    const due = this.lastAckAt + gapMs - now();
    if (due > 0 && this.settledEntries(flushAt) < flushAt) {
      this.paced ??= later(() => {
        this.paced = undefined;
        this.kick();
      }, due);
      return;
    }
    this.paced?.cancel();
    this.paced = undefined;
    this.lastAckAt = now();
    let failed = false;
    this.acking = this.ackSettled(gapMs > 0)
      .catch((err: unknown) => {
        failed = true;
        this.ackError = err;
      })
      .finally(() => {
        this.acking = undefined;
        // What settled while this ack ran goes in the next one, a gap after this one started.
        if (!failed && gapMs > 0) this.kick();
      });
  }

  /** Entries in the settled batches at the head, counted up to `atMost`. */
  private settledEntries(atMost: number): number {
    let n = 0;
    for (const b of this.batches) {
      if (!b.done || n >= atMost) break;
      n += b.entries.length;
    }
    return n;
  }

  /**
   * Acks every settled batch at the head, in order, in one ack call (the store splits it by bytes): with frequent
   * small batches one delete per batch would add a commit per poll to the application's write path. The batches
   * leave only once all their entries are deleted. `once`: one ack call, not again for what settled meanwhile.
   */
  async ackSettled(once = false): Promise<void> {
    for (let round = 0; this.batches[0]?.done && !(once && round > 0); round++) {
      let n = 0;
      while (this.batches[n]?.done) n++;
      const batches = this.batches.slice(0, n);
      await this.ack(n === 1 ? batches[0]!.entries : batches.flatMap((b) => b.entries));
      for (const batch of batches) {
        for (const e of batch.entries) this.keys.delete(pendingKey(e));
        this.bytes -= batch.entries.reduce((a, e) => a + e.bytes, 0);
      }
      this.batches.splice(0, n);
    }
  }

  /**
   * For stop(): waits for a running ack, then up to `settleMs` for the newest batch to settle, and acks what
   * has settled. Answers how many entries are left unacked (they are delivered again after the next start)
   * and, when the ack failed, why. Afterwards nothing is in flight.
   */
  async drain(settleMs: number): Promise<{ unacked: number; error?: Error }> {
    this.paced?.cancel();
    this.paced = undefined;
    await this.acking;
    const last = this.batches[this.batches.length - 1];
    let error: Error | undefined;
    if (last) {
      await Promise.race([last.settled, new Promise((r) => setTimeout(r, settleMs).unref())]);
      try {
        await this.ackSettled();
      } catch (err) {
        error = err as Error;
      }
    }
    const unacked = this.keys.size;
    this.batches = [];
    this.keys.clear();
    this.bytes = 0;
    this.ackError = undefined;
    return { unacked, ...(error ? { error } : {}) };
  }
}
