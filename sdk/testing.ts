/**
 * A testing kit for plugin authors: run a plugin's hooks and actions in-process with a recording
 * context, without starting the daemon. Import from `heimdall/sdk/testing`.
 *
 * The kit runs the daemon's own checks (sdk/checks/), so a test that passes here passes in the
 * daemon: the definition checks, `configSchema` defaults and validation, the frozen config, action
 * params validated with the registry's settings, the ActionResult check, the event schema and the
 * plugin's subscription on `emit`, and the read-only rule of `ctx.database.query`.
 *
 * ```ts
 * const kit = await createTestKit(new URL('../index.ts', import.meta.url), { config: { threshold: 2 } });
 * await kit.init();
 * await kit.emit({ type: 'query.failed' });
 * assert.equal(kit.calls.invokeActionAsync.length, 1);
 * ```
 * @packageDocumentation
 */
import { randomUUID } from 'node:crypto';
import { checkPluginDefinition, collectActions } from './checks/definition.js';
import { checkEvent, wouldReceive } from './checks/event.js';
import { resolvePluginModule } from './checks/locate.js';
import { importPluginModule } from './checks/module-import.js';
import { checkActionResult, checkParams, compileParams, createParamsAjv, type ParamsValidator } from './checks/params.js';
import { preparePluginConfig } from './checks/plugin-config.js';
import { ActionFailedError, ActionNotFoundError, ActionTimeoutError, ErrorCode, HeimdallError, serializeError } from './errors.js';
import { eventTypeMatches, type DatabaseEvent, type EventType } from './events.js';
import type { ActionContext, ActionDefinition, ActionResult, ActionTrigger, ConfirmationOptions, PluginContext, PluginDefinition, Row } from './plugin.js';
import { emptyCalls, recordingServices, type KitDatabase, type KitModel, type RecordedCalls } from './testing-services.js';

export type { KitDatabase, KitModel, RecordedCalls, ScriptedQuery } from './testing-services.js';
export { NO_MODEL_REPLY } from './testing-services.js';

/** The default deadline of an action, as the daemon's actions.timeoutMs. */
const DEFAULT_ACTION_TIMEOUT_MS = 30_000;

/** Options of {@link createTestKit}. */
export interface TestKitOptions<Config> {
  /** The plugin's config slice, as in plugins[].config: validated against configSchema, defaults filled, frozen. */
  config?: Partial<Config> | Record<string, unknown>;
  /** plugins[].write: grant writes through ctx.database.query. Default false (mode 'write' throws ReadOnlyError). */
  write?: boolean;
  /** plugins[].receiveOwnEvents. Default false: emitted events whose metadata.origin.plugin is this plugin are not delivered. */
  receiveOwnEvents?: boolean;
  /** Answers ctx.database.query. Default: as a daemon without a database (DatabaseNotConfiguredError). */
  database?: KitDatabase;
  /** Older form of `database`: a function of the statement and params. */
  query?: (cypher: string, params: Record<string, unknown>) => Row[] | Promise<Row[]>;
  /** The model's reply to sendPrompt/sendRawPrompt. Default: as a daemon without a model (success false, HMD_ERR_NO_MODEL). */
  model?: KitModel;
  /** Older form of `model`: a function of the prompt. */
  prompt?: (prompt: string) => ActionResult | Promise<ActionResult>;
  /** How an operator answers requestConfirmation: yes (true), no (false), or per request. Default: nobody answers, so false. */
  confirm?: boolean | ((action: string, opts: ConfirmationOptions | undefined) => boolean | Promise<boolean>);
  /** Answers ctx.heimdall.invokeAction for actions of other plugins (and built-ins); default ActionNotFoundError. */
  invokeAction?: (name: string, params: Record<string, unknown>) => ActionResult | Promise<ActionResult>;
}

/** The kit returned by {@link createTestKit}. */
export interface TestKit<Config> {
  /** The context handed to the plugin (frozen, like the daemon's). */
  ctx: PluginContext<Config>;
  /** The plugin definition under test. */
  plugin: PluginDefinition<Config>;
  /** What the plugin asked for. */
  calls: RecordedCalls;
  /** Events that reached onDatabaseEvent, in order. */
  received: DatabaseEvent[];
  /** Runs the plugin's init. */
  init(): Promise<void>;
  /**
   * Fills id, timestamp, database and source into a partial event, checks it against the event
   * schema (an invalid one throws HMD_ERR_INVALID_EVENT) and runs onDatabaseEvent when the router
   * would deliver it (the plugin's `events` subscription, its own writes). Resolves with the event.
   */
  emit(event: Partial<DatabaseEvent> & { type: EventType }): Promise<DatabaseEvent>;
  /** Runs one of the plugin's actions by short name, as an operator (by default) would through the daemon. */
  invoke(action: string, params?: Record<string, unknown>, trigger?: ActionTrigger): Promise<ActionResult>;
  /** Runs the plugin's stop. */
  stop(): Promise<void>;
}

/**
 * Builds a recording context around a plugin definition. Throws what the daemon's worker would
 * throw at start: InvalidPluginError (bad definition, config not matching configSchema),
 * PluginInitError (bad actions()).
 */
export function createTestKit<Config = Record<string, unknown>>(plugin: PluginDefinition<Config>, opts?: TestKitOptions<Config>): TestKit<Config>;
/**
 * Imports the plugin module at `module` (a file or folder path, or a file: URL such as
 * `new URL('../index.ts', import.meta.url)`) freshly — its own module state, as a restarted
 * worker has — the way the daemon does (`.ts` through tsx), then builds the kit.
 */
export function createTestKit<Config = Record<string, unknown>>(module: string | URL, opts?: TestKitOptions<Config>): Promise<TestKit<Config>>;
export function createTestKit<Config = Record<string, unknown>>(
  target: PluginDefinition<Config> | string | URL,
  opts: TestKitOptions<Config> = {},
): TestKit<Config> | Promise<TestKit<Config>> {
  if (typeof target === 'string' || target instanceof URL) {
    const file = resolvePluginModule(target, process.cwd(), 'the path given to createTestKit');
    return importPluginModule(file, { fresh: true }).then((def) => buildKit(checkPluginDefinition(def, file) as PluginDefinition<Config>, opts));
  }
  return buildKit(checkPluginDefinition(target, 'the object given to createTestKit') as PluginDefinition<Config>, opts);
}

function buildKit<Config>(plugin: PluginDefinition<Config>, opts: TestKitOptions<Config>): TestKit<Config> {
  const config = preparePluginConfig(plugin, opts.config ?? {}) as Readonly<Config>;
  const actions = collectActions(plugin);
  const ajv = createParamsAjv();
  const validators = new Map<string, ParamsValidator>();
  for (const [k, a] of Object.entries(actions)) validators.set(k, compileParams(ajv, `heimdall.${plugin.name}.${k}`, (a.params as Record<string, unknown> | undefined) ?? { type: 'object' }));
  const calls = emptyCalls();
  const received: DatabaseEvent[] = [];
  const prefix = `heimdall.${plugin.name}.`;
  const write = opts.write === true;
  const receiveOwnEvents = opts.receiveOwnEvents === true;

  const runOwn = async (short: string, params: Record<string, unknown>, trigger: ActionTrigger): Promise<ActionResult> => {
    const fullName = `${prefix}${short}`;
    const def = actions[short] as ActionDefinition<any, Config>;
    const checked = checkParams(fullName, validators.get(short)!, params);
    const timeoutMs = typeof def.timeoutMs === 'number' ? def.timeoutMs : DEFAULT_ACTION_TIMEOUT_MS;
    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(new ActionTimeoutError(`The action ${fullName} did not finish within ${timeoutMs} ms.`)), timeoutMs);
    timer.unref?.();
    try {
      const actx: ActionContext<any, Config> = Object.freeze({ ...ctx, params: checked, invocationId: randomUUID(), signal: ac.signal, trigger });
      const value = await def.handler.call(def, actx);
      if (ac.signal.aborted) throw ac.signal.reason as Error;
      return checkActionResult(fullName, value);
    } catch (err) {
      if (err instanceof ActionFailedError || err instanceof ActionTimeoutError) throw err;
      if (ac.signal.aborted) throw ac.signal.reason as Error;
      throw new ActionFailedError(`The action ${fullName} threw: ${(err as Error)?.message ?? String(err)}`, { cause: serializeError(err) });
    } finally {
      clearTimeout(timer);
    }
  };

  const invokeByName = async (name: string, params: Record<string, unknown>, trigger: ActionTrigger): Promise<ActionResult> => {
    const short = name.startsWith(prefix) ? name.slice(prefix.length) : undefined;
    if (short !== undefined && short in actions) return runOwn(short, params, trigger);
    if (opts.invokeAction) return opts.invokeAction(name, params);
    throw new ActionNotFoundError(`No action is registered as "${name}" in the test kit; pass opts.invokeAction to answer actions of other plugins.`, {
      action: name,
      suggestions: Object.keys(actions).map((a) => `${prefix}${a}`),
    });
  };

  const legacyModel = opts.prompt;
  const services = recordingServices(calls, {
    plugin: { name: plugin.name, write },
    database: opts.database ?? opts.query,
    model: opts.model ?? (legacyModel ? (p: string) => legacyModel(p) : undefined),
    confirm: opts.confirm,
    invokeAction: (name, params) => invokeByName(name, params, { kind: 'plugin', plugin: plugin.name }),
  });
  const log = (level: string) => (msg: string, data?: Record<string, unknown>) => void calls.logs.push({ level, msg: String(msg), ...(data ? { data } : {}) });
  const ctx: PluginContext<Config> = Object.freeze({
    name: plugin.name,
    config,
    log: Object.freeze({ debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') }),
    ...services,
  });
  const subscriber = {
    name: plugin.name,
    receiveOwnEvents,
    subscribes: (type: string) => !plugin.events || plugin.events.some((p) => eventTypeMatches(p, type)),
  };

  return {
    ctx,
    plugin,
    calls,
    received,
    init: async () => {
      await plugin.init?.call(plugin, ctx);
    },
    emit: async (partial) => {
      const checked = checkEvent(structuredClone(partial), { database: 'neo4j', source: 'test' });
      if (!checked.ok) throw new HeimdallError(ErrorCode.HMD_ERR_INVALID_EVENT, `The test kit refused the event, as POST /v1/events would: ${checked.reason}`, { reason: checked.reason });
      const event = checked.event;
      if (!wouldReceive(subscriber, event)) return event;
      received.push(event);
      // the daemon hands each plugin its own copy (the event crosses to the worker thread)
      await plugin.onDatabaseEvent?.call(plugin, structuredClone(event), ctx);
      return event;
    },
    invoke: (action, params = {}, trigger = { kind: 'operator' }) => invokeByName(`${prefix}${action}`, params, trigger),
    stop: async () => {
      await plugin.stop?.call(plugin, ctx);
    },
  };
}
