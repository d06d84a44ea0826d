/**
 * The bounded queue of async invocations, run under a concurrency limit (async-mutex Semaphore).
 * `capacity` bounds the invocations waiting for a slot (beyond the `concurrency` running ones); an
 * offer beyond it is refused (the caller counts and reports it). Nothing here is unbounded.
 */
import { E_CANCELED, Semaphore } from 'async-mutex';

export interface QueuedJob {
  run(): Promise<void>;
  /** Called instead of run() when the queue is closed before the job got a slot. */
  cancel(reason: string): void;
}

export class InvocationQueue {
  private readonly sem: Semaphore;
  private closed = false;
  /** Accepted jobs that have not finished (waiting + running). */
  private inSystem = 0;
  running = 0;
  /** Largest number of jobs seen running at once. */
  maxRunning = 0;

  constructor(
    readonly capacity: number,
    readonly concurrency: number,
  ) {
    this.sem = new Semaphore(concurrency);
  }

  /** Jobs accepted but not started (those that will start at once included until they do). */
  get waiting(): number {
    return this.inSystem - this.running;
  }

  /** Whether an offer now would be refused. */
  get full(): boolean {
    return this.closed || Math.max(0, this.inSystem - this.concurrency) >= this.capacity;
  }

  /** Queues the job; false when the queue is full or closed. */
  offer(job: QueuedJob): boolean {
    if (this.full) return false;
    this.inSystem++;
    this.sem
      .runExclusive(async () => {
        this.running++;
        if (this.running > this.maxRunning) this.maxRunning = this.running;
        try {
          await job.run();
        } finally {
          this.running--;
          this.inSystem--;
        }
      })
      .catch((err: unknown) => {
        if (err === E_CANCELED) {
          this.inSystem--;
          job.cancel('shutdown');
        }
      });
    return true;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Refuses new jobs and cancels every job still waiting for a slot; running jobs finish. */
  close(): void {
    this.closed = true;
    this.sem.cancel();
  }
}
