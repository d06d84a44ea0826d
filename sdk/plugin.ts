/**
 * The plugin contract: what a plugin module exports and what Heimdall hands it.
 * @packageDocumentation
 */
import type { DatabaseEvent, EventType } from './events.js';

/** A JSON Schema object (2020-12). */
export type JsonSchema = Record<string, unknown>;

/** Severity of a Bifrost notification. */
export type NotificationLevel = 'info' | 'warning' | 'error' | 'success';

/** The notification levels, lowest first. */
export const NOTIFICATION_LEVELS: readonly NotificationLevel[] = ['info', 'success', 'warning', 'error'];

/** What every action returns. */
export interface ActionResult {
  /** Whether the action did what it was asked. */
  success: boolean;
  /** One sentence for a person. */
  message: string;
  /** JSON-safe structured output. */
  data?: Record<string, unknown>;
}

/** A plugin's logger. Lines carry the plugin name; write full sentences. */
export interface PluginLogger {
  debug(msg: string, data?: Record<string, unknown>): void;
  info(msg: string, data?: Record<string, unknown>): void;
  warn(msg: string, data?: Record<string, unknown>): void;
  error(msg: string, data?: Record<string, unknown>): void;
}

/** Options of {@link HeimdallInvoker.sendPrompt}. */
export interface PromptOptions {
  /** Recent events or any JSON-safe facts that explain why the prompt was sent. */
  context?: unknown;
  /** Overrides the configured model for this call. */
  model?: string;
  /** Overrides the configured temperature for this call. */
  temperature?: number;
  /** Upper bound on tool-loop steps for this call. */
  maxSteps?: number;
}

/** The invoker: run actions and ask the language model. */
export interface HeimdallInvoker {
  /** Runs an action (`heimdall.<plugin>.<action>` or a built-in) and waits for its result. */
  invokeAction(name: string, params?: Record<string, unknown>): Promise<ActionResult>;
  /** Queues an action and returns its invocation id at once; the result is published on Bifrost. */
  invokeActionAsync(name: string, params?: Record<string, unknown>): Promise<string>;
  /** Asks the model, which may call actions as tools; waits for the answer. */
  sendPrompt(prompt: string, opts?: PromptOptions): Promise<ActionResult>;
  /** Queues a prompt and returns its invocation id at once; the answer is published on Bifrost. */
  sendPromptAsync(prompt: string, opts?: PromptOptions): Promise<string>;
  /** Sends the prompt as-is, with no action catalogue or tools. */
  sendRawPrompt(prompt: string): Promise<ActionResult>;
}

/** Options of {@link DatabaseAccess.query}. */
export interface QueryOptions {
  /** Logical database; defaults to the configured one. */
  database?: string;
  /** 'read' (default for read-only plugins) or 'write' (needs `write: true` in the plugin config). */
  mode?: 'read' | 'write';
  /** Transaction timeout in milliseconds. */
  timeoutMs?: number;
}

/** A row of a query result: column name to a JSON-safe value. */
export type Row = Record<string, unknown>;

/** The database router as a plugin sees it. */
export interface DatabaseAccess {
  /** Runs Cypher with bound parameters and returns plain JSON-safe rows. */
  query(cypher: string, params?: Record<string, unknown>, opts?: QueryOptions): Promise<Row[]>;
}

/** Options of {@link BifrostClient.requestConfirmation}. */
export interface ConfirmationOptions {
  /** How long to wait for an operator; `false` after that. */
  timeoutMs?: number;
  /** JSON-safe facts the operator needs to decide. */
  details?: Record<string, unknown>;
}

/** What {@link BifrostClient.requestConfirmationAnswer} resolves with: the answer and why. */
export interface ConfirmationAnswer {
  /** What {@link BifrostClient.requestConfirmation} resolves with. */
  approved: boolean;
  /** `approved`/`denied` by an operator; `expired` (no answer in time) or `cancelled` (the daemon stopped, the plugin restarted) are denials nobody typed. */
  state: 'approved' | 'denied' | 'expired' | 'cancelled';
  /** The operator's reason when they gave one; for `cancelled`, why it was cancelled. */
  reason?: string;
  /** The request's id, as operators see it (`heimdall approve <id>`). */
  id: string;
}

/** Bifrost: how a plugin talks to operators. */
export interface BifrostClient {
  /** Publishes a plain message. */
  sendMessage(text: string): Promise<void>;
  /** Publishes a notification with a level and title. */
  sendNotification(level: NotificationLevel, title: string, message: string, data?: Record<string, unknown>): Promise<void>;
  /** Publishes a message meant for every connected operator. */
  broadcast(text: string): Promise<void>;
  /** Asks an operator to approve `action`; resolves with the answer, or `false` at the deadline. */
  requestConfirmation(action: string, opts?: ConfirmationOptions): Promise<boolean>;
  /** The same request; resolves with the whole answer: approved or not, how, and the operator's reason. */
  requestConfirmationAnswer(action: string, opts?: ConfirmationOptions): Promise<ConfirmationAnswer>;
  /** Whether at least one operator client is connected. */
  isConnected(): Promise<boolean>;
  /** How many operator clients are connected. */
  connectionCount(): Promise<number>;
}

/**
 * The services a plugin context hands out, by namespace. These three interfaces are the source of
 * the host contract (see `host-contract.ts`): every method on them is a call from the plugin's
 * worker thread to the daemon, and the wire names (`'heimdall.invokeAction'`, …) are derived from
 * them, so adding a method here makes the compiler ask for it in the worker proxy, the host's
 * dispatcher and the testing kit.
 */
export interface HostServices {
  /** The invoker. */
  readonly heimdall: HeimdallInvoker;
  /** The database router. */
  readonly database: DatabaseAccess;
  /** Bifrost. */
  readonly bifrost: BifrostClient;
}

/** What a plugin receives in `init`, `onDatabaseEvent` and `stop`. */
export interface PluginContext<Config = Record<string, unknown>> extends HostServices {
  /** The plugin's name. */
  readonly name: string;
  /** The plugin's config slice, validated against its `configSchema` and frozen. */
  readonly config: Readonly<Config>;
  /** A logger whose lines carry the plugin name. */
  readonly log: PluginLogger;
}

/** Who asked for an action to run. */
export interface ActionTrigger {
  /** 'plugin' (a plugin called it), 'prompt' (the model called it as a tool) or 'operator' (CLI or HTTP). */
  kind: 'plugin' | 'prompt' | 'operator';
  /** The plugin that asked, when `kind` is 'plugin' (or whose prompt it was). */
  plugin?: string;
}

/** What an action handler receives. */
export interface ActionContext<Params = Record<string, unknown>, Config = Record<string, unknown>> extends PluginContext<Config> {
  /** The parameters, validated against the action's `params` schema. */
  readonly params: Params;
  /** Unique id of this invocation. */
  readonly invocationId: string;
  /** Aborted when the action's deadline passes. */
  readonly signal: AbortSignal;
  /** Who asked. */
  readonly trigger: ActionTrigger;
}

/** One action a plugin offers; registered as `heimdall.<plugin>.<action>`. */
export interface ActionDefinition<Params = Record<string, unknown>, Config = Record<string, unknown>> {
  /** One sentence: what it does. The model reads it. */
  description: string;
  /** JSON Schema of the parameters (an object schema). */
  params?: JsonSchema;
  /** True when it deletes or overwrites data; such calls go through approval. */
  destructive?: boolean;
  /** Deadline in milliseconds; defaults to the configured action timeout. */
  timeoutMs?: number;
  /** Does the work. */
  handler(actx: ActionContext<Params, Config>): Promise<ActionResult> | ActionResult;
}

/** The default export of a plugin module. */
export interface PluginDefinition<Config = Record<string, unknown>> {
  /** `[a-z][a-z0-9-]*`; actions are registered as `heimdall.<name>.<action>`. */
  name: string;
  /** The plugin's version (semver recommended). */
  version: string;
  /** One sentence: what it does. */
  description?: string;
  /** Event types to receive: exact types or families such as 'node.*'. Default: all. */
  events?: Array<EventType | `${string}.*` | '*'>;
  /** JSON Schema of this plugin's config slice. */
  configSchema?: JsonSchema;
  /** Runs once per worker start, before any event. */
  init?(ctx: PluginContext<Config>): Promise<void> | void;
  /** Runs once per event, in order. Throwing counts the event as failed; the next one still arrives. */
  onDatabaseEvent?(event: DatabaseEvent, ctx: PluginContext<Config>): Promise<void> | void;
  /** The plugin's actions, by short name. */
  actions?(): Record<string, ActionDefinition<any, Config>>;
  /** Runs on shutdown. */
  stop?(ctx: PluginContext<Config>): Promise<void> | void;
}

/**
 * Declares a plugin. An identity function that only adds types: a plain object default export
 * works as well. State kept in module scope or on the plugin object survives from event to event
 * while the worker lives; a plugin that crashes is restarted with fresh state.
 */
export function definePlugin<Config = Record<string, unknown>>(plugin: PluginDefinition<Config>): PluginDefinition<Config> {
  return plugin;
}

/** The pattern a plugin name must match. */
export const PLUGIN_NAME_PATTERN = /^[a-z][a-z0-9-]*$/;
