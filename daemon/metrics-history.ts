/**
 * A bounded, server-side history of every plugin's queue counters, for the console's charts
 * (GET /v1/metrics/history): sampled every `intervalMs` (5 s) and kept for `windowMs` (15 min),
 * so that a page opened now shows the last quarter of an hour at once. Memory is fixed:
 * windowMs / intervalMs samples (180), each a handful of numbers per plugin.
 *
 * Each sample holds the cumulative counters (as in /v1/status) and the rates since the previous
 * sample (events per second). A counter that goes down (a plugin that was reloaded under the same
 * name) is taken as a reset: its rate is computed from zero, never negative.
 */
import type { HistorySample, MetricsHistoryApi, MetricsHistoryResult, PluginSample } from './http/routes-history.js';
import type { PluginStatus } from './workers/plugin-status.js';

export type { HistorySample, MetricsHistoryResult, PluginSample } from './http/routes-history.js';

export interface MetricsHistoryOptions {
  /** The plugins' statuses (name and counters). */
  plugins: () => readonly Pick<PluginStatus, 'name' | 'counters'>[];
  /** Default 5000. */
  intervalMs?: number;
  /** Default 15 minutes. */
  windowMs?: number;
  /** Default Date.now. */
  now?: () => number;
}

export const HISTORY_INTERVAL_MS = 5000;
export const HISTORY_WINDOW_MS = 15 * 60_000;

export class MetricsHistory implements MetricsHistoryApi {
  readonly name = 'the metrics history';
  readonly intervalMs: number;
  readonly windowMs: number;
  readonly capacity: number;
  private readonly ring: (HistorySample | undefined)[];
  private head = 0;
  private size = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly now: () => number;

  constructor(private readonly opts: MetricsHistoryOptions) {
    this.intervalMs = Math.max(1, opts.intervalMs ?? HISTORY_INTERVAL_MS);
    this.windowMs = Math.max(this.intervalMs, opts.windowMs ?? HISTORY_WINDOW_MS);
    this.capacity = Math.ceil(this.windowMs / this.intervalMs);
    this.ring = new Array<HistorySample | undefined>(this.capacity);
    this.now = opts.now ?? Date.now;
  }

  /** Takes a first sample now, then one every intervalMs. */
  async start(): Promise<void> {
    this.sample();
    this.timer = setInterval(() => this.sample(), this.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private last(): HistorySample | undefined {
    return this.size === 0 ? undefined : this.ring[(this.head + this.size - 1) % this.capacity];
  }

  /** Takes one sample (the timer calls it; tests may too). */
  sample(): HistorySample {
    const t = this.now();
    const prev = this.last();
    const dtS = prev ? Math.max(0.001, (t - prev.t) / 1000) : 0;
    const plugins: Record<string, PluginSample> = {};
    for (const p of this.opts.plugins()) {
      const c = p.counters;
      const before = prev?.plugins[p.name];
      const rate = (now: number, then: number | undefined): number => {
        if (then === undefined || dtS === 0) return 0;
        const d = now >= then ? now - then : now;
        return Math.round((d / dtS) * 100) / 100;
      };
      plugins[p.name] = {
        received: c.received,
        delivered: c.delivered,
        dropped: c.droppedTotal,
        failed: c.failed,
        queued: c.queued,
        capacity: c.capacity,
        receivedPerS: rate(c.received, before?.received),
        deliveredPerS: rate(c.delivered, before?.delivered),
        droppedPerS: rate(c.droppedTotal, before?.dropped),
        failedPerS: rate(c.failed, before?.failed),
      };
    }
    const s: HistorySample = { t, plugins };
    if (this.size < this.capacity) {
      this.ring[(this.head + this.size) % this.capacity] = s;
      this.size++;
    } else {
      this.ring[this.head] = s;
      this.head = (this.head + 1) % this.capacity;
    }
    return s;
  }

  query(since?: number): MetricsHistoryResult {
    const samples: HistorySample[] = [];
    for (let i = 0; i < this.size; i++) {
      const s = this.ring[(this.head + i) % this.capacity]!;
      if (since === undefined || s.t > since) samples.push(s);
    }
    return { intervalMs: this.intervalMs, windowMs: this.windowMs, capacity: this.capacity, samples };
  }
}
