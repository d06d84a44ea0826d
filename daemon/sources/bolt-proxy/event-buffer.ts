/**
 * The tap's output: a bounded buffer between the relay and the consumer (the router's emit).
 *
 * push() never blocks and never waits: the relay's callbacks only append. A flush runs as a
 * microtask, once the socket callback that pushed has returned (the bytes it read are already on
 * their way to the other side), and hands the consumer up to `batchSize` events at a time: the
 * events of one chunk go together, and none waits for the rest of the event loop's poll phase (the
 * other connections' reads). With setImmediate instead, that wait was the buffer's whole hand-off
 * time: p99 1.5–4.8 ms at 2,000 queries/s over 32 connections on a loaded 2-core machine, against
 * 0.05–0.07 ms now, for the same CPU per query (bench/bolt.ts, issue 9).
 * A consumer that returns a promise is behind until it settles; meanwhile events accumulate, and
 * once `capacity` are waiting new ones are dropped and counted (drop_newest). The client's traffic
 * is never slowed by a slow consumer.
 */
import type { DatabaseEvent } from '../../../sdk/events.js';

export type EventConsumer = (events: DatabaseEvent[]) => void | Promise<void>;

export class EventBuffer {
  emitted = 0;
  dropped = 0;
  /** Batches whose consumer call threw or rejected (their events count as emitted: they were handed over). */
  consumerErrors = 0;
  private items: DatabaseEvent[] = [];
  private head = 0;
  private scheduled = false;
  private busy: Promise<void> | undefined;
  private idleWaiters: Array<() => void> = [];

  constructor(
    private readonly capacity: number,
    private readonly consumer: EventConsumer,
    private readonly onConsumerError: (err: unknown) => void,
    private readonly batchSize = 512,
  ) {}

  get size(): number {
    return this.items.length - this.head;
  }

  push(ev: DatabaseEvent): boolean {
    if (this.size >= this.capacity) {
      this.dropped++;
      return false;
    }
    this.items.push(ev);
    this.schedule();
    return true;
  }

  private schedule(): void {
    if (this.scheduled || this.busy) return;
    this.scheduled = true;
    queueMicrotask(() => {
      this.scheduled = false;
      this.flush();
    });
  }

  private flush(): void {
    while (this.size > 0 && !this.busy) {
      const end = Math.min(this.items.length, this.head + this.batchSize);
      const batch = this.items.slice(this.head, end);
      this.head = end;
      if (this.head === this.items.length) {
        this.items = [];
        this.head = 0;
      } else if (this.head > 4096) {
        this.items = this.items.slice(this.head);
        this.head = 0;
      }
      this.emitted += batch.length;
      let r: void | Promise<void>;
      try {
        r = this.consumer(batch);
      } catch (err) {
        this.consumerErrors++;
        this.onConsumerError(err);
        continue;
      }
      if (r && typeof (r as Promise<void>).then === 'function') {
        this.busy = (r as Promise<void>).then(
          () => this.settled(),
          (err: unknown) => {
            this.consumerErrors++;
            this.onConsumerError(err);
            this.settled();
          },
        );
      }
    }
    if (this.size === 0 && !this.busy) this.wakeIdle();
  }

  private settled(): void {
    this.busy = undefined;
    if (this.size > 0) this.schedule();
    else this.wakeIdle();
  }

  private wakeIdle(): void {
    const w = this.idleWaiters;
    this.idleWaiters = [];
    for (const f of w) f();
  }

  /** Resolves when every buffered event has been handed to the consumer and its last call settled. */
  drain(): Promise<void> {
    if (this.size === 0 && !this.busy && !this.scheduled) return Promise.resolve();
    return new Promise((res) => {
      this.idleWaiters.push(res);
      this.schedule();
    });
  }
}
