/**
 * Coalesces the messages one end of a plugin's channel posts within a moment into one
 * postMessage: `{ type: 'batch', messages }`, received by `unbatch`. A postMessage costs a few
 * microseconds whatever it carries (the clone, the port's lock, waking the other thread, one
 * message event there), so a plugin that sends 256 notifications in a loop, and the 256 answers
 * the host sends back, each cross once instead of 256 times.
 *
 * Order is kept: every message of one end goes through its one batcher, in the order posted. A
 * lone message crosses as it is. When is a moment:
 *   - 'microtask' (the worker): the end of the current synchronous run, so what a handler posted
 *     has crossed before anything it awaits can answer, and before its task's result;
 *   - 'immediate' (the host): the end of this event-loop turn, after every message event of the
 *     turn has been handled (the host answers each call in its own microtask run, so a microtask
 *     would catch one answer at a time);
 *   - 'now': at once, as postMessage does (a correlator that owns its port, in tests).
 * At MAX_BATCH messages the batch crosses at once, so a long synchronous loop never holds more.
 *
 * A message that cannot be cloned (a function among a call's arguments) fails only itself: when
 * the batch's clone throws, its messages are posted one by one and each failure goes to that
 * message's `onCloneError`.
 */
import type { MessagePort } from 'node:worker_threads';

/** The one message that carries a batch. */
export interface BatchMessage<T> {
  type: 'batch';
  messages: T[];
}

/** When what was posted crosses; 'now' is plain postMessage (no batching), for a port with one sender. */
export type FlushMoment = 'microtask' | 'immediate' | 'now';

/** Most messages in one batch. */
export const MAX_BATCH = 256;

type CloneErrorHandler = (err: Error) => void;

export class PortBatcher {
  private queue: unknown[] = [];
  private errors: Array<CloneErrorHandler | undefined> = [];
  private scheduled = false;
  private readonly run = () => {
    this.scheduled = false;
    this.flush();
  };

  constructor(private readonly port: MessagePort, private readonly moment: FlushMoment) {}

  /** Posts `msg` after what was posted before it; `onCloneError` hears (at the flush) when it cannot be cloned. */
  post(msg: unknown, onCloneError?: CloneErrorHandler): void {
    this.queue.push(msg);
    this.errors.push(onCloneError);
    if (this.moment === 'now' || this.queue.length >= MAX_BATCH) {
      this.flush();
      return;
    }
    if (this.scheduled) return;
    this.scheduled = true;
    if (this.moment === 'microtask') queueMicrotask(this.run);
    else setImmediate(this.run);
  }

  /** Posts what waits now (before the port closes, or when MAX_BATCH wait). */
  flush(): void {
    const messages = this.queue;
    if (messages.length === 0) return;
    const errors = this.errors;
    this.queue = [];
    this.errors = [];
    if (messages.length === 1) {
      this.postOne(messages[0], errors[0]);
      return;
    }
    try {
      this.port.postMessage({ type: 'batch', messages } satisfies BatchMessage<unknown>);
    } catch {
      // One of them cannot be cloned (or the port is closed): each on its own, so only that one fails.
      for (let i = 0; i < messages.length; i++) this.postOne(messages[i], errors[i]);
    }
  }

  private postOne(msg: unknown, onCloneError: CloneErrorHandler | undefined): void {
    try {
      this.port.postMessage(msg);
    } catch (err) {
      if (onCloneError) onCloneError(err as Error);
    }
  }
}

/** Hands each message of `msg` to `handle`: the messages of a batch in order, any other message as it is. */
export function unbatch<T extends { type: string }>(msg: T | BatchMessage<T>, handle: (m: T) => void): void {
  if (msg.type !== 'batch') {
    handle(msg as T);
    return;
  }
  for (const m of (msg as BatchMessage<T>).messages) handle(m);
}
