/**
 * The batches a plugin host has handed to its worker and not yet had answered, oldest first (the
 * worker answers them in order), with their sequence numbers, and the waiters of restart() for the
 * moment none is left. At most MAX_BATCHES_IN_FLIGHT are here at once (the host checks).
 */
import type { DatabaseEvent } from '../../sdk/index.js';

export interface SentBatch {
  /** Increasing per host; the worker writes it to PROGRESS.BATCH_SEQ when it starts the batch. */
  seq: number;
  batch: DatabaseEvent[];
  /** performance.now() when it was sent. */
  startedAt: number;
  /** A suspect event sent alone (poison-events.ts): nothing else goes while it is in flight. */
  careful: boolean;
}

export class InFlightBatches {
  private list: SentBatch[] = [];
  private nextSeq = 1;
  private waiters: Array<() => void> = [];

  /** Oldest first, as crash accounting reads them. */
  get batches(): readonly SentBatch[] {
    return this.list;
  }
  get length(): number {
    return this.list.length;
  }
  /** Whether a suspect event is in flight alone. */
  get careful(): boolean {
    return this.list.some((b) => b.careful);
  }

  /** Records a batch being sent and gives it the next sequence number. */
  add(batch: DatabaseEvent[], careful: boolean): SentBatch {
    const entry = { seq: this.nextSeq++, batch, startedAt: performance.now(), careful };
    this.list.push(entry);
    return entry;
  }

  /** The oldest batch was answered. */
  shift(): void {
    this.list.shift();
    if (this.list.length === 0) this.notify();
  }

  /** Forgets every batch (settled elsewhere, or ignored from now on). */
  clear(): void {
    this.list = [];
    this.notify();
  }

  /** Resolves when no batch is in flight. */
  whenEmpty(): Promise<void> {
    if (this.list.length === 0) return Promise.resolve();
    return new Promise((r) => this.waiters.push(r));
  }

  private notify(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }
}
