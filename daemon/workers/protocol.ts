/**
 * The host <-> plugin worker protocol, in one place.
 *
 * Two channels:
 * - piscina tasks (host → worker, answered by the task's return value): `init`, `events`, `stop`.
 *   One task runs at a time per worker.
 * - a MessagePort handed over in the `init` task, used in both directions while a task runs or
 *   between tasks: the worker's `rpc` calls into the host (ctx.heimdall / ctx.database /
 *   ctx.bifrost), the host's `invoke` calls of the plugin's actions, their results, and log lines.
 *   Because actions run over the port and not as piscina tasks, an event handler that awaits one of
 *   its own plugin's actions does not deadlock.
 *
 * Everything crossing is plain JSON-safe data. Errors cross as SerializedError and are rebuilt
 * with deserializeError. When a worker exits, every pending call on both sides is rejected.
 */
import type { MessagePort } from 'node:worker_threads';
import type { ActionResult, ActionTrigger, DatabaseEvent, JsonSchema, SerializedError } from '../../sdk/index.js';

/** Slots of the Float64Array over the shared progress buffer the worker updates for the watchdog. */
export const PROGRESS = {
  /** Events of the current batch whose handler has returned. */
  COMPLETED: 0,
  /** Of those, how many threw. */
  FAILED: 1,
  /** Date.now() when the current handler started; 0 when no handler is running. */
  HANDLER_STARTED_AT: 2,
  /** Sequence number of the batch the worker is working on (batches run one after another). */
  BATCH_SEQ: 3,
  /** Number of slots. */
  LENGTH: 4,
} as const;

// ---- piscina tasks ----------------------------------------------------------------------------

export interface InitTask {
  type: 'init';
  /** The worker's end of the message channel. */
  port: MessagePort;
  /** Shared Float64Array(PROGRESS.LENGTH) backing store. */
  progress: SharedArrayBuffer;
  /** Absolute path of the plugin module. */
  modulePath: string;
  /** The plugin's config slice (already validated against its configSchema by the host when possible). */
  config: Record<string, unknown>;
  /** Name the host expects (from a previous load), or undefined on first load. */
  expectedName?: string;
}

export interface ActionDescriptor {
  name: string;
  description: string;
  params: JsonSchema;
  destructive: boolean;
  timeoutMs?: number;
}

export interface InitResult {
  name: string;
  version: string;
  description?: string;
  events?: string[];
  configSchema?: JsonSchema;
  actions: ActionDescriptor[];
}

export interface EventsTask {
  type: 'events';
  /** Increasing per worker; the worker writes it to PROGRESS.BATCH_SEQ when it starts the batch. */
  seq: number;
  batch: DatabaseEvent[];
}

/** Batches handed to a worker before the previous one has returned (they still run one at a time, in order). */
export const MAX_BATCHES_IN_FLIGHT = 2;

export interface EventFailure {
  index: number;
  id: string;
  error: SerializedError;
}

/** Upper bounds (ms) of the handler latency histogram buckets; the last bucket is +Inf. */
export const HANDLER_BUCKETS_MS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000] as const;

export interface EventsResult {
  handled: number;
  failed: number;
  /** The first few failures of the batch, for the log. */
  failures: EventFailure[];
  /** Handler durations of this batch: counts per HANDLER_BUCKETS_MS bucket (+Inf last), and their sum in ms. */
  buckets: number[];
  sumMs: number;
}

/** What the init task answers: the plugin's declaration, or why it could not start. */
export type InitAnswer = { ok: true; info: InitResult } | { ok: false; error: SerializedError };

export interface StopTask {
  type: 'stop';
}

export type WorkerTask = InitTask | EventsTask | StopTask;

// ---- port messages ----------------------------------------------------------------------------

/** Methods the worker may call on the host. */
export type RpcMethod =
  | 'heimdall.invokeAction'
  | 'heimdall.invokeActionAsync'
  | 'heimdall.sendPrompt'
  | 'heimdall.sendPromptAsync'
  | 'heimdall.sendRawPrompt'
  | 'database.query'
  | 'bifrost.sendMessage'
  | 'bifrost.sendNotification'
  | 'bifrost.broadcast'
  | 'bifrost.requestConfirmation'
  | 'bifrost.isConnected'
  | 'bifrost.connectionCount';

/** Worker → host: call a host method. */
export interface RpcRequest {
  type: 'rpc';
  id: number;
  method: RpcMethod;
  args: unknown[];
  /** Set when the call is made from inside an action handler. */
  invocationId?: string;
  action?: string;
}

/** Either direction: the answer to an `rpc` or an `invoke`. */
export type CallResult =
  | { type: 'rpc-result'; id: number; ok: true; value: unknown }
  | { type: 'rpc-result'; id: number; ok: false; error: SerializedError };

/** Host → worker: run one of the plugin's actions. */
export interface InvokeRequest {
  type: 'invoke';
  id: number;
  /** Short action name (without `heimdall.<plugin>.`). */
  action: string;
  params: Record<string, unknown>;
  invocationId: string;
  trigger: ActionTrigger;
  timeoutMs: number;
}

/** Worker → host: the answer to an `invoke`. */
export type InvokeResult =
  | { type: 'invoke-result'; id: number; ok: true; value: ActionResult }
  | { type: 'invoke-result'; id: number; ok: false; error: SerializedError };

/** Worker → host: a log line from ctx.log. */
export interface LogMessage {
  type: 'log';
  level: 'debug' | 'info' | 'warn' | 'error';
  msg: string;
  data?: Record<string, unknown>;
}

export type HostToWorker = InvokeRequest | CallResult;
export type WorkerToHost = RpcRequest | InvokeResult | LogMessage;
