/**
 * The delivery checkpoint for the neo4j-apoc source (its `settled` option): a promise that resolves
 * once every event routed so far has left every plugin queue — handled, failed or dropped.
 *
 * It needs no help from the router: queues are FIFO and count `received` and `queued`, so right after
 * an emit each queue's `received` is a mark, and the emitted events have left that queue once
 * `received - queued` (handled + dropped) reaches the mark. A plugin that is restarting keeps its
 * queue, so the checkpoint waits for it; a failed or stopped plugin refuses (drops) new events, so it
 * never holds the checkpoint up. A queue that leaves the list while a checkpoint waits (its plugin
 * was paused, or removed by a reload) no longer holds it up either. One imprecision: while a queue is full and refusing the newest
 * events (whenFull: drop_newest), those refusals count as progress, so a checkpoint can pass a little
 * early — a full queue is already losing events.
 */

export interface CountingQueue {
  counters(): { received: number; queued: number };
}

/**
 * `queues()` lists the plugin queues now (read at every call, so restarts and reloads are seen).
 * `pollMs` is how often a pending checkpoint looks again.
 */
export function settledWhenQueuesDrain(queues: () => readonly CountingQueue[], pollMs = 2): () => Promise<void> {
  return () => {
    const marks = queues().map((q) => ({ q, mark: q.counters().received }));
    const passed = (): boolean => {
      const now = new Set(queues());
      return marks.every(({ q, mark }) => {
        if (!now.has(q)) return true;
        const c = q.counters();
        return c.received - c.queued >= mark;
      });
    };
    if (passed()) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const tick = (): void => {
        if (passed()) resolve();
        else setTimeout(tick, pollMs);
      };
      setTimeout(tick, pollMs);
    });
  };
}

export interface BoundedQueue {
  readonly capacity: number;
  readonly queued: number;
}

/**
 * The `room` option of the neo4j-apoc source: how many more events every plugin queue can take now
 * (the smallest free space; Infinity without plugins). The source emits a batch in chunks that fit,
 * waiting for the queues in between, so a large batch is not dropped by a queue smaller than it.
 */
export function roomInQueues(queues: () => readonly BoundedQueue[]): () => number {
  return () => {
    let room = Infinity;
    for (const q of queues()) room = Math.min(room, q.capacity - q.queued);
    return Math.max(0, room);
  };
}
