/**
 * What a PluginHost is built with besides its config: the hooks through which the rest of the
 * daemon hears about it (plugin-set.ts), and its environment — the worker pool factory, the clock,
 * the quarantine and the output limits — whose defaults are the real ones.
 */
import type { QuarantineSink } from './quarantine.js';
import type { OutputDropSummary, OutputLimits } from './output-limits.js';
import type { EventsResult, InitResult } from './protocol.js';
import type { WorkerPoolFactory } from './worker-pool.js';
import type { PluginHost } from './plugin-host.js';

export interface PluginHostHooks {
  /** Called after a (re)start succeeded, with what the plugin declared. */
  onReady(host: PluginHost, info: InitResult): void;
  /** Called when the plugin stops being able to run actions (crash, failed, stopped). */
  onUnavailable(host: PluginHost): void;
  /** Called after each batch with its handled count, failures and duration. */
  onBatch?(host: PluginHost, result: EventsResult, durationMs: number): void;
  /** Called on a crash, a restart, and when the plugin is marked failed. */
  onLifecycle?(host: PluginHost, what: 'crashed' | 'restarted' | 'failed', reason: string): void;
  /** Called at most once per interval when the plugin went over its log or Bifrost limits. */
  onOutputDrops?(host: PluginHost, summary: OutputDropSummary, text: string): void;
  /** Called when an event is put in quarantine. */
  onQuarantined?(host: PluginHost, quarantineId: string, eventId: string, reason: string): void;
}

/** What a host takes from its surroundings; the defaults are the real ones. */
export interface PluginHostEnvironment {
  /** Builds the worker pool of each (re)start. Default: piscina, one thread. */
  createPool?: WorkerPoolFactory;
  /** Epoch ms, for the crash window, the handler watchdog and the output limits. Default Date.now. */
  now?: () => number;
  /** Where events that took the worker down are kept. Default: a quarantine of this host's own. */
  quarantine?: QuarantineSink & { countFor?(plugin: string): number };
  /** limits.plugins (plugins[].limits already applied). Default the schema's defaults. */
  outputLimits?: OutputLimits;
  /** Interval of the output drop summary, ms (drops.logIntervalMs). Default 10000. */
  summaryIntervalMs?: number;
}
