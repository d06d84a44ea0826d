/**
 * Loads a plugin module inside the worker and checks its default export is a plugin definition.
 * `.ts`/`.mts`/`.cts` files go through tsx; `.js`/`.mjs` through import().
 */
import { pathToFileURL } from 'node:url';
import { InvalidPluginError, PLUGIN_NAME_PATTERN, isEventType, type PluginDefinition } from '../../sdk/index.js';

const TS_EXT = /\.(c|m)?ts$/;

export async function importPluginModule(modulePath: string): Promise<unknown> {
  let mod: Record<string, unknown>;
  try {
    if (TS_EXT.test(modulePath)) {
      const { tsImport } = await import('tsx/esm/api');
      mod = (await tsImport(pathToFileURL(modulePath).href, import.meta.url)) as Record<string, unknown>;
    } else {
      mod = (await import(pathToFileURL(modulePath).href)) as Record<string, unknown>;
    }
  } catch (err) {
    const e = err as Error;
    throw new InvalidPluginError(`The plugin module ${modulePath} could not be imported: ${e.message}`, { path: modulePath });
  }
  let def = mod.default;
  // A CommonJS-compiled module seen through ESM interop wraps the export once more.
  if (def && typeof def === 'object' && 'default' in def && !('name' in def)) def = (def as { default: unknown }).default;
  return def;
}

/** Checks the shape of a default export and returns it typed, or throws InvalidPluginError saying what is wrong. */
export function checkPluginDefinition(def: unknown, modulePath: string): PluginDefinition {
  const problems: string[] = [];
  if (def === undefined) {
    throw new InvalidPluginError(
      `The plugin module ${modulePath} has no default export; export default definePlugin({ name, version, onDatabaseEvent, … }).`,
      { path: modulePath },
    );
  }
  if (!def || typeof def !== 'object') {
    throw new InvalidPluginError(`The default export of ${modulePath} is a ${typeof def}, not a plugin object; export default definePlugin({ … }).`, { path: modulePath });
  }
  const p = def as Record<string, unknown>;
  if (typeof p.name !== 'string' || !PLUGIN_NAME_PATTERN.test(p.name)) {
    problems.push(`name must be a string matching [a-z][a-z0-9-]* (got ${JSON.stringify(p.name)})`);
  }
  if (typeof p.version !== 'string' || p.version.length === 0) problems.push(`version must be a non-empty string (got ${JSON.stringify(p.version)})`);
  for (const fn of ['init', 'onDatabaseEvent', 'actions', 'stop'] as const) {
    if (p[fn] !== undefined && typeof p[fn] !== 'function') problems.push(`${fn} must be a function when present (got ${typeof p[fn]})`);
  }
  if (p.events !== undefined) {
    if (!Array.isArray(p.events)) problems.push('events must be an array of event types such as "node.created" or "node.*"');
    else {
      for (const e of p.events) {
        const ok = typeof e === 'string' && (e === '*' || isEventType(e) || (/^[a-z]+\.\*$/.test(e)));
        if (!ok) problems.push(`events contains ${JSON.stringify(e)}, which is neither a known event type nor a family such as "node.*"`);
      }
    }
  }
  if (p.configSchema !== undefined && (typeof p.configSchema !== 'object' || p.configSchema === null)) problems.push('configSchema must be a JSON Schema object');
  if (problems.length > 0) {
    throw new InvalidPluginError(`The plugin exported by ${modulePath} is invalid: ${problems.join('; ')}.`, { path: modulePath, problems });
  }
  return p as unknown as PluginDefinition;
}
