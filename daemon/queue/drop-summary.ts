/**
 * The periodic drop summary: drops are never logged one line per event. Every `drops.logIntervalMs`
 * each plugin queue that dropped something since the last summary yields one internal "drops"
 * event; that one event writes its log line (on the plugin's logger) and goes to the subscribers,
 * which turn it into a metric and a Bifrost notice. The text says what to do about it: a queue that
 * overflows needs more capacity or a faster handler; a plugin that is failed needs fixing.
 */
import type { Logger } from 'pino';
import type { QueueCounters } from './bounded-queue.js';

/** What the summary reads from each plugin (the plugin host satisfies it). */
export interface DroppingPlugin {
  readonly name: string;
  /** Lifecycle state; 'failed' changes the advice. */
  readonly state: string;
  /** Why the plugin is failed, as a sentence. */
  readonly reason: string | undefined;
  readonly log: Pick<Logger, 'warn' | 'error'>;
  readonly queue: {
    takeDropsSinceLastSummary(): Record<string, number> | undefined;
    counters(): QueueCounters;
  };
}

/** One plugin's drops in one interval. */
export interface DropsEvent {
  plugin: string;
  /** Length of the interval, ms. */
  intervalMs: number;
  /** Drops in this interval by reason (queue_full, plugin_failed, plugin_stopped, shutdown). */
  dropped: Record<string, number>;
  /** Sum of `dropped`. */
  total: number;
  /** The queue's counters since start, when the summary was taken. */
  counters: QueueCounters;
  /** Set when the plugin is failed: why, as a sentence. */
  failedBecause?: string;
}

export type DropsSubscriber = (event: DropsEvent) => void;

/** The log line and notice text of a drops event. */
export function describeDrops(ev: DropsEvent): string {
  const reasons = Object.entries(ev.dropped).map(([k, v]) => `${k}: ${v}`).join(', ');
  const c = ev.counters;
  const totals = `it has received ${c.received}, delivered ${c.delivered}, dropped ${c.droppedTotal} in all`;
  const secs = ev.intervalMs / 1000;
  if (ev.failedBecause !== undefined) {
    const why = ev.failedBecause.replace(/\.$/, '');
    return `The plugin ${ev.plugin} is failed, so the ${ev.total} events sent to it in the last ${secs} s were dropped (${reasons}); ${totals}. It failed because: ${why}. Fix the plugin and restart it (\`heimdall plugins restart ${ev.plugin}\`).`;
  }
  const advice: string[] = [];
  if (ev.dropped.queue_full) advice.push('Raise queue.capacity or make the handler faster.');
  if (ev.dropped.shutdown) advice.push('Events still queued at the shutdown deadline were dropped; raise shutdown.drainTimeoutMs to deliver more of them.');
  if (ev.dropped.plugin_stopped) advice.push('Events that arrived after the plugin had stopped were dropped.');
  if (ev.dropped.paused) advice.push(`The plugin is paused and its queue is full; \`heimdall plugins resume ${ev.plugin}\` delivers what waits.`);
  return `The plugin ${ev.plugin} dropped ${ev.total} events in the last ${secs} s (${reasons}); ${totals}.${advice.length ? ` ${advice.join(' ')}` : ''}`;
}

/** The Bifrost notice of a drops event (published with origin daemon). */
export function dropsNotice(ev: DropsEvent): { level: 'warning' | 'error'; title: string; message: string; data: Record<string, unknown> } {
  return {
    level: ev.failedBecause !== undefined ? 'error' : 'warning',
    title: `Plugin ${ev.plugin} is dropping events`,
    message: describeDrops(ev),
    data: { plugin: ev.plugin, dropped: ev.dropped },
  };
}

export class DropSummary {
  readonly name = 'drop summary';
  private readonly subscribers: DropsSubscriber[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly opts: { intervalMs: number; plugins: () => readonly DroppingPlugin[] }) {}

  /** Adds a subscriber to every drops event (a metric, a notice). */
  subscribe(fn: DropsSubscriber): this {
    this.subscribers.push(fn);
    return this;
  }

  /** Takes the drops since the last summary from every plugin: one event (and log line) per plugin that dropped. */
  flush(): DropsEvent[] {
    const out: DropsEvent[] = [];
    for (const p of this.opts.plugins()) {
      const dropped = p.queue.takeDropsSinceLastSummary();
      if (!dropped) continue;
      const total = Object.values(dropped).reduce((a, b) => a + b, 0);
      const counters = p.queue.counters();
      const ev: DropsEvent = {
        plugin: p.name,
        intervalMs: this.opts.intervalMs,
        dropped,
        total,
        counters,
        ...(p.state === 'failed' ? { failedBecause: p.reason ?? 'no reason was recorded' } : {}),
      };
      if (ev.failedBecause !== undefined) p.log.error({ dropped, counters }, describeDrops(ev));
      else p.log.warn({ dropped, counters }, describeDrops(ev));
      for (const s of this.subscribers) s(ev);
      out.push(ev);
    }
    return out;
  }

  /** Summarises every intervalMs until stopped. */
  async start(): Promise<void> {
    clearInterval(this.timer);
    this.timer = setInterval(() => this.flush(), this.opts.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
  }
}
