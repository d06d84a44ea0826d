/**
 * Resolves a plugins[] entry to the module file a worker imports — `path` (a file or folder,
 * relative to the config file) or `package` (an npm package, found from the config's folder the
 * way `require` finds it: node_modules of that folder, then of each folder above) — and names the
 * plugin from it until its module declares its own name.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { InvalidPluginError } from '../../sdk/index.js';
import { folderEntry, resolvePluginModule as resolveModulePath } from '../../sdk/checks/locate.js';

/** What a plugins[] entry names: a path or a package (the config schema allows exactly one). */
export interface PluginLocation {
  path?: string | undefined;
  package?: string | undefined;
}

export function resolvePluginModule(path: string, baseDir: string): string {
  return resolveModulePath(path, baseDir);
}

/** The file a package.json `exports` entry points at for `import` (conditions import, node, default, require). */
function exportTarget(exp: unknown): string | undefined {
  if (typeof exp === 'string') return exp;
  if (Array.isArray(exp)) {
    for (const e of exp) {
      const t = exportTarget(e);
      if (t) return t;
    }
    return undefined;
  }
  if (!exp || typeof exp !== 'object') return undefined;
  const o = exp as Record<string, unknown>;
  if ('.' in o) return exportTarget(o['.']);
  for (const c of ['import', 'node', 'default', 'require']) if (c in o) {
    const t = exportTarget(o[c]);
    if (t) return t;
  }
  return undefined;
}

function packageEntry(dir: string, name: string): string {
  let pkg: { exports?: unknown; main?: string };
  try {
    pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as typeof pkg;
  } catch (err) {
    throw new InvalidPluginError(`The package.json of the plugin package ${name} (${dir}) cannot be read: ${(err as Error).message}; reinstall the package.`, { path: dir });
  }
  const target = exportTarget(pkg.exports);
  if (target && existsSync(join(dir, target))) return join(dir, target);
  const entry = folderEntry(dir);
  if (entry) return entry;
  throw new InvalidPluginError(
    `The plugin package ${name} (${dir}) has no entry point: its package.json has no usable "exports" or "main", and it has no index file. Give it one, or point plugins[].path at its module.`,
    { path: dir },
  );
}

/** The folder of the npm package `name` seen from `baseDir` (node_modules there, then in each folder above), or undefined. */
function findPackageDir(name: string, baseDir: string): string | undefined {
  let dir = resolve(baseDir);
  for (;;) {
    const candidate = join(dir, 'node_modules', ...name.split('/'));
    if (existsSync(join(candidate, 'package.json'))) return candidate;
    const parent = dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

/** The module file of the npm package `name`, looked up from `baseDir` like `require` does. */
export function resolvePluginPackage(name: string, baseDir: string): string {
  const dir = findPackageDir(name, baseDir);
  if (dir) return packageEntry(dir, name);
  throw new InvalidPluginError(
    `The plugin package ${name} is not installed: no node_modules/${name} in ${resolve(baseDir)} or a folder above it. Run \`npm install ${name}\` in ${resolve(baseDir)} (the config file's folder), or use plugins[].path.`,
    { package: name },
  );
}

/**
 * The name a plugin goes by before its module has loaded (in log lines and status): the file name
 * without extension, or the folder's name for an `index` file or a folder.
 */
export function pluginNameFromPath(path: string, baseDir: string): string {
  const stem = basename(path, extname(path));
  return stem === 'index' ? basename(resolve(baseDir, path, '..')) : stem;
}

/** The name before load, the module file, or why it cannot be found (the module path is then a best guess). */
export function locatePlugin(entry: PluginLocation, baseDir: string): { name: string; modulePath: string; error?: Error } {
  if (entry.package !== undefined) {
    const name = basename(entry.package);
    try {
      return { name, modulePath: resolvePluginPackage(entry.package, baseDir) };
    } catch (err) {
      return { name, modulePath: join(resolve(baseDir), 'node_modules', entry.package), error: err as Error };
    }
  }
  const path = entry.path ?? '';
  const name = pluginNameFromPath(path, baseDir);
  try {
    return { name, modulePath: resolvePluginModule(path, baseDir) };
  } catch (err) {
    return { name, modulePath: resolve(baseDir, path), error: err as Error };
  }
}

/**
 * What holds a plugin's files, for `heimdall dev` to watch: the folder plugins[].path names (or
 * the package's folder), or the one module file it names; undefined while it does not exist.
 */
export function pluginFiles(entry: PluginLocation, baseDir: string): { path: string; folder: boolean } | undefined {
  const path = entry.package !== undefined ? findPackageDir(entry.package, baseDir) : resolve(baseDir, entry.path ?? '');
  if (!path || !existsSync(path)) return undefined;
  return { path, folder: statSync(path).isDirectory() };
}
