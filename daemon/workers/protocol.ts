/**
 * The host <-> plugin worker protocol: every message that crosses, in one place.
 *
 * Two channels:
 * - piscina tasks (host → worker, answered by the task's return value): `init`, `events`, `stop`.
 *   Up to MAX_BATCHES_IN_FLIGHT `events` tasks may be on their way at once; the worker runs them
 *   (and `stop`) strictly one after another, in the order they arrived.
 * - a MessagePort handed over in the `init` task, used in both directions while a task runs or
 *   between tasks: the worker's `rpc` calls into the host (the methods of the host contract in
 *   sdk/host-contract.ts: ctx.heimdall, ctx.database, ctx.bifrost) and their `rpc-result`s, the
 *   host's `invoke` calls of the plugin's actions and their `invoke-result`s, and log lines.
 *   Because actions run over the port and not as piscina tasks, an event handler that awaits one of
 *   its own plugin's actions does not deadlock.
 *
 * Both directions match answers to requests with one CallCorrelator (call-correlator.ts), which
 * rejects every pending call when the port closes, whichever side closed it.
 *
 * Everything crossing is plain JSON-safe data. Errors cross as SerializedError
 * ({ name, code, message, stack, details }) and are rebuilt into the SDK's classes with
 * deserializeError.
 */
import type { MessagePort } from 'node:worker_threads';
import type { ActionResult, ActionTrigger, HostArgs, HostMethod, JsonSchema, SerializedError } from '../../sdk/index.js';
import type { OutputLimits } from './output-limits.js';
import type { WireBatch } from './event-wire.js';

/** Slots of the Float64Array over the shared progress buffer the worker updates for the watchdog. */
export const PROGRESS = {
  /** Events of the current batch whose handler has returned. */
  COMPLETED: 0,
  /** Of those, how many threw. */
  FAILED: 1,
  /** When the current handler started, in Date.now() terms (the worker's performance.timeOrigin + now()); 0 when no handler is running. */
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
  /** The plugin's config slice; the worker validates it against the module's configSchema (filling defaults). */
  config: Record<string, unknown>;
  /** Name the host expects (from a previous load), or undefined on first load. */
  expectedName?: string;
  /** The plugin's log and Bifrost limits; the worker drops what goes over before it crosses the port. */
  limits?: OutputLimits;
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
  /** The worker thread's OS id (Linux), for the host's busy-thread watch (busy-thread.ts). */
  threadId?: number;
}

export interface EventsTask {
  type: 'events';
  /** Increasing per worker; the worker writes it to PROGRESS.BATCH_SEQ when it starts the batch. */
  seq: number;
  /** The batch as event-wire.ts writes it: one JSON text, structured clones only where JSON is not exact. */
  wire: WireBatch;
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

/** How a call ended, as it crosses the port: its value, or the error it was rejected with. */
export type CallOutcome<T> = { ok: true; value: T } | { ok: false; error: SerializedError };

/** Worker → host: call the host method `method` (one of the host contract's) with its arguments. */
export type RpcRequest = {
  [K in HostMethod]: {
    type: 'rpc';
    id: number;
    method: K;
    args: HostArgs<K>;
    /** Set when the call is made from inside an action handler. */
    invocationId?: string;
    /** The short name of that action. */
    action?: string;
    /** The chain of actions that led to that action, outermost first, that action last. */
    chain?: string[];
  };
}[HostMethod];

/** Host → worker: the answer to the worker's `rpc` with the same id. */
export type RpcResult = { type: 'rpc-result'; id: number } & CallOutcome<unknown>;

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
  /** The actions whose calls led here, outermost first, this one last (limits.actions.maxDepth). */
  chain: string[];
  /** Largest result the action may return, as UTF-8 JSON (limits.actions.maxResultBytes). */
  maxResultBytes: number;
}

/** Worker → host: the answer to the host's `invoke` with the same id. */
export type InvokeResult = { type: 'invoke-result'; id: number } & CallOutcome<ActionResult>;

/** Worker → host: a log line from ctx.log. */
export interface LogMessage {
  type: 'log';
  level: 'debug' | 'info' | 'warn' | 'error';
  msg: string;
  data?: Record<string, unknown>;
}

/** Worker → host: log lines and Bifrost messages the worker dropped over its limits since the last report. */
export interface OutputDroppedMessage {
  type: 'output-dropped';
  logLines: number;
  notifications: number;
}

export type HostToWorker = InvokeRequest | RpcResult;
export type WorkerToHost = RpcRequest | InvokeResult | LogMessage | OutputDroppedMessage;
