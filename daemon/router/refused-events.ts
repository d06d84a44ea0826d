/**
 * Events the router refused because they passed limits.events (too deep, too large, not plain
 * JSON): counted by source and by limit, and logged without flooding — the first refusal of an
 * interval is logged at once with its reason, and whatever follows in that interval in one summary
 * line at its end.
 */
import type { Logger } from 'pino';
import type { LimitBreach } from './event-limits.js';

export interface RefusedStats {
  /** Events refused since start. */
  total: number;
  /** By source, then by limit (depth, bytes, value). */
  bySource: Record<string, Partial<Record<LimitBreach, number>>>;
}

export interface RefusedEventsOptions {
  log?: Pick<Logger, 'warn'>;
  /** At most one summary per interval, ms. */
  intervalMs: number;
}

export class RefusedEvents {
  private total = 0;
  private readonly bySource = new Map<string, Map<LimitBreach, number>>();
  private sinceLog = 0;
  private sinceLogBySource = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly opts: RefusedEventsOptions) {}

  /** Counts one refusal; logs it, or leaves it to the interval's summary. */
  refused(source: string, id: unknown, limit: LimitBreach, reason: string): void {
    this.total++;
    let m = this.bySource.get(source);
    if (!m) this.bySource.set(source, (m = new Map()));
    m.set(limit, (m.get(limit) ?? 0) + 1);
    if (this.timer === undefined) {
      const idText = typeof id === 'string' ? ` ${id}` : '';
      this.opts.log?.warn({ source, eventId: typeof id === 'string' ? id : undefined, limit },
        `The router refused event${idText} from the source ${source}: ${reason.replace(/\.$/, '')}. It reached no plugin; refusals are counted on /v1/status (router.refused).`);
      this.timer = setTimeout(() => this.summarise(), this.opts.intervalMs);
      this.timer.unref();
      return;
    }
    this.sinceLog++;
    this.sinceLogBySource.set(source, (this.sinceLogBySource.get(source) ?? 0) + 1);
  }

  private summarise(): void {
    this.timer = undefined;
    if (this.sinceLog === 0) return;
    const by = [...this.sinceLogBySource].map(([s, n]) => `${n} from ${s}`).join(', ');
    this.opts.log?.warn({ refused: this.sinceLog, bySource: Object.fromEntries(this.sinceLogBySource) },
      `The router refused ${this.sinceLog} more events over limits.events in the last ${this.opts.intervalMs / 1000} s (${by}); they reached no plugin.`);
    this.sinceLog = 0;
    this.sinceLogBySource = new Map();
    // The next refusal opens a new interval (logged at once).
  }

  stats(): RefusedStats {
    const bySource: RefusedStats['bySource'] = {};
    for (const [s, m] of this.bySource) bySource[s] = Object.fromEntries(m);
    return { total: this.total, bySource };
  }

  close(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}
