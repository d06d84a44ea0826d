/**
 * A testing kit for plugin authors: run a plugin's hooks and actions in-process with a recording
 * context, without starting the daemon. Import from `heimdall/sdk/testing`.
 *
 * ```ts
 * const kit = createTestKit(myPlugin, { config: { threshold: 2 } });
 * await kit.init();
 * await kit.emit({ type: 'query.failed' });
 * assert.equal(kit.calls.invokeActionAsync.length, 1);
 * ```
 * @packageDocumentation
 */
import { randomUUID } from 'node:crypto';
import type { DatabaseEvent, EventType } from './events.js';
import { ActionNotFoundError } from './errors.js';
import type {
  ActionResult,
  ActionTrigger,
  BifrostClient,
  DatabaseAccess,
  HeimdallInvoker,
  HostServices,
  NotificationLevel,
  PluginContext,
  PluginDefinition,
  Row,
} from './plugin.js';

/** Everything the plugin asked of its context, in call order per method. */
export interface RecordedCalls {
  invokeAction: Array<{ name: string; params: Record<string, unknown> }>;
  invokeActionAsync: Array<{ name: string; params: Record<string, unknown> }>;
  sendPrompt: Array<{ prompt: string; opts?: unknown }>;
  sendPromptAsync: Array<{ prompt: string; opts?: unknown }>;
  sendRawPrompt: Array<{ prompt: string }>;
  query: Array<{ cypher: string; params: Record<string, unknown>; opts?: unknown }>;
  notifications: Array<{ level: NotificationLevel | 'message' | 'broadcast'; title?: string; message: string; data?: Record<string, unknown> }>;
  confirmations: Array<{ action: string; opts?: unknown }>;
  logs: Array<{ level: string; msg: string; data?: Record<string, unknown> }>;
}

/** Options of {@link createTestKit}. */
export interface TestKitOptions<Config> {
  /** The plugin's config slice. */
  config?: Config;
  /** Answers ctx.database.query; default: no rows. */
  query?: (cypher: string, params: Record<string, unknown>) => Row[] | Promise<Row[]>;
  /** Answers ctx.heimdall.invokeAction for actions of other plugins; default: the plugin's own actions, else ActionNotFoundError. */
  invokeAction?: (name: string, params: Record<string, unknown>) => ActionResult | Promise<ActionResult>;
  /** Answers prompts; default `{ success: false, message: 'no model in the test kit' }`. */
  prompt?: (prompt: string) => ActionResult | Promise<ActionResult>;
  /** Answers confirmations; default false. */
  confirm?: (action: string) => boolean | Promise<boolean>;
}

/** The kit returned by {@link createTestKit}. */
export interface TestKit<Config> {
  /** The context handed to the plugin. */
  ctx: PluginContext<Config>;
  /** What the plugin asked for. */
  calls: RecordedCalls;
  /** Runs the plugin's init. */
  init(): Promise<void>;
  /** Fills defaults into a partial event and runs onDatabaseEvent. */
  emit(event: Partial<DatabaseEvent> & { type: EventType }): Promise<DatabaseEvent>;
  /** Runs one of the plugin's actions by short name. */
  invoke(action: string, params?: Record<string, unknown>, trigger?: ActionTrigger): Promise<ActionResult>;
  /** Runs the plugin's stop. */
  stop(): Promise<void>;
}

/** Builds a recording context around a plugin definition. */
export function createTestKit<Config = Record<string, unknown>>(plugin: PluginDefinition<Config>, opts: TestKitOptions<Config> = {}): TestKit<Config> {
  const calls: RecordedCalls = { invokeAction: [], invokeActionAsync: [], sendPrompt: [], sendPromptAsync: [], sendRawPrompt: [], query: [], notifications: [], confirmations: [], logs: [] };
  const actions = plugin.actions?.() ?? {};
  const log = (level: string) => (msg: string, data?: Record<string, unknown>) => void calls.logs.push({ level, msg, ...(data ? { data } : {}) });
  const noModel: ActionResult = { success: false, message: 'No model is available in the test kit; pass opts.prompt to answer prompts.' };
  let ctx!: PluginContext<Config>;
  const runOwn = async (name: string, params: Record<string, unknown>, trigger: ActionTrigger): Promise<ActionResult> => {
    const short = name.startsWith(`heimdall.${plugin.name}.`) ? name.slice(`heimdall.${plugin.name}.`.length) : undefined;
    const def = short !== undefined ? actions[short] : undefined;
    if (def) {
      return def.handler({ ...ctx, params, invocationId: randomUUID(), signal: new AbortController().signal, trigger });
    }
    if (opts.invokeAction) return opts.invokeAction(name, params);
    throw new ActionNotFoundError(`No action is registered as "${name}" in the test kit.`, { action: name, suggestions: Object.keys(actions).map((a) => `heimdall.${plugin.name}.${a}`) });
  };
  // The kit implements the same service interfaces the daemon's worker proxy is built from
  // (the host contract), so a method added to the SDK must be added here too.
  const heimdall: HeimdallInvoker = {
    invokeAction: (name, params = {}) => {
      calls.invokeAction.push({ name, params });
      return runOwn(name, params, { kind: 'plugin', plugin: plugin.name });
    },
    invokeActionAsync: async (name, params = {}) => {
      calls.invokeActionAsync.push({ name, params });
      return randomUUID();
    },
    sendPrompt: async (prompt, o) => {
      calls.sendPrompt.push({ prompt, ...(o ? { opts: o } : {}) });
      return opts.prompt ? opts.prompt(prompt) : noModel;
    },
    sendPromptAsync: async (prompt, o) => {
      calls.sendPromptAsync.push({ prompt, ...(o ? { opts: o } : {}) });
      return randomUUID();
    },
    sendRawPrompt: async (prompt) => {
      calls.sendRawPrompt.push({ prompt });
      return opts.prompt ? opts.prompt(prompt) : noModel;
    },
  };
  const database: DatabaseAccess = {
    query: async (cypher, params = {}, o) => {
      calls.query.push({ cypher, params, ...(o ? { opts: o } : {}) });
      return opts.query ? opts.query(cypher, params) : [];
    },
  };
  const bifrost: BifrostClient = {
    sendMessage: async (message) => void calls.notifications.push({ level: 'message', message }),
    broadcast: async (message) => void calls.notifications.push({ level: 'broadcast', message }),
    sendNotification: async (level, title, message, data) => void calls.notifications.push({ level, title, message, ...(data ? { data } : {}) }),
    requestConfirmation: async (action, o) => {
      calls.confirmations.push({ action, ...(o ? { opts: o } : {}) });
      return opts.confirm ? opts.confirm(action) : false;
    },
    requestConfirmationAnswer: async (action, o) => {
      calls.confirmations.push({ action, ...(o ? { opts: o } : {}) });
      const approved = opts.confirm ? await opts.confirm(action) : false;
      return { approved, state: approved ? 'approved' : 'denied', id: randomUUID().slice(0, 8) };
    },
    isConnected: async () => false,
    connectionCount: async () => 0,
  };
  const services: HostServices = { heimdall, database, bifrost };
  ctx = {
    name: plugin.name,
    config: Object.freeze({ ...(opts.config ?? {}) }) as Readonly<Config>,
    log: { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') },
    ...services,
  };
  return {
    ctx,
    calls,
    init: async () => {
      await plugin.init?.(ctx);
    },
    emit: async (partial) => {
      const event: DatabaseEvent = { id: randomUUID(), timestamp: new Date().toISOString(), database: 'neo4j', source: 'test', ...partial };
      await plugin.onDatabaseEvent?.(event, ctx);
      return event;
    },
    invoke: (action, params = {}, trigger = { kind: 'operator' }) => runOwn(`heimdall.${plugin.name}.${action}`, params, trigger),
    stop: async () => {
      await plugin.stop?.(ctx);
    },
  };
}
