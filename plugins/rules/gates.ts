/**
 * The gates a matching event passes before its rule fires, per rule and per key (the value of
 * window.by, or one key for the whole rule):
 *
 *   window       `count` matching events within `within` (a sliding window); the event that
 *                completes it becomes a candidate and the window starts again empty
 *   debounce     a candidate waits `debounce` for quiet; a newer one for the same key replaces it
 *   cooldown     no firing for a key within `cooldown` of its last firing
 *   concurrency  at most maxConcurrent firings of the rule at once
 *
 * Every suppression is counted by reason. Keys are bounded (maxKeys, least recently used go
 * first, counted); windows and cooldowns that have run out are swept as events arrive.
 * Time comes from the injected clock: a window counts arrival times, not event timestamps.
 */
import type { DatabaseEvent } from '../../sdk/index.js';
import type { Clock } from './clock.js';
import type { RuleStatistics, SuppressReason } from './stats.js';
import type { CompiledRule } from './types.js';

/** Events of a window kept for `{{ window.events }}` (the newest ones). */
export const WINDOW_EVENTS_KEPT = 100;

export interface Candidate {
  event: DatabaseEvent;
  key: string;
  window: { count: number; events: DatabaseEvent[] };
}

interface WindowState {
  times: number[];
  events: DatabaseEvent[];
}

/** What a dry run learns from the gates, changing nothing. */
export interface GatePreview {
  window?: { count: number; withinMs: number; inWindow: number; completes: boolean };
  debounce?: { ms: number; pending: boolean };
  cooldown?: { ms: number; active: boolean; remainingMs: number };
  concurrency?: { max: number; inFlight: number; full: boolean };
  /** The first gate that would stop the event, if any. */
  blockedBy?: SuppressReason;
}

export class RuleGates {
  private readonly windows = new Map<string, WindowState>();
  private readonly lastFired = new Map<string, number>();
  private readonly pending = new Map<string, { timer: unknown; candidate: Candidate }>();
  inFlight = 0;

  constructor(
    readonly rule: CompiledRule,
    private readonly clock: Clock,
    private readonly stats: RuleStatistics,
    private readonly maxKeys: number,
  ) {}

  /** Passes a matching event through the window; a candidate comes out when it completes. */
  offer(event: DatabaseEvent, key: string): Candidate | undefined {
    const w = this.rule.window;
    if (!w) return { event, key, window: { count: 1, events: [event] } };
    const now = this.clock.now();
    this.sweepWindows(now, w.withinMs);
    let st = this.windows.get(key);
    if (st) this.windows.delete(key);
    else {
      st = { times: [], events: [] };
      this.makeRoom(this.windows);
    }
    const cutoff = now - w.withinMs;
    let drop = 0;
    while (drop < st.times.length && st.times[drop]! <= cutoff) drop++;
    if (drop > 0) {
      st.times.splice(0, drop);
      const keep = Math.min(st.events.length, st.times.length);
      st.events.splice(0, st.events.length - keep);
    }
    st.times.push(now);
    st.events.push(event);
    if (st.events.length > WINDOW_EVENTS_KEPT) st.events.shift();
    if (st.times.length < w.count) {
      this.windows.set(key, st);
      this.stats.suppressed.window++;
      return undefined;
    }
    // complete: the window starts again empty
    return { event, key, window: { count: st.times.length, events: st.events } };
  }

  /**
   * Holds a candidate for `debounce` when the rule has one and calls `fire` once the key has been
   * quiet that long. Returns false when there is no debounce (the caller goes on at once).
   */
  debounce(c: Candidate, fire: (c: Candidate) => void): boolean {
    const ms = this.rule.debounceMs;
    if (ms <= 0) return false;
    const prior = this.pending.get(c.key);
    if (prior) {
      this.clock.clearTimeout(prior.timer);
      this.pending.delete(c.key);
      this.stats.suppressed.debounce++;
    }
    const timer = this.clock.setTimeout(() => {
      const p = this.pending.get(c.key);
      if (!p || p.timer !== timer) return;
      this.pending.delete(c.key);
      fire(p.candidate);
    }, ms);
    this.pending.set(c.key, { timer, candidate: c });
    return true;
  }

  /**
   * The last gates, just before the actions run: cooldown, then concurrency. Returns the reason
   * when the candidate is suppressed (and counts it); otherwise records the firing.
   */
  admit(c: Candidate): SuppressReason | undefined {
    const now = this.clock.now();
    const cd = this.rule.cooldownMs;
    if (cd > 0) {
      this.sweepCooldowns(now, cd);
      const last = this.lastFired.get(c.key);
      if (last !== undefined && now - last < cd) {
        this.stats.suppressed.cooldown++;
        return 'cooldown';
      }
    }
    if (this.inFlight >= this.rule.maxConcurrent) {
      this.stats.suppressed.concurrency++;
      return 'concurrency';
    }
    if (cd > 0) {
      this.lastFired.delete(c.key);
      this.makeRoom(this.lastFired);
      this.lastFired.set(c.key, now);
    }
    this.inFlight++;
    this.stats.inFlight = this.inFlight;
    this.stats.fired++;
    this.stats.lastFiredAt = new Date(now).toISOString();
    return undefined;
  }

  /** A firing finished. */
  release(): void {
    this.inFlight = Math.max(0, this.inFlight - 1);
    this.stats.inFlight = this.inFlight;
  }

  /** What the gates would do with a matching event now, touching nothing. */
  preview(key: string): GatePreview {
    const now = this.clock.now();
    const out: GatePreview = {};
    const w = this.rule.window;
    if (w) {
      const times = this.windows.get(key)?.times ?? [];
      const inWindow = times.filter((t) => t > now - w.withinMs).length + 1;
      out.window = { count: w.count, withinMs: w.withinMs, inWindow, completes: inWindow >= w.count };
      if (!out.window.completes) out.blockedBy = 'window';
    }
    if (this.rule.debounceMs > 0) out.debounce = { ms: this.rule.debounceMs, pending: this.pending.has(key) };
    if (this.rule.cooldownMs > 0) {
      const last = this.lastFired.get(key);
      const remainingMs = last === undefined ? 0 : Math.max(0, last + this.rule.cooldownMs - now);
      out.cooldown = { ms: this.rule.cooldownMs, active: remainingMs > 0, remainingMs };
      if (remainingMs > 0 && !out.blockedBy) out.blockedBy = 'cooldown';
    }
    if (Number.isFinite(this.rule.maxConcurrent)) {
      out.concurrency = { max: this.rule.maxConcurrent, inFlight: this.inFlight, full: this.inFlight >= this.rule.maxConcurrent };
      if (out.concurrency.full && !out.blockedBy) out.blockedBy = 'concurrency';
    }
    return out;
  }

  /** Live state for `show`: open windows, keys in cooldown, debounced candidates. */
  state(): { windows: number; cooldownKeys: number; debouncing: number; inFlight: number } {
    return { windows: this.windows.size, cooldownKeys: this.lastFired.size, debouncing: this.pending.size, inFlight: this.inFlight };
  }

  /** Cancels debounced candidates (on stop); returns how many were dropped. */
  cancelPending(): number {
    const n = this.pending.size;
    for (const p of this.pending.values()) this.clock.clearTimeout(p.timer);
    this.pending.clear();
    return n;
  }

  private makeRoom(map: Map<string, unknown>): void {
    while (map.size >= this.maxKeys) {
      map.delete(map.keys().next().value as string);
      this.stats.keysEvicted++;
    }
  }

  /** Drops the least recently touched windows whose events have all run out (a few per call). */
  private sweepWindows(now: number, withinMs: number): void {
    for (let i = 0; i < 2; i++) {
      const first = this.windows.entries().next();
      if (first.done) return;
      const [k, st] = first.value;
      if (st.times[st.times.length - 1]! > now - withinMs) return;
      this.windows.delete(k);
    }
  }

  private sweepCooldowns(now: number, ms: number): void {
    for (let i = 0; i < 2; i++) {
      const first = this.lastFired.entries().next();
      if (first.done) return;
      if (first.value[1] > now - ms) return;
      this.lastFired.delete(first.value[0]);
    }
  }
}
