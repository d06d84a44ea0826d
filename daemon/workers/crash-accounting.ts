/**
 * Settling the batches a worker had when it died, from the progress buffer it kept up to date
 * (protocol.ts PROGRESS): batches before the one it was working on had finished; that one finished
 * up to PROGRESS.COMPLETED; if a handler was running, its event is the one that took the worker
 * down and counts as delivered and failed; everything after it never ran and goes back to the head
 * of the queue, in order, for the next worker.
 */
import { PROGRESS } from './protocol.js';

/** One batch handed to the worker and not yet answered. */
export interface InFlightBatch<T> {
  seq: number;
  batch: T[];
}

/** The queue calls crash accounting makes (BoundedQueue has them). */
export interface SettlingQueue<T> {
  settle(delivered: number, failed: number): void;
  requeueFront(items: T[]): void;
}

export interface CrashSettlement<T> {
  /** The event whose handler was running when the worker died (counted as failed). */
  lost: T | undefined;
  /** Events put back at the head of the queue. */
  requeued: number;
}

/** Settles `inFlight` (oldest first) against `progress` and requeues what never ran. */
export function settleCrashedBatches<T>(inFlight: readonly InFlightBatch<T>[], progress: Float64Array, queue: SettlingQueue<T>): CrashSettlement<T> {
  const current = progress[PROGRESS.BATCH_SEQ]!;
  const unrun: T[] = [];
  let lost: T | undefined;
  for (const { seq, batch } of inFlight) {
    if (seq < current) {
      queue.settle(batch.length, 0);
    } else if (seq > current) {
      unrun.push(...batch);
    } else {
      const completed = progress[PROGRESS.COMPLETED]!;
      let failed = progress[PROGRESS.FAILED]!;
      let settled = completed;
      if (progress[PROGRESS.HANDLER_STARTED_AT]! > 0 && completed < batch.length) {
        lost = batch[completed];
        settled++;
        failed++;
      }
      queue.settle(settled, failed);
      unrun.push(...batch.slice(settled));
    }
  }
  // the requeued events were counted in flight: move them back in front of what waits
  if (unrun.length > 0) queue.requeueFront(unrun);
  return { lost, requeued: unrun.length };
}
