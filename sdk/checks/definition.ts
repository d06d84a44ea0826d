/**
 * The checks a plugin definition goes through before it runs, shared by the daemon's plugin worker
 * and the testing kit (so a plugin the kit accepts is one the daemon accepts): the shape of the
 * default export (name, version, hooks, `events`, `configSchema`) and the actions it declares.
 * Not part of the public SDK: `heimdall/sdk` does not export it.
 */
import { InvalidPluginError, PluginInitError } from '../errors.js';
import { isEventType } from '../events.js';
import { PLUGIN_NAME_PATTERN, type ActionDefinition, type PluginDefinition } from '../plugin.js';

/** The pattern an action's short name must match. */
export const ACTION_NAME_PATTERN = /^[a-zA-Z][a-zA-Z0-9_-]*$/;

const FAMILY = /^[a-z]+\.\*$/;

/** Why each entry of an `events` subscription is not an event type or family; empty when all are. */
export function subscriptionProblems(events: unknown): string[] {
  if (events === undefined) return [];
  if (!Array.isArray(events)) return ['events must be an array of event types such as "node.created" or "node.*"'];
  const problems: string[] = [];
  for (const e of events) {
    const ok = typeof e === 'string' && (e === '*' || isEventType(e) || FAMILY.test(e));
    if (!ok) problems.push(`events contains ${JSON.stringify(e)}, which is neither a known event type nor a family such as "node.*"`);
  }
  return problems;
}

/** Checks the shape of a default export and returns it typed, or throws InvalidPluginError saying what is wrong. */
export function checkPluginDefinition(def: unknown, modulePath: string): PluginDefinition {
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
  const problems: string[] = [];
  if (typeof p.name !== 'string' || !PLUGIN_NAME_PATTERN.test(p.name)) {
    problems.push(`name must be a string matching [a-z][a-z0-9-]* (got ${JSON.stringify(p.name)})`);
  }
  if (typeof p.version !== 'string' || p.version.length === 0) problems.push(`version must be a non-empty string (got ${JSON.stringify(p.version)})`);
  for (const fn of ['init', 'onDatabaseEvent', 'actions', 'stop'] as const) {
    if (p[fn] !== undefined && typeof p[fn] !== 'function') problems.push(`${fn} must be a function when present (got ${typeof p[fn]})`);
  }
  problems.push(...subscriptionProblems(p.events));
  if (p.configSchema !== undefined && (typeof p.configSchema !== 'object' || p.configSchema === null)) problems.push('configSchema must be a JSON Schema object');
  if (problems.length > 0) {
    throw new InvalidPluginError(`The plugin exported by ${modulePath} is invalid: ${problems.join('; ')}.`, { path: modulePath, problems });
  }
  return p as unknown as PluginDefinition;
}

/**
 * Calls the plugin's `actions()` and checks what it returns: an object of short name → action,
 * each name matching {@link ACTION_NAME_PATTERN}, each action with a handler and a description.
 * Throws PluginInitError naming the first problem.
 */
export function collectActions(plugin: PluginDefinition<any>): Record<string, ActionDefinition<any, any>> {
  if (!plugin.actions) return {};
  const got: unknown = plugin.actions.call(plugin);
  if (!got || typeof got !== 'object') throw new PluginInitError(`The plugin ${plugin.name}: actions() must return an object of name → action; got ${typeof got}.`);
  for (const [k, a] of Object.entries(got as Record<string, Partial<ActionDefinition>>)) {
    if (!ACTION_NAME_PATTERN.test(k)) throw new PluginInitError(`The plugin ${plugin.name} declares an action named ${JSON.stringify(k)}; action names must match [a-zA-Z][a-zA-Z0-9_-]*.`);
    if (!a || typeof a.handler !== 'function') throw new PluginInitError(`The action ${k} of plugin ${plugin.name} has no handler function.`);
    if (typeof a.description !== 'string') throw new PluginInitError(`The action ${k} of plugin ${plugin.name} needs a description string (the model reads it).`);
  }
  return got as Record<string, ActionDefinition<any, any>>;
}
