/**
 * The ports of the host-side dispatcher (host-rpc.ts): what it needs from the rest of the daemon
 * to answer a plugin's calls, declared here, beside their consumer. The implementations (the
 * Invoker, the Bifrost bus, the ConfirmationManager, db/plugin-database.ts) fit them structurally
 * and import nothing from workers/; the composition root (daemon.ts) plugs them in, and that is
 * where the compiler checks that they fit.
 */
import {
  DatabaseNotConfiguredError,
  type ActionResult,
  type ActionTrigger,
  type ConfirmationAnswer,
  type ConfirmationOptions,
  type NotificationLevel,
  type PromptOptions,
  type QueryOptions,
  type Row,
} from '../../sdk/index.js';

/** Who is calling: what the host services need to know about the plugin, nothing more. */
export interface PluginIdentity {
  /** The plugin's name (the one its module declares, once it has started). */
  readonly name: string;
  /** Whether its plugins[] entry grants writes through ctx.database.query. */
  readonly write: boolean;
}

/** Where inside the plugin a call was made: set when it comes from an action handler. */
export interface CallOrigin {
  invocationId?: string;
  /** The short name of that action. */
  action?: string;
}

/** The invoker as ctx.heimdall uses it: every call on behalf of a plugin carries its trigger. */
export interface PluginInvoker {
  invokeAction(name: string, params: Record<string, unknown>, trigger: ActionTrigger): Promise<ActionResult>;
  /** Returns the invocation id at once. */
  invokeActionAsync(name: string, params: Record<string, unknown>, trigger: ActionTrigger): string;
  sendPrompt(prompt: string, opts: PromptOptions, trigger: ActionTrigger): Promise<ActionResult>;
  /** Returns the invocation id at once. */
  sendPromptAsync(prompt: string, opts: PromptOptions, trigger: ActionTrigger): string;
  sendRawPrompt(prompt: string, trigger: ActionTrigger): Promise<ActionResult>;
}

/** A message a plugin publishes through ctx.bifrost. */
export interface PluginBifrostMessage {
  kind: 'message' | 'broadcast' | 'notification';
  level?: NotificationLevel;
  title?: string;
  message: string;
  data?: Record<string, unknown>;
  origin: { kind: 'plugin'; plugin: string; invocationId?: string };
}

/** The Bifrost bus as ctx.bifrost uses it. */
export interface PluginBifrost {
  publish(message: PluginBifrostMessage): unknown;
  /** Operator clients connected right now. */
  readonly clients: number;
}

/** What ctx.database.query calls. `opts` comes from plugin code: its fields are checked by the implementation. */
export interface PluginDatabase {
  query(plugin: PluginIdentity, cypher: string, params: Record<string, unknown>, opts: QueryOptions, origin: CallOrigin): Promise<Row[]>;
}

/** ctx.database without a `database:` section. */
export const NO_DATABASE: PluginDatabase = {
  query: () =>
    Promise.reject(
      new DatabaseNotConfiguredError(
        'No database is configured, so ctx.database.query cannot run. Add a database: section (uri, user, password) to heimdall.config.yaml and restart the daemon.',
      ),
    ),
};

/** Asks an operator to approve an action on behalf of `plugin`; resolves with the answer, false at the deadline. */
export interface Confirmations {
  request(plugin: string, action: string, opts: ConfirmationOptions, invocationId?: string): Promise<boolean>;
  /** The same request, resolving with the operator's whole answer (and reason). */
  requestAnswer(plugin: string, action: string, opts: ConfirmationOptions, invocationId?: string): Promise<ConfirmationAnswer>;
}

/** Everything the dispatcher needs. `database` is read per call (it is absent without a database section). */
export interface HostDependencies {
  invoker: PluginInvoker;
  bus: PluginBifrost;
  database: () => PluginDatabase;
  confirmations: Confirmations;
}
