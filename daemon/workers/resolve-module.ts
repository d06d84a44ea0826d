/**
 * Resolves a plugin `path` from the config to the module file a worker imports, and names the
 * plugin from that path until its module declares its own name.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, extname, join, resolve } from 'node:path';
import { InvalidPluginError } from '../../sdk/index.js';

const INDEX_FILES = ['index.ts', 'index.mts', 'index.mjs', 'index.js'];

export function resolvePluginModule(path: string, baseDir: string): string {
  const abs = resolve(baseDir, path);
  if (!existsSync(abs)) {
    throw new InvalidPluginError(`The plugin path ${path} does not exist (resolved to ${abs}); fix plugins[].path in the config.`, { path: abs });
  }
  if (statSync(abs).isFile()) return abs;
  const pkgFile = join(abs, 'package.json');
  if (existsSync(pkgFile)) {
    try {
      const pkg = JSON.parse(readFileSync(pkgFile, 'utf8')) as { main?: string };
      if (pkg.main && existsSync(join(abs, pkg.main))) return join(abs, pkg.main);
    } catch {
      // fall through to index files
    }
  }
  for (const f of INDEX_FILES) if (existsSync(join(abs, f))) return join(abs, f);
  throw new InvalidPluginError(
    `The plugin folder ${abs} has no ${INDEX_FILES.join(', ')} and no package.json "main"; add an index file or point plugins[].path at the module.`,
    { path: abs },
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
