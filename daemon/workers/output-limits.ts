/**
 * Per-plugin limits on what a plugin writes to the daemon: log lines (ctx.log) and Bifrost messages
 * (ctx.bifrost.sendMessage, sendNotification, broadcast), as token buckets (limits.plugins, with
 * plugins[].limits overriding them per plugin). What goes over is dropped and counted, never queued,
 * and summarised at most once per interval (drops.logIntervalMs) in one log line and one Bifrost
 * notice per plugin.
 *
 * The worker applies the same buckets before anything crosses its MessagePort (so a plugin that
 * logs 10^6 lines in a loop sends the daemon a few thousand messages, not a million) and reports
 * its drops; the host applies them again (it does not trust the worker) and owns the counts, which
 * survive restarts of the worker.
 */
import { heimdallConfigSchema } from '../../config/schema.js';

export interface OutputLimits {
  logLinesPerSecond: number;
  logLinesBurst: number;
  notificationsPerSecond: number;
  notificationsBurst: number;
}

const D = heimdallConfigSchema.properties.limits.properties.plugins.properties;

/** The defaults of limits.plugins (from the config schema). */
export const DEFAULT_OUTPUT_LIMITS: Readonly<OutputLimits> = Object.freeze({
  logLinesPerSecond: D.logLinesPerSecond.default,
  logLinesBurst: D.logLinesBurst.default,
  notificationsPerSecond: D.notificationsPerSecond.default,
  notificationsBurst: D.notificationsBurst.default,
});

export type OutputKind = 'logLines' | 'notifications';

/** A token bucket: `burst` tokens, refilled at `perSecond`; perSecond 0 means no limit. */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    private readonly perSecond: number,
    private readonly burst: number,
    private readonly now: () => number,
  ) {
    this.tokens = burst;
    this.last = now();
  }

  /** Takes one token; false when none is left. */
  take(): boolean {
    if (this.perSecond === 0) return true;
    if (this.tokens >= 1) {
      this.tokens--;
      return true;
    }
    const t = this.now();
    const refill = ((t - this.last) * this.perSecond) / 1000;
    this.last = t;
    if (refill > 0) this.tokens = Math.min(this.burst, this.tokens + refill);
    if (this.tokens >= 1) {
      this.tokens--;
      return true;
    }
    return false;
  }
}

export interface OutputCounts {
  /** Passed on (written, published). */
  passed: number;
  /** Dropped over the limit (in the worker or here). */
  dropped: number;
}

export interface OutputStats {
  logLines: OutputCounts;
  notifications: OutputCounts;
  limits: OutputLimits;
  /** Drop summaries written. */
  summaries: number;
}

/** One interval's drops of one plugin, for its summary. */
export interface OutputDropSummary {
  plugin: string;
  intervalMs: number;
  logLines: number;
  notifications: number;
  limits: OutputLimits;
}

/** The sentence of a drop summary (log line and Bifrost notice). */
export function describeOutputDrops(s: OutputDropSummary): string {
  const parts: string[] = [];
  if (s.logLines > 0) parts.push(`${s.logLines} log lines (limits.plugins.logLinesPerSecond ${s.limits.logLinesPerSecond}, burst ${s.limits.logLinesBurst})`);
  if (s.notifications > 0) parts.push(`${s.notifications} Bifrost messages (limits.plugins.notificationsPerSecond ${s.limits.notificationsPerSecond}, burst ${s.limits.notificationsBurst})`);
  return `The plugin ${s.plugin} went over its output limits in the last ${s.intervalMs / 1000} s: ${parts.join(' and ')} were dropped. Make it log and notify less, or raise plugins[].limits for it.`;
}

export interface OutputLimiterOptions {
  plugin: () => string;
  limits: OutputLimits;
  /** At most one summary per interval, ms. */
  intervalMs: number;
  /** Writes the summary (the host's log line and Bifrost notice). */
  onSummary(summary: OutputDropSummary): void;
  /** Epoch ms; the buckets and the summary interval run on it. Default Date.now. */
  now?: () => number;
  /** Schedules the summary; default setTimeout (unref'd). */
  schedule?: (fn: () => void, ms: number) => { cancel(): void };
}

const realSchedule = (fn: () => void, ms: number) => {
  const t = setTimeout(fn, ms);
  t.unref();
  return { cancel: () => clearTimeout(t) };
};

/** The host side of one plugin's output limits. */
export class OutputLimiter {
  private readonly buckets: Record<OutputKind, TokenBucket>;
  private readonly counts: Record<OutputKind, OutputCounts> = { logLines: { passed: 0, dropped: 0 }, notifications: { passed: 0, dropped: 0 } };
  private pending: Record<OutputKind, number> = { logLines: 0, notifications: 0 };
  private scheduled: { cancel(): void } | undefined;
  private summaries = 0;

  constructor(private readonly opts: OutputLimiterOptions) {
    const now = opts.now ?? Date.now;
    const l = opts.limits;
    // The host's buckets are twice as deep as the worker's: the worker enforces the limit, the
    // host only catches a worker that does not, without dropping what a fair worker let through.
    this.buckets = {
      logLines: new TokenBucket(l.logLinesPerSecond, l.logLinesBurst * 2, now),
      notifications: new TokenBucket(l.notificationsPerSecond, l.notificationsBurst * 2, now),
    };
  }

  /** Whether one more log line or message may pass; counts it either way. */
  allow(kind: OutputKind): boolean {
    if (this.buckets[kind].take()) {
      this.counts[kind].passed++;
      return true;
    }
    this.countDropped(kind, 1);
    return false;
  }

  /** Counts drops the worker made before they could cross. */
  countDropped(kind: OutputKind, n: number): void {
    if (!(n > 0) || !Number.isFinite(n)) return;
    this.counts[kind].dropped += n;
    this.pending[kind] += n;
    this.scheduled ??= (this.opts.schedule ?? realSchedule)(() => this.summarise(), this.opts.intervalMs);
  }

  /** Writes the summary of the drops since the last one (called by the interval's timer). */
  summarise(): void {
    this.scheduled = undefined;
    const { logLines, notifications } = this.pending;
    if (logLines === 0 && notifications === 0) return;
    this.pending = { logLines: 0, notifications: 0 };
    this.summaries++;
    this.opts.onSummary({ plugin: this.opts.plugin(), intervalMs: this.opts.intervalMs, logLines, notifications, limits: this.opts.limits });
  }

  stats(): OutputStats {
    return { logLines: { ...this.counts.logLines }, notifications: { ...this.counts.notifications }, limits: { ...this.opts.limits }, summaries: this.summaries };
  }

  close(): void {
    this.scheduled?.cancel();
    this.scheduled = undefined;
  }
}
