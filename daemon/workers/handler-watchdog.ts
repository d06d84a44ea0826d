/**
 * The watchdog of a plugin's event handlers: every quarter of handlerTimeoutMs (10–250 ms) it reads
 * the start time of the running handler from the worker's progress buffer (protocol.ts PROGRESS)
 * and, once a handler has run past the deadline while a batch is in flight, calls `onOverdue` with
 * the reason as a sentence fragment (the host then terminates the worker; its crash path follows).
 */
import { PROGRESS } from './protocol.js';

export interface HandlerWatchdogOptions {
  progress: Float64Array;
  handlerTimeoutMs: number;
  now: () => number;
  /** Whether a batch is in flight and no termination is under way. */
  watching: () => boolean;
  onOverdue: (reason: string) => void;
}

/** Starts the watchdog (unref'd); clearInterval the answer to stop it. */
export function startHandlerWatchdog(o: HandlerWatchdogOptions): NodeJS.Timeout {
  const every = Math.max(10, Math.min(250, Math.floor(o.handlerTimeoutMs / 4)));
  const timer = setInterval(() => {
    const started = o.progress[PROGRESS.HANDLER_STARTED_AT]!;
    if (started > 0 && o.watching() && o.now() - started > o.handlerTimeoutMs) {
      o.onOverdue(`its onDatabaseEvent handler ran past the ${o.handlerTimeoutMs} ms deadline (plugins[].handlerTimeoutMs)`);
    }
  }, every);
  timer.unref();
  return timer;
}
