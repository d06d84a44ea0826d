/**
 * Settling the batches a worker had when it died, from the progress buffer it kept up to date
 * (protocol.ts PROGRESS): batches before the one it was working on had finished; that one finished
 * up to PROGRESS.COMPLETED. What did not finish — the event whose handler was running, the events
 * that never ran — is left to the plugin host, which decides what took the worker down
 * (poison-events.ts) and requeues the rest at the head of the queue, in order.
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
  /** The event whose handler was running when the worker died; still counted in flight. */
  running: T | undefined;
  /** Events that never ran (after `running`), oldest first; still counted in flight. */
  unrun: T[];
  /** Events of the batch whose own task failed without the batch being started (see `failedSeq`). */
  failedBatch: T[] | undefined;
}

/**
 * Settles what finished in `inFlight` (oldest first) against `progress`: batches before the one the
 * worker was on are delivered, that one up to PROGRESS.COMPLETED (its failures counted). What did
 * not finish stays in flight for the caller to requeue, quarantine or count: the event whose
 * handler was running, and the events that never ran. `failedSeq` names the batch whose task
 * failed, when the failure was a task's own (its batch could not be sent) rather than the worker's.
 */
export function settleCrashedBatches<T>(inFlight: readonly InFlightBatch<T>[], progress: Float64Array, queue: SettlingQueue<T>, failedSeq?: number): CrashSettlement<T> {
  const current = progress[PROGRESS.BATCH_SEQ]!;
  const unrun: T[] = [];
  let running: T | undefined;
  let failedBatch: T[] | undefined;
  for (const { seq, batch } of inFlight) {
    // The batch whose own task failed never ran, also when the worker went on to a later one (its
    // events could not be cloned into the worker, so the worker never saw them).
    if (failedSeq !== undefined && seq === failedSeq && seq !== current) {
      failedBatch = batch;
      unrun.push(...batch);
      continue;
    }
    if (seq < current) {
      queue.settle(batch.length, 0);
    } else if (seq > current) {
      unrun.push(...batch);
    } else {
      const completed = progress[PROGRESS.COMPLETED]!;
      const failed = progress[PROGRESS.FAILED]!;
      queue.settle(completed, failed);
      if (progress[PROGRESS.HANDLER_STARTED_AT]! > 0 && completed < batch.length) {
        running = batch[completed];
        unrun.push(...batch.slice(completed + 1));
      } else {
        unrun.push(...batch.slice(completed));
      }
    }
  }
  return { running, unrun, failedBatch };
}
