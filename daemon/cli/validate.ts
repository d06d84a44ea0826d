/**
 * `heimdall validate [--config F] [--json]`: check a config file without starting anything.
 * Prints "OK: FILE is valid." and exits 0, or every problem (file:line:col path: message (hint))
 * on stderr and exits 2.
 */
import { type Command } from 'commander';
import { CliError, EXIT_USAGE } from './exit.js';
import { out, plural, printJson } from './output.js';

interface ValidateOptions {
  config?: string;
  json?: boolean;
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
  const result = validateConfigFile(file);
  if (result.ok) {
    if (opts.json) printJson({ ok: true, file, errors: [] });
    else out(`OK: ${file} is valid.`);
    return;
  }
  const summary = `${file} has ${plural(result.errors.length, 'problem')}; fix ${result.errors.length === 1 ? 'it' : 'them'} and run \`heimdall validate\` again.`;
  throw new CliError(`${result.text}\n${summary}`, EXIT_USAGE, opts.json ? JSON.stringify({ ok: false, file, errors: result.errors }, null, 2) : undefined);
}

export function registerValidate(program: Command): void {
  program
    .command('validate')
    .description('Check a config file and print every problem with its line; exits 2 when there are any.')
    .option('-c, --config <file>', 'config file (default: $HEIMDALL_CONFIG, else ./heimdall.config.yaml)')
    .option('--json', 'print { ok, file, errors } as JSON on stdout')
    .action(async (opts: ValidateOptions) => runValidate(opts));
}
