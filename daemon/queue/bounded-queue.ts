/**
 * A bounded FIFO with exact accounting, one per plugin.
 *
 * Invariant at every moment: received = delivered + droppedTotal + queued, where queued counts
 * events waiting plus events in flight (taken by the worker, handler not yet returned). An event
 * put in quarantine (it took its worker down) is delivered and failed; an operator's retry of it
 * is a new receive (pushFront).
 * `capacity` bounds waiting + in flight. When full, `drop_newest` refuses the incoming event and
 * `drop_oldest` evicts the oldest waiting one (events in flight are never evicted; if nothing is
 * waiting the incoming event is dropped instead). A queue can be given a new capacity and policy
 * (a plugin restarted with a changed queue: section keeps its queue and its counters).
 */
import type { WhenFull } from '../../config/types.js';

/** Why events were dropped; `paused`: the queue of a paused plugin was full (`heimdall plugins pause`). */
export type DropReason = 'queue_full' | 'paused' | 'plugin_failed' | 'plugin_stopped' | 'shutdown';

/** Exact per-plugin accounting: received = delivered + dropped + queued at every moment. */
export interface QueueCounters {
  received: number;
  delivered: number;
  /** Dropped events by reason (queue_full, plugin_failed, shutdown, …). */
  dropped: Record<string, number>;
  droppedTotal: number;
  /** Handler threw or timed out (a subset of delivered). */
  failed: number;
  /** Waiting plus in flight. */
  queued: number;
  inFlight: number;
  highWaterMark: number;
  capacity: number;
  whenFull: WhenFull;
}

export class BoundedQueue<T> {
  private ring: (T | undefined)[];
  private head = 0;
  private size = 0;
  private inFlightCount = 0;
  private receivedCount = 0;
  private deliveredCount = 0;
  private failedCount = 0;
  private droppedTotalCount = 0;
  private readonly droppedByReason = new Map<string, number>();
  private highWater = 0;
  /** Drops since the last call to {@link takeDropsSinceLastSummary}. */
  private dropsSinceSummary = new Map<string, number>();

  private cap: number;
  private policy: WhenFull;

  constructor(capacity: number, whenFull: WhenFull) {
    checkCapacity(capacity);
    this.cap = capacity;
    this.policy = whenFull;
    this.ring = new Array(capacity);
  }

  /** Bound of waiting plus in flight. */
  get capacity(): number {
    return this.cap;
  }
  get whenFull(): WhenFull {
    return this.policy;
  }

  /**
   * Gives the queue a new capacity and policy, keeping its events (in order) and its counters.
   * When fewer fit than are queued, the newest waiting events (drop_newest) or the oldest
   * (drop_oldest) are dropped, reason queue_full; events in flight are never dropped here.
   * Returns how many were dropped.
   */
  resize(capacity: number, whenFull: WhenFull): number {
    checkCapacity(capacity);
    const waiting: T[] = [];
    for (let i = 0; i < this.size; i++) waiting.push(this.ring[(this.head + i) % this.cap] as T);
    const excess = Math.max(0, Math.min(waiting.length, waiting.length + this.inFlightCount - capacity));
    const kept = whenFull === 'drop_oldest' ? waiting.slice(excess) : waiting.slice(0, waiting.length - excess);
    this.cap = capacity;
    this.policy = whenFull;
    this.ring = new Array(capacity);
    this.head = 0;
    this.size = 0;
    for (const item of kept) this.ring[this.size++] = item;
    if (excess > 0) this.countDrop('queue_full', excess);
    return excess;
  }

  /** Events waiting (not in flight). */
  get waiting(): number {
    return this.size;
  }
  get inFlight(): number {
    return this.inFlightCount;
  }
  /** Waiting plus in flight. */
  get queued(): number {
    return this.size + this.inFlightCount;
  }

  /**
   * Offers one event. Returns false when it (or an older one, for drop_oldest) was dropped, with
   * reason `whenFullReason` (queue_full, or paused for the queue of a paused plugin).
   */
  push(item: T, whenFullReason: DropReason = 'queue_full'): boolean {
    this.receivedCount++;
    if (this.size + this.inFlightCount >= this.cap) {
      if (this.policy === 'drop_oldest' && this.size > 0) {
        this.ring[this.head] = undefined;
        this.head = (this.head + 1) % this.cap;
        this.size--;
        this.countDrop(whenFullReason, 1);
      } else {
        this.countDrop(whenFullReason, 1);
        return false;
      }
      this.append(item);
      return false;
    }
    this.append(item);
    return true;
  }

  /**
   * Puts one event at the head of the waiting events, counted as received (a quarantined event an
   * operator retries). Refuses, counting nothing, when the queue is full.
   */
  pushFront(item: T): boolean {
    if (this.size + this.inFlightCount >= this.capacity) return false;
    this.receivedCount++;
    this.head = (this.head - 1 + this.capacity) % this.capacity;
    this.ring[this.head] = item;
    this.size++;
    const q = this.size + this.inFlightCount;
    if (q > this.highWater) this.highWater = q;
    return true;
  }

  private append(item: T): void {
    this.ring[(this.head + this.size) % this.cap] = item;
    this.size++;
    const q = this.size + this.inFlightCount;
    if (q > this.highWater) this.highWater = q;
  }

  /** The oldest waiting event, left in place. */
  peek(): T | undefined {
    return this.size > 0 ? this.ring[this.head] : undefined;
  }

  /** Takes up to `max` waiting events; they stay counted as queued (in flight) until settled. */
  take(max: number): T[] {
    const n = Math.min(max, this.size);
    const out = new Array<T>(n);
    for (let i = 0; i < n; i++) {
      out[i] = this.ring[this.head] as T;
      this.ring[this.head] = undefined;
      this.head = (this.head + 1) % this.cap;
    }
    this.size -= n;
    this.inFlightCount += n;
    return out;
  }

  /** Marks `delivered` in-flight events as handled (`failed` of them threw). */
  settle(delivered: number, failed: number): void {
    if (delivered > this.inFlightCount) throw new RangeError(`Cannot settle ${delivered} events; only ${this.inFlightCount} are in flight.`);
    this.inFlightCount -= delivered;
    this.deliveredCount += delivered;
    this.failedCount += failed;
  }

  /** Puts in-flight events that were never handled back at the head, in their original order. */
  requeueFront(items: T[]): void {
    if (items.length > this.inFlightCount) throw new RangeError(`Cannot requeue ${items.length} events; only ${this.inFlightCount} are in flight.`);
    this.inFlightCount -= items.length;
    for (let i = items.length - 1; i >= 0; i--) {
      this.head = (this.head - 1 + this.cap) % this.cap;
      this.ring[this.head] = items[i];
      this.size++;
    }
  }

  /** Drops every waiting event (and, with `includeInFlight`, counts in-flight ones as dropped too). */
  dropAll(reason: DropReason, includeInFlight = false): number {
    const n = this.size + (includeInFlight ? this.inFlightCount : 0);
    this.ring.fill(undefined);
    this.head = 0;
    this.size = 0;
    if (includeInFlight) this.inFlightCount = 0;
    if (n > 0) this.countDrop(reason, n);
    return n;
  }

  /** Counts an event that was refused before it could be queued (e.g. the plugin has failed). */
  refuse(reason: DropReason): void {
    this.receivedCount++;
    this.countDrop(reason, 1);
  }

  private countDrop(reason: string, n: number): void {
    this.droppedTotalCount += n;
    this.droppedByReason.set(reason, (this.droppedByReason.get(reason) ?? 0) + n);
    this.dropsSinceSummary.set(reason, (this.dropsSinceSummary.get(reason) ?? 0) + n);
  }

  /** Drops by reason since the previous call (for the periodic drop summary), then resets. */
  takeDropsSinceLastSummary(): Record<string, number> | undefined {
    if (this.dropsSinceSummary.size === 0) return undefined;
    const out = Object.fromEntries(this.dropsSinceSummary);
    this.dropsSinceSummary = new Map();
    return out;
  }

  counters(): QueueCounters {
    return {
      received: this.receivedCount,
      delivered: this.deliveredCount,
      dropped: Object.fromEntries(this.droppedByReason),
      droppedTotal: this.droppedTotalCount,
      failed: this.failedCount,
      queued: this.size + this.inFlightCount,
      inFlight: this.inFlightCount,
      highWaterMark: this.highWater,
      capacity: this.cap,
      whenFull: this.policy,
    };
  }
}

function checkCapacity(capacity: number): void {
  if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`Queue capacity must be a positive integer; got ${capacity}.`);
}
