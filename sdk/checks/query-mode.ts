/**
 * The read-only rule of ctx.database.query, shared by the daemon's database port and the testing
 * kit: a plugin is read-only unless its plugins[] entry has `write: true`, and a read-only plugin
 * asking for mode 'write' fails at once with ReadOnlyError (its other statements run in READ
 * transactions, where the server refuses writes).
 */
import { ReadOnlyError } from '../errors.js';
import type { QueryOptions } from '../plugin.js';

/** The mode a query asked for (undefined when it did not say), after the read-only rule; throws ReadOnlyError. */
export function checkQueryMode(plugin: { readonly name: string; readonly write: boolean }, opts: QueryOptions): 'read' | 'write' | undefined {
  // opts comes from plugin code: its fields are checked here, not trusted
  const mode: unknown = opts.mode;
  if (mode !== undefined && mode !== 'read' && mode !== 'write') {
    throw new ReadOnlyError(`ctx.database.query was called with mode ${JSON.stringify(mode)}; use 'read' or 'write'.`);
  }
  if (!plugin.write && mode === 'write') {
    throw new ReadOnlyError(`The plugin ${plugin.name} is read-only, so ctx.database.query cannot run in write mode. Grant write: true in its plugins[] entry to allow writes (they go through the remediation policy).`);
  }
  return mode;
}
