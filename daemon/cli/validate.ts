/**
 * `heimdall validate [--config F] [--json] [--no-plugins]`: check a config file without starting
 * anything, then (when it is valid) each enabled plugin: its path or package resolves, its module
 * loads, its definition and `events` are valid, its config matches its configSchema. Prints "OK:
 * FILE is valid…" and exits 0, or every problem (file:line:col path: message (hint)) on stderr and
 * exits 2. No problem quotes a secret of the file: the loader and this command scrub them.
 */
import { type Command } from 'commander';
import type { ConfigIssue } from '../../config/errors.js';
import { CliError, EXIT_USAGE } from './exit.js';
import { out, plural, printJson } from './output.js';

interface ValidateOptions {
  config?: string;
  json?: boolean;
  /** commander's --no-plugins */
  plugins?: boolean;
}

async function locate(explicit: string | undefined): Promise<string> {
  // Imported here, not at the top: the other commands should not pay for compiling the schema.
  const { ConfigError, findConfigFile } = await import('../../config/loader.js');
  let file: string | undefined;
  try {
    file = findConfigFile(explicit);
  } catch (err) {
    if (err instanceof ConfigError) throw new CliError(err.format(), EXIT_USAGE);
    throw err;
  }
  if (file === undefined) {
    throw new CliError('No config file to validate: ./heimdall.config.yaml does not exist and $HEIMDALL_CONFIG is not set. Pass --config FILE.', EXIT_USAGE);
  }
  return file;
}

export async function runValidate(opts: ValidateOptions): Promise<void> {
  const file = await locate(opts.config);
  const { validateConfigFile } = await import('../../config/validate.js');
  const checked = validateConfigFile(file);
  // the plugins are checked once the config itself is valid (each module loaded in a worker)
  let result: { ok: true } | { ok: false; errors: ConfigIssue[]; text: string } = checked;
  if (checked.ok && opts.plugins !== false && checked.config.plugins.length > 0) {
    const [{ validatePlugins }, { formatIssues }, { SecretScrubber }] = await Promise.all([import('../plugin-check.js'), import('../../config/errors.js'), import('../../config/secret-scrubber.js')]);
    // a plugin's configSchema error may quote a value of its config, a password say
    const secrets = SecretScrubber.fromConfig(checked.config);
    const errors = (await validatePlugins(checked.config, file)).map((e) => ({ ...e, message: secrets.text(e.message), ...(e.hint !== undefined ? { hint: secrets.text(e.hint) } : {}) }));
    if (errors.length > 0) result = { ok: false, errors, text: formatIssues(errors, file) };
  }
  if (result.ok) {
    const n = checked.ok ? checked.config.plugins.filter((p) => p.enabled).length : 0;
    if (opts.json) printJson({ ok: true, file, errors: [] });
    else out(`OK: ${file} is valid${opts.plugins === false || n === 0 ? '' : `, and its ${plural(n, 'plugin')} load${n === 1 ? 's' : ''} and match${n === 1 ? 'es' : ''} ${n === 1 ? 'its' : 'their'} configSchema`}.`);
    return;
  }
  const later = checked.ok ? '' : ' (plugins are checked once the config itself is valid)';
  const summary = `${file} has ${plural(result.errors.length, 'problem')}${later}; fix ${result.errors.length === 1 ? 'it' : 'them'} and run \`heimdall validate\` again.`;
  throw new CliError(`${result.text}\n${summary}`, EXIT_USAGE, opts.json ? JSON.stringify({ ok: false, file, errors: result.errors }, null, 2) : undefined);
}

export function registerValidate(program: Command): void {
  program
    .command('validate')
    .description('Check a config file and print every problem with its line; exits 2 when there are any.')
    .option('-c, --config <file>', 'config file (default: $HEIMDALL_CONFIG, else ./heimdall.config.yaml)')
    .option('--json', 'print { ok, file, errors } as JSON on stdout')
    .option('--no-plugins', 'check the config file only; do not load the plugins')
    .action(async (opts: ValidateOptions) => runValidate(opts));
}
