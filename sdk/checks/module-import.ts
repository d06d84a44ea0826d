/**
 * Imports a plugin module the way the daemon does, for the daemon's workers, `heimdall validate`
 * and the testing kit: `.ts`/`.mts`/`.cts` through tsx, `.js`/`.mjs` through import(). A `fresh`
 * import gets its own module instance (its own module state), as a restarted worker would. An
 * import that cannot be resolved is reported with the module, the file that imports it and what
 * to do.
 */
import { dirname } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { InvalidPluginError } from '../errors.js';

const TS_EXT = /\.(c|m)?ts$/;
let freshImports = 0;

/** The bare package name of a specifier (`@scope/name` or `name`), or undefined for a relative or absolute one. */
function packageName(specifier: string): string | undefined {
  if (/^(\.|\/|file:|node:|[A-Za-z]:\\)/.test(specifier)) return undefined;
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

function cleanPath(p: string): string {
  const noQuery = p.replace(/\?.*$/, '');
  return noQuery.startsWith('file:') ? fileURLToPath(noQuery) : noQuery;
}

/** A sentence for an import the plugin (or one of its files) makes that cannot be resolved; undefined for other errors. */
export function describeMissingImport(err: unknown, modulePath: string): string | undefined {
  const e = err as NodeJS.ErrnoException & { requireStack?: string[]; url?: string };
  if (e?.code !== 'ERR_MODULE_NOT_FOUND' && e?.code !== 'MODULE_NOT_FOUND') return undefined;
  const msg = String(e.message);
  const esm = /Cannot find (?:package|module) '([^']+)' imported from (.+?)(?:\n|$)/.exec(msg);
  const cjs = /Cannot find module '([^']+)'/.exec(msg);
  const specifier = esm?.[1] ?? cjs?.[1];
  if (!specifier) return undefined;
  const from = cleanPath(esm?.[2] ?? e.requireStack?.[0] ?? modulePath);
  const pkg = packageName(specifier);
  let todo: string;
  if (pkg === 'heimdall') {
    todo = "the daemon provides 'heimdall/sdk' to every plugin it runs; outside the daemon (tests, type checks) install the SDK as a dev dependency: `npm install -D <path to the Heimdall checkout>`";
  } else if (pkg) {
    todo = `install it where the plugin lives: \`npm install ${pkg}\` in ${dirname(from)} (or a folder above it)`;
  } else {
    todo = 'check the path of the import (relative imports need the file extension in ES modules, e.g. ./util.js)';
  }
  return `The plugin module ${modulePath} could not be imported: ${from} imports '${specifier}', which cannot be found; ${todo}.`;
}

/**
 * Imports `modulePath` (a file path or file: URL) and returns its default export (unwrapping the
 * extra `default` of a CommonJS module seen through ES interop). Throws InvalidPluginError.
 */
export async function importPluginModule(modulePath: string, opts: { fresh?: boolean } = {}): Promise<unknown> {
  const path = modulePath.startsWith('file:') ? fileURLToPath(modulePath) : modulePath;
  let url = pathToFileURL(path).href;
  if (opts.fresh) url += `?heimdall-fresh=${++freshImports}`;
  let mod: Record<string, unknown>;
  try {
    if (TS_EXT.test(path)) {
      // tsx's namespaced import is a fresh module instance on every call.
      const { tsImport } = await import('tsx/esm/api');
      mod = (await tsImport(url, import.meta.url)) as Record<string, unknown>;
    } else {
      mod = (await import(url)) as Record<string, unknown>;
    }
  } catch (err) {
    const missing = describeMissingImport(err, path);
    const e = err as Error;
    throw new InvalidPluginError(missing ?? `The plugin module ${path} could not be imported: ${e?.message ?? String(err)}`, { path });
  }
  let def = mod.default;
  if (def && typeof def === 'object' && 'default' in def && !('name' in def)) def = (def as { default: unknown }).default;
  return def;
}
