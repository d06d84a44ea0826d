/**
 * The built-in rules plugin as a plugin entry: when `rules:` or `rulesPath:` is set, the daemon
 * runs plugins/rules like any plugin (its own worker and bounded queue, counted and dropped under
 * load, in status), with `write: true` so cypher actions go through the remediation executor,
 * and with the queue, limits and files of the `rulesEngine:` section.
 *
 * The plugin's config slice is an object owned here: a reload puts the new rules in it, so a
 * restart of the plugin's worker (after a crash) starts with the rules of the last reload.
 */
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import type { HeimdallConfig, PluginConfig } from '../../config/types.js';

/** The name the rules plugin declares; its actions are heimdall.rules.<action>. */
export const RULES_PLUGIN = 'rules';

/** The folder of the built-in rules plugin (beside this folder's parent, in the build too). */
export const RULES_PLUGIN_PATH = fileURLToPath(new URL('../../plugins/rules/', import.meta.url));

/** The slice handed to the plugin (its RulesPluginConfig). */
export interface RulesSlice {
  rules: unknown[];
  baseDir: string;
  deadLetters: { path: string; max: number };
  statePath: string;
  historySize: number;
  maxInFlight: number;
  maxKeys: number;
  webhookTimeoutMs: number;
  /** The key the plugin's reload action asks for: only the daemon knows it. */
  reloadKey: string;
}

/** Whether the daemon runs the rules plugin for this config. */
export function rulesEngineWanted(config: Pick<HeimdallConfig, 'rules' | 'rulesPath'>): boolean {
  return config.rules.length > 0 || config.rulesPath !== undefined;
}

/** The plugin entry and its (mutable) slice for `config`, or undefined when no rules are configured. */
export function rulesPluginEntry(config: HeimdallConfig): { entry: PluginConfig; slice: RulesSlice } | undefined {
  if (!rulesEngineWanted(config)) return undefined;
  const e = config.rulesEngine;
  const slice: RulesSlice = {
    rules: [...(config.ruleSet?.rules ?? config.rules)],
    baseDir: config.baseDir,
    deadLetters: { path: e.deadLetters.path, max: e.deadLetters.max },
    statePath: e.statePath,
    historySize: e.historySize,
    maxInFlight: e.maxInFlight,
    maxKeys: e.maxKeys,
    webhookTimeoutMs: e.webhookTimeoutMs,
    reloadKey: randomBytes(24).toString('hex'),
  };
  const entry: PluginConfig = {
    path: RULES_PLUGIN_PATH,
    enabled: true,
    config: slice as unknown as PluginConfig['config'],
    queue: { ...e.queue },
    write: true,
    receiveOwnEvents: false,
    handlerTimeoutMs: e.handlerTimeoutMs,
    initTimeoutMs: e.initTimeoutMs,
    resourceLimits: { ...e.resourceLimits },
    restart: { ...e.restart },
    ...(e.remediation ? { remediation: { ...e.remediation } } : {}),
    ...(e.limits ? { limits: { ...e.limits } } : {}),
  };
  return { entry, slice };
}
