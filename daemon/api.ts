/**
 * What the admin HTTP API and the CLI need from a running daemon. The daemon implements it;
 * daemon/http only talks to this interface.
 */
import type { ActionResult, ActionTrigger, DatabaseEvent, JsonSchema, PromptOptions } from '../sdk/index.js';
import type { BifrostApi } from './bifrost/types.js';
import type { InvocationsApi } from './invoker/invocation-store.js';

export type PluginState = 'starting' | 'running' | 'restarting' | 'draining' | 'stopped' | 'failed' | 'disabled';

/** Exact per-plugin accounting: received = delivered + dropped + queued at every moment. */
export interface QueueCounters {
  received: number;
  delivered: number;
  /** Dropped events by reason (queue_full, plugin_failed, shutdown, …). */
  dropped: Record<string, number>;
  droppedTotal: number;
  /** Handler threw or timed out (a subset of delivered). */
  failed: number;
  /** Waiting plus in flight. */
  queued: number;
  inFlight: number;
  highWaterMark: number;
  capacity: number;
  whenFull: 'drop_newest' | 'drop_oldest';
}

export interface PluginStatus {
  name: string;
  version?: string;
  description?: string;
  path: string;
  state: PluginState;
  /** Why the plugin is failed / not loaded, as a sentence. */
  reason?: string;
  events: string[];
  actions: string[];
  restarts: number;
  write: boolean;
  counters: QueueCounters;
}

export interface ActionInfo {
  name: string;
  plugin: string | null;
  description: string;
  params: JsonSchema;
  destructive: boolean;
  timeoutMs: number;
}

export interface SourceStatus {
  name: string;
  type: string;
  state: 'starting' | 'running' | 'degraded' | 'stopped' | 'failed';
  reason?: string;
  emitted: number;
  details?: Record<string, unknown>;
}

export interface DaemonStatus {
  version: string;
  startedAt: string;
  uptimeS: number;
  state: 'starting' | 'running' | 'draining' | 'stopped';
  plugins: PluginStatus[];
  sources: SourceStatus[];
  database: { configured: boolean; connected: boolean; uri?: string; reason?: string };
  llm: { configured: boolean; model?: string; baseURL?: string };
}

export interface IngestRejection {
  index: number;
  /** The event id when the item had one. */
  id?: string;
  reason: string;
}

export interface IngestResult {
  accepted: number;
  rejected: IngestRejection[];
  /** Ids of the accepted events in input order (generated when missing). */
  ids: string[];
}

export interface Readiness {
  ready: boolean;
  reasons: string[];
}

export interface DaemonApi {
  readiness(): Readiness;
  status(): DaemonStatus;
  plugins(): PluginStatus[];
  actions(): ActionInfo[];
  /** Validates each item against the event schema, fills id/timestamp/database/source, routes the valid ones. */
  ingest(items: unknown[], source: string): IngestResult;
  invokeAction(name: string, params: Record<string, unknown> | undefined, trigger: ActionTrigger): Promise<ActionResult>;
  prompt(prompt: string, opts?: PromptOptions): Promise<ActionResult>;
  /** Prometheus text exposition. */
  metrics(): Promise<{ contentType: string; body: string }>;
  /** Bifrost: stream, polling, confirmations (the /v1/bifrost and /v1/confirmations routes). */
  bifrost?: BifrostApi;
  /** Async invocations and their results (the /v1/invocations routes). */
  invocations?: InvocationsApi;
}

export type { DatabaseEvent };
