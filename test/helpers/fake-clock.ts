/**
 * A clock for tests that moves only when told: `advance(ms)` runs every timer that falls due on
 * the way, in order, with `now()` set to each timer's due time. Nothing runs by itself, so a test
 * can show that something did not happen without sleeping. Implements Bifrost's Clock.
 */
import type { Clock, ClockTimer } from '../../daemon/bifrost/clock.js';

interface Entry {
  seq: number;
  due: number;
  fn: () => void;
  /** Repeat interval; undefined for a timeout. */
  every?: number;
  cancelled: boolean;
}

class FakeTimer implements ClockTimer {
  constructor(readonly entry: Entry) {}
  unref(): this {
    return this;
  }
}

export class FakeClock implements Clock {
  private t: number;
  private seq = 0;
  private readonly timers = new Set<Entry>();

  /** @param start Epoch ms the clock starts at. Default 2024-05-01T12:00:00Z. */
  constructor(start = Date.parse('2024-05-01T12:00:00Z')) {
    this.t = start;
  }

  now(): number {
    return this.t;
  }

  setTimeout(fn: () => void, ms: number): ClockTimer {
    return this.add(fn, ms);
  }

  setInterval(fn: () => void, ms: number): ClockTimer {
    return this.add(fn, ms, Math.max(1, ms));
  }

  clear(timer: ClockTimer | undefined): void {
    if (!(timer instanceof FakeTimer)) return;
    timer.entry.cancelled = true;
    this.timers.delete(timer.entry);
  }

  /** Timers (timeouts and intervals) still waiting. */
  get pending(): number {
    return this.timers.size;
  }

  /** Moves the time forward by `ms`, running each timer that falls due, oldest due first. */
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      const next = this.nextDue(end);
      if (!next) break;
      this.t = next.due;
      if (next.every !== undefined) next.due += next.every;
      else this.timers.delete(next);
      next.fn();
    }
    this.t = end;
  }

  private nextDue(end: number): Entry | undefined {
    let best: Entry | undefined;
    for (const e of this.timers) {
      if (e.cancelled || e.due > end) continue;
      if (!best || e.due < best.due || (e.due === best.due && e.seq < best.seq)) best = e;
    }
    return best;
  }

  private add(fn: () => void, ms: number, every?: number): FakeTimer {
    const entry: Entry = { seq: this.seq++, due: this.t + Math.max(0, ms), fn, cancelled: false, ...(every !== undefined ? { every } : {}) };
    this.timers.add(entry);
    return new FakeTimer(entry);
  }
}
