/**
 * Where a plugin's module is: a file as it is, or a folder's package.json `main` or index file.
 * Shared by the daemon (plugins[].path) and the testing kit (createTestKit with a path).
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InvalidPluginError } from '../errors.js';

/** The index files a plugin folder may have, in the order they are looked for. */
export const INDEX_FILES = ['index.ts', 'index.mts', 'index.mjs', 'index.js'];

/** The module file of a plugin folder (package.json `main`, else an index file), or undefined. */
export function folderEntry(dir: string): string | undefined {
  const pkgFile = join(dir, 'package.json');
  if (existsSync(pkgFile)) {
    try {
      const pkg = JSON.parse(readFileSync(pkgFile, 'utf8')) as { main?: string };
      if (pkg.main && existsSync(join(dir, pkg.main)) && statSync(join(dir, pkg.main)).isFile()) return join(dir, pkg.main);
    } catch {
      // fall through to index files
    }
  }
  for (const f of INDEX_FILES) if (existsSync(join(dir, f))) return join(dir, f);
  return undefined;
}

/**
 * Resolves a plugin path (a file or folder, relative to `baseDir`, or a file: URL) to its module
 * file. Throws InvalidPluginError saying what to fix (`what` names the setting, e.g. plugins[].path).
 */
export function resolvePluginModule(path: string | URL, baseDir: string, what = 'plugins[].path in the config'): string {
  const given = String(path);
  const abs = path instanceof URL || given.startsWith('file:') ? fileURLToPath(path) : resolve(baseDir, given);
  if (!existsSync(abs)) {
    throw new InvalidPluginError(`The plugin path ${given} does not exist (resolved to ${abs}); fix ${what}.`, { path: abs });
  }
  if (statSync(abs).isFile()) return abs;
  const entry = folderEntry(abs);
  if (entry) return entry;
  throw new InvalidPluginError(
    `The plugin folder ${abs} has no ${INDEX_FILES.join(', ')} and no package.json "main"; add an index file or point ${what} at the module.`,
    { path: abs },
  );
}
