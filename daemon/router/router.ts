/**
 * Fans events out to plugin queues: each plugin's `events` subscription is applied before
 * enqueueing, and a plugin does not receive events caused by its own writes
 * (metadata.origin.plugin) unless its config sets receiveOwnEvents. The daemon's own queries seen
 * on the wire (a bolt-proxy event whose origin is the daemon itself, `plugin: 'heimdall'`: health
 * checks, outbox reads, schema refreshes) reach only the plugins that set receiveOwnEvents.
 *
 * Every source's events pass through here, so this is where limits.events is enforced for all of
 * them (event-limits.ts): an event that is too deep, too large or not plain JSON reaches no queue
 * and is counted as refused (by source and limit). Events the http source already measured at
 * ingest (it says so: `measured`) are not walked again. With SHARE_MIN_PLUGINS plugins or more, the
 * texts of events handed with their NDJSON text (`textOf`) that go to every plugin are written once
 * into shared memory (shared-lines.ts).
 */
import type { Logger } from 'pino';
import type { DatabaseEvent } from '../../sdk/index.js';
import { DEFAULT_EVENT_LIMITS, measureValue, type EventLimits } from './event-limits.js';
import { RefusedEvents, type RefusedStats } from './refused-events.js';
import { JSON_MIN_FAN_OUT, markManyTargets } from './fan-out.js';
import { SHARE_MIN_PLUGINS, shareLines, type LineText } from './shared-lines.js';

/** What the router needs of a plugin (the plugin host satisfies it). */
export interface QueueTarget {
  /** The plugin's name, compared with metadata.origin.plugin. */
  readonly name: string;
  /** Deliver events caused by this plugin's own writes. */
  readonly receiveOwnEvents: boolean;
  /** Whether the plugin wants events of `type` (its `events` subscription). */
  subscribes(type: string): boolean;
  /** Takes the event into the plugin's queue, or counts it as dropped; never blocks. */
  offer(event: DatabaseEvent): void;
  /** offer() for each event in order, then the plugin's worker is sent what waits at once (one batch, not one per event). */
  offerAll?(events: readonly DatabaseEvent[]): void;
}

export interface RouterOptions {
  limits?: EventLimits;
  /** Where refusals are logged (summarised). */
  log?: Pick<Logger, 'warn'>;
  /** At most one refusal summary per interval, ms. Default 10000. */
  summaryIntervalMs?: number;
}

export interface RouterStats {
  routed: number;
  refused: RefusedStats;
  limits: EventLimits;
}

export class Router {
  private targets: readonly QueueTarget[] = [];
  private readonly limits: EventLimits;
  private readonly refusals: RefusedEvents;
  routed = 0;

  constructor(opts: RouterOptions = {}) {
    this.limits = opts.limits ?? DEFAULT_EVENT_LIMITS;
    this.refusals = new RefusedEvents({ ...(opts.log ? { log: opts.log } : {}), intervalMs: opts.summaryIntervalMs ?? 10_000 });
  }

  setTargets(targets: readonly QueueTarget[]): void {
    this.targets = targets;
  }

  /**
   * Routes events in order; a source is never blocked (queues drop by their policy). Each plugin is
   * handed its share of the call at once (offerAll), so its worker gets one batch, not one per event.
   */
  route(events: readonly DatabaseEvent[], opts: { measured?: boolean; textOf?: (index: number) => LineText | undefined } = {}): void {
    const targets = this.targets;
    const shares: DatabaseEvent[][] = targets.map(() => []);
    const measured = opts.measured === true;
    const textOf = targets.length >= SHARE_MIN_PLUGINS ? opts.textOf : undefined;
    const sharedEvents: DatabaseEvent[] = [];
    const sharedTexts: LineText[] = [];
    for (let j = 0; j < events.length; j++) {
      const ev = events[j]!;
      if (!measured && !this.admissible(ev)) continue;
      this.routed++;
      const origin = ev.metadata?.origin?.plugin;
      const daemonsOwnQuery = origin === 'heimdall' && ev.source === 'bolt-proxy';
      let fanOut = 0;
      for (let i = 0; i < targets.length; i++) {
        const t = targets[i]!;
        if (!t.subscribes(ev.type)) continue;
        if (origin !== undefined && (origin === t.name || daemonsOwnQuery) && !t.receiveOwnEvents) continue;
        shares[i]!.push(ev);
        fanOut++;
      }
      // shared text only for an event every plugin takes: no queue keeps a segment for others' events (shared-lines.ts)
      const text = textOf !== undefined && fanOut === targets.length ? textOf(j) : undefined;
      if (text !== undefined) {
        sharedEvents.push(ev);
        sharedTexts.push(text);
      } else if (fanOut >= JSON_MIN_FAN_OUT) markManyTargets(ev);
    }
    if (sharedEvents.length > 0) shareLines(sharedEvents, sharedTexts);
    for (let i = 0; i < targets.length; i++) {
      const t = targets[i]!;
      const share = shares[i]!;
      if (share.length === 0) continue;
      if (t.offerAll) t.offerAll(share);
      else for (const ev of share) t.offer(ev);
    }
  }

  /** Whether the event keeps limits.events (counts and logs it when it does not). */
  private admissible(ev: DatabaseEvent): boolean {
    const m = measureValue(ev, this.limits);
    if (m.ok) return true;
    const source = ev !== null && typeof ev === 'object' && typeof ev.source === 'string' ? ev.source : 'unknown';
    this.refusals.refused(source, ev?.id, m.limit, m.reason);
    return false;
  }

  stats(): RouterStats {
    return { routed: this.routed, refused: this.refusals.stats(), limits: { ...this.limits } };
  }

  close(): void {
    this.refusals.close();
  }
}
