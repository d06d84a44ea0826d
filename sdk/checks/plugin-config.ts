/**
 * A plugin's config slice as the daemon hands it over, shared by the plugin worker, the testing
 * kit and `heimdall validate`: validated against the plugin's `configSchema` (JSON Schema 2020-12,
 * defaults filled in), then deep-frozen, so a plugin that mutates `ctx.config` throws in the kit as
 * it does in the daemon.
 */
import { Ajv2020, type ErrorObject } from 'ajv/dist/2020.js';
import addFormatsImport from 'ajv-formats';
import { InvalidPluginError } from '../errors.js';
import type { JsonSchema, PluginDefinition } from '../plugin.js';

const addFormats = addFormatsImport as unknown as (ajv: Ajv2020) => Ajv2020;

/** One way a config slice does not match its schema, with the key it is about (`config.threshold`). */
export interface ConfigIssue {
  /** The key the problem is about, as a dotted path from `config` (`config`, `config.window.ms`). */
  key: string;
  /** What is wrong, as a phrase that follows the key: "must be integer", "is not a known key". */
  message: string;
  /** The JSON Schema keyword that failed (`type`, `additionalProperties`, `required`, …). */
  keyword: string;
}

/** Freezes an object graph in place and returns it. */
export function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object' && !Object.isFrozen(o)) {
    Object.freeze(o);
    for (const v of Object.values(o as Record<string, unknown>)) deepFreeze(v);
  }
  return o;
}

function compile(plugin: Pick<PluginDefinition<any>, 'name'>, schema: JsonSchema) {
  // One Ajv per schema: two plugins' schemas may carry the same $id.
  const ajv = addFormats(new Ajv2020({ strict: false, allErrors: true, useDefaults: true }));
  try {
    return ajv.compile(schema);
  } catch (err) {
    throw new InvalidPluginError(`The configSchema of plugin ${plugin.name} is not a valid JSON Schema: ${(err as Error).message}`);
  }
}

function toIssue(e: ErrorObject): ConfigIssue {
  const at = `config${e.instancePath.replace(/\//g, '.')}`;
  if (e.keyword === 'additionalProperties') {
    const k = (e.params as { additionalProperty: string }).additionalProperty;
    return { key: `${at}.${k}`, message: 'is not a key the configSchema knows', keyword: e.keyword };
  }
  if (e.keyword === 'required') {
    const k = (e.params as { missingProperty: string }).missingProperty;
    return { key: `${at}.${k}`, message: 'is required and missing', keyword: e.keyword };
  }
  if (e.keyword === 'enum') {
    return { key: at, message: `must be one of ${(e.params as { allowedValues: unknown[] }).allowedValues.map((v) => JSON.stringify(v)).join(', ')}`, keyword: e.keyword };
  }
  return { key: at, message: e.message ?? 'is invalid', keyword: e.keyword };
}

/**
 * Validates a copy of `config` against the plugin's configSchema, filling defaults. Returns the
 * filled copy and the issues (empty when it matches). Throws InvalidPluginError when the schema
 * itself does not compile.
 */
export function checkPluginConfig(plugin: Pick<PluginDefinition<any>, 'name' | 'configSchema'>, config: unknown): { config: Record<string, unknown>; issues: ConfigIssue[] } {
  const copy = structuredClone(config ?? {}) as Record<string, unknown>;
  if (!plugin.configSchema) return { config: copy, issues: [] };
  const validate = compile(plugin, plugin.configSchema);
  if (validate(copy)) return { config: copy, issues: [] };
  return { config: copy, issues: (validate.errors ?? []).map(toIssue) };
}

/** "config.threshold must be integer; config.treshold is not a key the configSchema knows". */
export function formatConfigIssues(issues: readonly ConfigIssue[]): string {
  return issues.map((i) => `${i.key} ${i.message}`).join('; ');
}

/**
 * The config a plugin receives: validated (defaults filled) and deep-frozen. Throws
 * InvalidPluginError naming every key that is wrong or unknown.
 */
export function preparePluginConfig(plugin: Pick<PluginDefinition<any>, 'name' | 'configSchema'>, config: unknown): Readonly<Record<string, unknown>> {
  const { config: filled, issues } = checkPluginConfig(plugin, config);
  if (issues.length > 0) {
    throw new InvalidPluginError(
      `The config of plugin ${plugin.name} does not match its configSchema: ${formatConfigIssues(issues)}. Fix plugins[].config in heimdall.config.yaml.`,
      { issues },
    );
  }
  return deepFreeze(filled);
}
