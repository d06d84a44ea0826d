/**
 * Prometheus metrics (prom-client). Plugin counters are read from the queues at scrape time, so the
 * event path pays nothing for them and they agree exactly with /v1/status. Handler latency is a
 * histogram filled from per-batch bucket counts the workers report; drop summaries are counted as
 * their internal events arrive.
 */
import { Registry, collectDefaultMetrics } from 'prom-client';
import type { BifrostStats } from './bifrost/types.js';
import type { QueueCounters } from './queue/bounded-queue.js';
import type { DropsEvent } from './queue/drop-summary.js';
import type { BoltProxyReport } from './sources/bolt-proxy/proxy-set.js';
import type { PluginState } from './workers/plugin-status.js';
import { HANDLER_BUCKETS_MS, type EventsResult } from './workers/protocol.js';

/** What the metrics read of each plugin at scrape time (the plugin host satisfies it). */
export interface PluginMetricsReader {
  readonly name: string;
  readonly state: PluginState;
  readonly restarts: number;
  readonly queue: { counters(): QueueCounters };
}

interface Value {
  labels: Record<string, string | number>;
  value: number;
  metricName?: string;
}

interface HistogramState {
  buckets: number[];
  sumMs: number;
  count: number;
}

/** Registers a metric whose values are computed when Prometheus scrapes. */
function collected(registry: Registry, name: string, help: string, type: 'counter' | 'gauge' | 'histogram', values: () => Value[]): void {
  registry.registerMetric({ name, help, type, get: async () => ({ name, help, type, values: values(), aggregator: 'sum' }) } as never);
}

export class DaemonMetrics {
  readonly registry = new Registry();
  private readonly handlerHist = new Map<string, HistogramState>();
  private readonly dropSummaries = new Map<string, number>();

  constructor(private readonly plugins: () => readonly PluginMetricsReader[]) {
    const r = this.registry;
    collectDefaultMetrics({ register: r, prefix: 'heimdall_' });
    const per = (f: (p: PluginMetricsReader) => number) => () => this.plugins().map((p) => ({ labels: { plugin: p.name }, value: f(p) }));
    collected(r, 'heimdall_events_received_total', 'Events offered to a plugin queue.', 'counter', per((p) => p.queue.counters().received));
    collected(r, 'heimdall_events_delivered_total', 'Events whose handler returned (or threw).', 'counter', per((p) => p.queue.counters().delivered));
    collected(r, 'heimdall_events_failed_total', 'Events whose handler threw or timed out.', 'counter', per((p) => p.queue.counters().failed));
    collected(r, 'heimdall_events_dropped_total', 'Events dropped, by reason.', 'counter', () =>
      this.plugins().flatMap((p) => Object.entries(p.queue.counters().dropped).map(([reason, value]) => ({ labels: { plugin: p.name, reason }, value }))),
    );
    collected(r, 'heimdall_queue_depth', 'Events waiting or in flight.', 'gauge', per((p) => p.queue.counters().queued));
    collected(r, 'heimdall_queue_high_water_mark', 'Largest queue depth seen.', 'gauge', per((p) => p.queue.counters().highWaterMark));
    collected(r, 'heimdall_queue_capacity', 'Queue capacity.', 'gauge', per((p) => p.queue.counters().capacity));
    collected(r, 'heimdall_plugin_restarts_total', 'Plugin worker restarts (after a crash, or asked for: `heimdall plugins restart`, a reload, `heimdall dev`).', 'counter', per((p) => p.restarts));
    collected(r, 'heimdall_plugin_up', '1 when the plugin is running; 0 otherwise, the state label says which (paused, restarting, failed, ...).', 'gauge', () =>
      this.plugins().map((p) => ({ labels: { plugin: p.name, state: p.state }, value: p.state === 'running' ? 1 : 0 })),
    );
    collected(r, 'heimdall_handler_duration_seconds', 'onDatabaseEvent duration.', 'histogram', () => this.histogramValues());
    collected(r, 'heimdall_drop_summaries_total', 'Drop summaries: intervals (drops.logIntervalMs) in which the plugin dropped events.', 'counter', () =>
      [...this.dropSummaries].map(([plugin, value]) => ({ labels: { plugin }, value })),
    );
  }

  /** Forgets a plugin that is gone (removed by a reload): its histogram and drop summaries. */
  forgetPlugin(plugin: string): void {
    this.handlerHist.delete(plugin);
    this.dropSummaries.delete(plugin);
  }

  /** Counts one drops event (one plugin, one interval with drops). */
  observeDrops(ev: DropsEvent): void {
    this.dropSummaries.set(ev.plugin, (this.dropSummaries.get(ev.plugin) ?? 0) + 1);
  }

  /** Adds a batch's handler durations to the plugin's histogram. */
  observeBatch(plugin: string, res: EventsResult): void {
    let h = this.handlerHist.get(plugin);
    if (!h) {
      h = { buckets: new Array<number>(HANDLER_BUCKETS_MS.length + 1).fill(0), sumMs: 0, count: 0 };
      this.handlerHist.set(plugin, h);
    }
    for (let i = 0; i < res.buckets.length; i++) h.buckets[i]! += res.buckets[i]!;
    h.sumMs += res.sumMs;
    for (const c of res.buckets) h.count += c;
  }

  private histogramValues(): Value[] {
    const out: Value[] = [];
    for (const [plugin, h] of this.handlerHist) {
      let cum = 0;
      for (let i = 0; i < HANDLER_BUCKETS_MS.length; i++) {
        cum += h.buckets[i]!;
        out.push({ metricName: 'heimdall_handler_duration_seconds_bucket', labels: { plugin, le: HANDLER_BUCKETS_MS[i]! / 1000 }, value: cum });
      }
      out.push({ metricName: 'heimdall_handler_duration_seconds_bucket', labels: { plugin, le: '+Inf' }, value: h.count });
      out.push({ metricName: 'heimdall_handler_duration_seconds_sum', labels: { plugin }, value: h.sumMs / 1000 });
      out.push({ metricName: 'heimdall_handler_duration_seconds_count', labels: { plugin }, value: h.count });
    }
    return out;
  }

  /** The neo4j-apoc outbox backlog (entries committed and not yet taken by the router). */
  addOutboxBacklog(backlog: () => Array<{ database: string; entries: number }>): void {
    collected(this.registry, 'heimdall_outbox_backlog', 'Outbox entries (transactions) waiting to be turned into events.', 'gauge', () =>
      backlog().map((b) => ({ labels: { database: b.database }, value: b.entries })),
    );
  }

  /** Each bolt proxy's counters, read from its status at scrape time, labelled by its listen address. */
  addBoltProxies(reports: () => BoltProxyReport[]): void {
    const r = this.registry;
    const per = (f: (d: BoltProxyReport['details']) => number) => () => reports().map((p) => ({ labels: { listen: p.details.listen }, value: f(p.details) }));
    collected(r, 'heimdall_bolt_proxy_up', '1 when the bolt proxy is running and its upstream reachable.', 'gauge', () =>
      reports().map((p) => ({ labels: { listen: p.details.listen, upstream: p.details.upstream, state: p.state }, value: p.state === 'running' ? 1 : 0 })),
    );
    collected(r, 'heimdall_bolt_proxy_connections_open', 'Client connections open.', 'gauge', per((d) => d.connections.open));
    collected(r, 'heimdall_bolt_proxy_connections_total', 'Client connections accepted.', 'counter', per((d) => d.connections.total));
    collected(r, 'heimdall_bolt_proxy_pass_through_open', 'Connections relayed unobserved (the tap could not follow them), open.', 'gauge', per((d) => d.passThrough.open));
    collected(r, 'heimdall_bolt_proxy_pass_through_total', 'Connections that became pass-through.', 'counter', per((d) => d.passThrough.total));
    collected(r, 'heimdall_bolt_proxy_bytes_total', 'Bytes relayed, by direction.', 'counter', () =>
      reports().flatMap((p) => [
        { labels: { listen: p.details.listen, direction: 'client_to_server' }, value: p.details.bytes.clientToServer },
        { labels: { listen: p.details.listen, direction: 'server_to_client' }, value: p.details.bytes.serverToClient },
      ]),
    );
    collected(r, 'heimdall_bolt_proxy_events_emitted_total', 'Events handed to the router.', 'counter', per((d) => d.events.emitted));
    collected(r, 'heimdall_bolt_proxy_events_dropped_total', 'Events dropped because the router was behind (or the daemon was stopping).', 'counter', per((d) => d.events.dropped));
    collected(r, 'heimdall_bolt_proxy_events_buffered', 'Events waiting for the router.', 'gauge', per((d) => d.events.buffered));
  }

  /** Bifrost's counters, read from its stats at scrape time. */
  addBifrost(stats: () => BifrostStats): void {
    const r = this.registry;
    const one = (f: (s: BifrostStats) => number) => () => [{ labels: {}, value: f(stats()) }];
    collected(r, 'heimdall_bifrost_published_total', 'Bifrost messages published.', 'counter', one((s) => s.published));
    collected(r, 'heimdall_bifrost_clients', 'Connected SSE clients.', 'gauge', one((s) => s.stream.clients));
    collected(r, 'heimdall_bifrost_clients_cut_off_total', 'SSE clients cut off for reading too slowly.', 'counter', one((s) => s.stream.cutOff));
    collected(r, 'heimdall_bifrost_buffered_bytes', 'Bytes waiting for SSE clients.', 'gauge', one((s) => s.stream.bufferedBytes));
    collected(r, 'heimdall_bifrost_confirmations_pending', 'Confirmation requests waiting for an operator.', 'gauge', one((s) => s.confirmations.pending));
    collected(r, 'heimdall_bifrost_sink_messages_total', 'Messages per sink by outcome.', 'counter', () =>
      stats().sinks.flatMap((k) => (['written', 'failed', 'dropped'] as const).map((outcome) => ({ labels: { sink: k.name, outcome }, value: k[outcome] }))),
    );
  }

  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
