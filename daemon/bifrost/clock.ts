/**
 * The time source of Bifrost. Everything in bifrost/ that reads the time or waits for it to pass
 * (message timestamps and time-based replay, heartbeats, confirmation deadlines, sink retries)
 * goes through a Clock, so a test can drive the time by hand instead of sleeping. The daemon uses
 * {@link systemClock}; the bus owns the clock and the rest of Bifrost takes it from there.
 */

/** A pending timeout or interval; `unref` lets the process exit while it waits. */
export interface ClockTimer {
  unref(): unknown;
}

export interface Clock {
  /** Milliseconds since the Unix epoch, like Date.now(). */
  now(): number;
  /** Runs `fn` once, `ms` from now. */
  setTimeout(fn: () => void, ms: number): ClockTimer;
  /** Runs `fn` every `ms`. */
  setInterval(fn: () => void, ms: number): ClockTimer;
  /** Cancels a timeout or an interval of this clock; unknown or settled timers are ignored. */
  clear(timer: ClockTimer | undefined): void;
}

/** The real time and Node's timers. */
export const systemClock: Clock = Object.freeze({
  now: () => Date.now(),
  setTimeout: (fn: () => void, ms: number): ClockTimer => setTimeout(fn, ms),
  setInterval: (fn: () => void, ms: number): ClockTimer => setInterval(fn, ms),
  clear: (timer: ClockTimer | undefined): void => {
    // Node's clearTimeout clears intervals too.
    if (timer !== undefined) clearTimeout(timer as NodeJS.Timeout);
  },
});

