/**
 * What the admin HTTP API (and, through it, the CLI) needs from a running daemon: the port that
 * daemon/http consumes. daemon/admin-api.ts implements it; daemon/http only talks to this interface.
 */
import type { ActionResult, ActionTrigger, PromptOptions } from '../../sdk/index.js';
import type { BifrostApi } from '../bifrost/types.js';
import type { ActionInfo } from '../invoker/action-registry.js';
import type { InvocationsApi } from '../invoker/invocation-store.js';
import type { ReloadApi, RulesApi, RulesSummary } from './rules-api.js';
import type { IngestResult } from '../sources/http-source.js';
import type { SourceStatus } from '../sources/source.js';
import type { PluginStatus } from '../workers/plugin-status.js';
import type { QuarantineListing, QuarantineStats } from '../workers/quarantine.js';
import type { RouterStats } from '../router/router.js';
import type { MetricsHistoryApi } from './routes-history.js';
import type { EventTapApi } from '../tap/event-tap.js';

export type { IngestRejection, IngestResult } from '../sources/http-source.js';

export interface DaemonStatus {
  version: string;
  startedAt: string;
  uptimeS: number;
  state: 'starting' | 'running' | 'draining' | 'stopped';
  plugins: PluginStatus[];
  sources: SourceStatus[];
  database: { configured: boolean; connected: boolean; uri?: string; reason?: string };
  llm: { configured: boolean; model?: string; baseURL?: string };
  /** Events routed, and refused over limits.events, by source. */
  router?: RouterStats;
  /** The quarantine's counters (GET /v1/quarantine lists the entries). */
  quarantine?: QuarantineStats;
  /** Log lines the non-blocking log output dropped because stdout did not keep up. */
  log?: { droppedLines: number; droppedBytes: number };
  /** The rules and the invalid ones (with file and line), when the daemon has a rules service. */
  rules?: RulesSummary;
}

/** The answer of a restart, pause or resume of one plugin. */
export interface PluginControlResult {
  name: string;
  /** The plugin's state afterwards (running, paused, …). */
  state: PluginStatus['state'];
  /** False when it already was as asked (pausing a paused plugin). */
  changed: boolean;
  message: string;
}

/**
 * Restart (fresh worker, queue kept), pause (events queue up to capacity) and resume of one
 * plugin by name. Throw HeimdallErrors: NOT_FOUND (404) for an unknown plugin, CONFLICT (409) to
 * pause or resume a failed or stopped one, PLUGIN_INIT / INVALID_PLUGIN when a restart cannot start it.
 */
export interface PluginControlApi {
  restart(name: string): Promise<PluginControlResult>;
  pause(name: string): PluginControlResult;
  resume(name: string): PluginControlResult;
}

export interface Readiness {
  ready: boolean;
  /** Why it is not ready; when ready, what is degraded but settled (plugins failed for good). */
  reasons: string[];
}

/** The quarantined events (the /v1/quarantine routes). */
export interface QuarantineApi {
  list(plugin?: string): QuarantineListing[];
  stats(): QuarantineStats;
  /** Puts the event back at the head of its plugin's queue; throws HMD_ERR_NOT_FOUND, or the plugin's refusal. */
  retry(id: string): { id: string; plugin: string; eventId: string };
}

export interface DaemonApi {
  readiness(): Readiness;
  status(): DaemonStatus;
  plugins(): PluginStatus[];
  /** Restart, pause, resume (the POST /v1/plugins/{name}/… routes). */
  pluginControl?: PluginControlApi;
  actions(): ActionInfo[];
  /**
   * Validates each item against the event schema, fills id/timestamp/database/source, routes the valid ones.
   * `texts[i]` is the JSON text items[i] was parsed from, when there is one (NDJSON lines).
   */
  ingest(items: unknown[], source: string, texts?: readonly string[]): IngestResult;
  invokeAction(name: string, params: Record<string, unknown> | undefined, trigger: ActionTrigger): Promise<ActionResult>;
  prompt(prompt: string, opts?: PromptOptions): Promise<ActionResult>;
  /** Prometheus text exposition. */
  metrics(): Promise<{ contentType: string; body: string }>;
  /** Bifrost: stream, polling, confirmations (the /v1/bifrost and /v1/confirmations routes). */
  bifrost?: BifrostApi;
  /** Async invocations and their results (the /v1/invocations routes). */
  invocations?: InvocationsApi;
  /** Quarantined events (the /v1/quarantine routes). */
  quarantine?: QuarantineApi;
  /** The rules and their dead letters (the /v1/rules and /v1/dead-letters routes). */
  rules?: RulesApi;
  /** Reload without a restart (POST /v1/reload). */
  reload?: ReloadApi;
  /** The sampled history of the plugins' counters (GET /v1/metrics/history, the console's charts). */
  metricsHistory?: MetricsHistoryApi;
  /** The event tap (GET /v1/events/stream). */
  eventTap?: EventTapApi;
}
