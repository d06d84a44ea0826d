/**
 * `heimdall new plugin <name> [--dir D] [--js] [--force]`: writes a plugin folder D/<name> (D
 * defaults to the current folder) with a typed plugin, package.json (the SDK as a `file:` dev
 * dependency on this Heimdall, so `npm install` needs no download), tsconfig.json, a README and a
 * test with the testing kit that passes as generated. Refuses to write into a folder that has files.
 */
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { PLUGIN_NAME_PATTERN } from '../../sdk/index.js';
import { CliError, EXIT_FAILURE, usageError } from './exit.js';
import { out, printJson } from './output.js';
import { scaffoldFiles } from './scaffold-templates.js';

interface NewPluginOptions {
  dir?: string;
  js?: boolean;
  force?: boolean;
  json?: boolean;
}

/** The folder of this Heimdall package (where its package.json is). */
export function heimdallRoot(): string {
  return resolve(fileURLToPath(new URL('../../../', import.meta.url)));
}

/** `file:<path from the plugin folder to this Heimdall>`, with forward slashes. */
export function sdkSpecFor(pluginDir: string): string {
  const rel = relative(pluginDir, heimdallRoot()).split(sep).join('/');
  return `file:${rel === '' ? '.' : rel}`;
}

export function writePluginScaffold(name: string, opts: NewPluginOptions): { dir: string; files: string[] } {
  if (!PLUGIN_NAME_PATTERN.test(name)) {
    throw usageError(`"${name}" is not a plugin name: use lower-case letters, digits and dashes, starting with a letter (e.g. order-watch).`);
  }
  const dir = resolve(opts.dir ?? '.', name);
  if (existsSync(dir) && readdirSync(dir).length > 0 && !opts.force) {
    throw new CliError(`The folder ${dir} already exists and is not empty, so nothing was written; choose another --dir or name, or pass --force to overwrite its files.`, EXIT_FAILURE);
  }
  const files = scaffoldFiles({ name, sdkSpec: sdkSpecFor(dir), js: opts.js === true });
  for (const [rel, text] of Object.entries(files)) {
    const p = join(dir, rel);
    mkdirSync(dirname(p), { recursive: true });
    writeFileSync(p, text);
  }
  return { dir, files: Object.keys(files) };
}

export function registerNewPlugin(program: Command): void {
  const cmd = program.command('new').description('Create something new from a template.');
  cmd
    .command('plugin')
    .description('Write a plugin folder: a typed plugin with an event handler, an action and a configSchema, package.json, tsconfig.json, a README and a passing test.')
    .argument('<name>', 'the plugin name, e.g. order-watch ([a-z][a-z0-9-]*); also the folder name')
    .option('--dir <folder>', 'where to create the plugin folder (default: the current folder)')
    .option('--js', 'plain JavaScript (index.mjs with JSDoc types) instead of TypeScript')
    .option('--force', 'write into an existing, non-empty folder')
    .option('--json', 'print { dir, files } as JSON')
    .action((name: string, opts: NewPluginOptions) => {
      const r = writePluginScaffold(name, opts);
      if (opts.json) {
        printJson(r);
        return;
      }
      const shown = relative(process.cwd(), r.dir) || '.';
      out(`Created the plugin ${name} in ${r.dir}: ${r.files.join(', ')}.`);
      out(`Next: cd ${shown} && npm install && npm test; then add "- path: ${r.dir}" under plugins: in heimdall.config.yaml.`);
    });
}
