/**
 * rules: declarative, no-code triggers. A built-in plugin that runs the rules of its config slice
 * in its own worker and queue, through the plugin context only. See README.md beside this file.
 *
 * The default export uses the wall clock and the global fetch; `createRulesPlugin({ clock,
 * fetch })` builds the same plugin with others (tests and benchmarks).
 */
import { isAbsolute, resolve } from 'node:path';
import { definePlugin, type PluginDefinition } from '../../sdk/index.js';
import { systemClock, type Clock } from './clock.js';
import { compileRules } from './compile.js';
import { DeadLetterStore } from './dead-letters.js';
import { RulesEngine } from './engine.js';
import { PauseState } from './pause-state.js';
import { ruleActions, type ReloadGate } from './plugin-actions.js';
import { wantedEvents } from './reload.js';

export { compileRules } from './compile.js';
export { RULE_JSON_SCHEMA } from './rule-schema.js';
export type { RuleSpec, RuleError, CompileResult } from './types.js';

/** The plugin's config slice. */
export interface RulesPluginConfig {
  /** The rules (the daemon puts config.rules and the rulesPath files here). */
  rules?: unknown[];
  /** Relative paths below resolve against it; default the working directory. */
  baseDir?: string;
  deadLetters?: { path?: string | null; max?: number };
  /** Pause state file; null keeps pauses in memory only. */
  statePath?: string | null;
  historySize?: number;
  maxInFlight?: number;
  maxKeys?: number;
  webhookTimeoutMs?: number;
  /** Set by the daemon when it runs the plugin for rules: and rulesPath:; its `reload` action needs it. */
  reloadKey?: string;
}

export const DEFAULTS = {
  deadLetterPath: '.heimdall/rules-dead-letters.jsonl',
  deadLetterMax: 1000,
  statePath: '.heimdall/rules-state.json',
  historySize: 50,
  maxInFlight: 256,
  maxKeys: 10_000,
  webhookTimeoutMs: 10_000,
} as const;

const nullablePath = { type: ['string', 'null'], minLength: 1 };

export const RULES_CONFIG_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  properties: {
    rules: { type: 'array', default: [], description: 'The rules; each is checked on its own so one broken rule never stops the others.' },
    baseDir: { type: 'string', minLength: 1, description: 'Folder that relative paths resolve against (the config file folder).' },
    deadLetters: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        path: { ...nullablePath, default: DEFAULTS.deadLetterPath, description: 'JSONL file of dead letters; null keeps them in memory only.' },
        max: { type: 'integer', minimum: 1, maximum: 1_000_000, default: DEFAULTS.deadLetterMax, description: 'Dead letters kept; the oldest is evicted.' },
      },
    },
    statePath: { ...nullablePath, default: DEFAULTS.statePath, description: 'File that keeps which rules are paused; null keeps it in memory only.' },
    historySize: { type: 'integer', minimum: 1, maximum: 10_000, default: DEFAULTS.historySize, description: 'Firings kept per rule in the history.' },
    maxInFlight: { type: 'integer', minimum: 1, maximum: 100_000, default: DEFAULTS.maxInFlight, description: 'Firings running at once before the plugin stops taking events.' },
    maxKeys: { type: 'integer', minimum: 1, maximum: 10_000_000, default: DEFAULTS.maxKeys, description: 'Window and cooldown keys kept per rule.' },
    webhookTimeoutMs: { type: 'integer', minimum: 1, maximum: 600_000, default: DEFAULTS.webhookTimeoutMs, description: 'Deadline of one webhook attempt that sets no timeoutMs, ms.' },
    reloadKey: { type: 'string', minLength: 16, description: 'Set by the daemon: the key its reload calls carry. Without it the reload action is refused.' },
  },
};

export interface RulesPluginDeps {
  clock?: Clock;
  fetch?: typeof fetch;
}

export type RulesPlugin = PluginDefinition<RulesPluginConfig> & { readonly engine: RulesEngine | undefined };

function pathFrom(cfg: RulesPluginConfig, p: string | null | undefined, dflt: string): string | undefined {
  if (p === null) return undefined;
  const v = p ?? dflt;
  return isAbsolute(v) ? v : resolve(cfg.baseDir ?? process.cwd(), v);
}

export function createRulesPlugin(deps: RulesPluginDeps = {}): RulesPlugin {
  let engine: RulesEngine | undefined;
  const clock = deps.clock ?? systemClock;
  const gate: ReloadGate = { key: undefined, onReloaded: (events) => void (plugin.events = (events ?? undefined) as PluginDefinition['events']) };
  const plugin = definePlugin<RulesPluginConfig>({
    name: 'rules',
    version: '1.0.0',
    description: 'Declarative rules: events matched by type, labels and CEL conditions, counted in windows, fire templated actions with retries and a dead-letter list.',
    configSchema: RULES_CONFIG_SCHEMA,
    init(ctx) {
      const cfg = ctx.config;
      const compiled = compileRules(cfg.rules ?? []);
      gate.key = cfg.reloadKey;
      // Subscribe to the event types the enabled rules name (the host reads `events` after init,
      // and the reload action returns them for the daemon), so the router does not copy events no
      // rule wants into this worker.
      plugin.events = (wantedEvents(compiled) ?? undefined) as PluginDefinition['events'];
      const deadLetters = new DeadLetterStore(pathFrom(cfg, cfg.deadLetters?.path, DEFAULTS.deadLetterPath), cfg.deadLetters?.max ?? DEFAULTS.deadLetterMax, ctx.log);
      deadLetters.load();
      const pauses = new PauseState(pathFrom(cfg, cfg.statePath, DEFAULTS.statePath), ctx.log);
      pauses.load();
      engine = new RulesEngine({
        compiled,
        ctx,
        clock,
        fetch: deps.fetch ?? globalThis.fetch,
        deadLetters,
        pauses,
        historySize: cfg.historySize ?? DEFAULTS.historySize,
        maxInFlight: cfg.maxInFlight ?? DEFAULTS.maxInFlight,
        maxKeys: cfg.maxKeys ?? DEFAULTS.maxKeys,
        webhookTimeoutMs: cfg.webhookTimeoutMs ?? DEFAULTS.webhookTimeoutMs,
      });
      for (const err of compiled.errors) ctx.log.error(`${err.message} The rule was left out; the other rules run.`, { rule: err.rule, path: err.path, ...(err.position ? { position: err.position } : {}) });
      const paused = engine.entries.filter((e) => engine!.stateOf(e) === 'paused').length;
      const dl = deadLetters.counts().count;
      ctx.log.info(
        `The rules engine loaded ${compiled.rules.length} rule${compiled.rules.length === 1 ? '' : 's'}${paused ? ` (${paused} paused)` : ''}${compiled.invalid.length ? `; ${compiled.invalid.length} invalid rule${compiled.invalid.length === 1 ? ' was' : 's were'} left out: ${compiled.invalid.join(', ')}` : ''}${dl ? `; ${dl} dead letters are waiting` : ''}.`,
        { rules: compiled.rules.length, invalid: compiled.invalid, paused, deadLetters: dl },
      );
    },
    onDatabaseEvent(event) {
      return engine?.handle(event);
    },
    actions() {
      return ruleActions(() => engine, gate);
    },
    async stop(ctx) {
      if (!engine) return;
      const r = await engine.stop();
      if (r.droppedDebounced > 0) ctx.log.warn(`The rules engine stopped with ${r.droppedDebounced} debounced firings still waiting; they were dropped.`);
      if (r.stillRunning > 0) ctx.log.warn(`The rules engine stopped with ${r.stillRunning} firings still running; their results are not recorded.`);
    },
  });
  return Object.defineProperty(plugin, 'engine', { get: () => engine, enumerable: false }) as RulesPlugin;
}

export default createRulesPlugin();
