#!/usr/bin/env node
/**
 * The `heimdall` command. Exit codes: 0 success, 1 failure, 2 bad usage or invalid config
 * (see exit.ts). commander's own usage errors (unknown option, missing argument, bad choice)
 * are turned into exit 2 through exitOverride.
 */
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { redactText } from '../../config/redact.js';
import { registerAudit } from './audit.js';
import { registerConfirmations } from './confirmations.js';
import { registerDb } from './db.js';
import { registerDev } from './dev.js';
import { registerEmit } from './emit.js';
import { registerEvents } from './events.js';
import { CliError, EXIT_FAILURE, EXIT_OK, EXIT_USAGE, flushAndExit } from './exit.js';
import { registerInvocationCommands } from './invocations.js';
import { registerQuarantine } from './quarantine.js';
import { registerReload } from './reload.js';
import { registerNewPlugin } from './new-plugin.js';
import { registerRemoteCommands } from './remote.js';
import { registerRules } from './rules.js';
import { registerStart } from './start.js';
import { registerTail } from './tail.js';
import { registerValidate } from './validate.js';

function version(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version?: string };
    return pkg.version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}

export function buildProgram(): Command {
  const program = new Command();
  program
    .name('heimdall')
    .description('Heimdall: a daemon beside a graph database that runs plugins on its events.')
    .version(version(), '-V, --version', 'print the version')
    .helpOption('-h, --help', 'show help for a command')
    .showHelpAfterError('(add --help for usage)')
    .showSuggestionAfterError(true)
    // Must come before the commands are added: subcommands copy these settings.
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s), writeOut: (s) => process.stdout.write(s) });
  registerStart(program);
  registerDev(program);
  registerValidate(program);
  registerRemoteCommands(program);
  registerInvocationCommands(program);
  registerEmit(program);
  registerDb(program);
  registerTail(program);
  registerEvents(program);
  registerConfirmations(program);
  registerAudit(program);
  registerQuarantine(program);
  registerRules(program);
  registerReload(program);
  registerNewPlugin(program);
  program.addHelpText('after', `
Exit codes: 0 success, 1 failure, 2 bad usage or invalid config.
Commands that talk to a running daemon find it by --url, else $HEIMDALL_URL, else the server section
(host, port, token) of --config / $HEIMDALL_CONFIG / ./heimdall.config.yaml, else http://127.0.0.1:8787;
the token by --token, else $HEIMDALL_TOKEN, else that server.token.`);
  return program;
}

/** Maps any error of a command to its exit code, printing what the operator needs to know. */
export function exitCodeFor(err: unknown): number {
  if (err instanceof CommanderError) {
    // Help and --version "errors" are successes; everything else commander throws is bad usage.
    if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version') return EXIT_OK;
    if (err.code === 'commander.help' || err.code === 'commander.executeSubCommandAsync') return err.exitCode === 0 ? EXIT_OK : EXIT_USAGE;
    return EXIT_USAGE;
  }
  if (err instanceof CliError) {
    if (err.stdout !== undefined) process.stdout.write(`${err.stdout}\n`);
    // commands scrub the config's secrets themselves; this catches credential-shaped text (a --url with a password)
    if (err.message !== '') process.stderr.write(`${redactText(err.message)}\n`);
    return err.exitCode;
  }
  const e = err as Error;
  process.stderr.write(redactText(`heimdall failed unexpectedly: ${e?.message ?? String(err)}\n${e?.stack ?? ''}\n`));
  return EXIT_FAILURE;
}

/** `heimdall status | head`: the reader went away, so there is nobody to tell; exit quietly. */
function exitQuietlyOnClosedPipe(stream: NodeJS.WriteStream): void {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(EXIT_OK);
    throw err;
  });
}

export async function main(argv: readonly string[] = process.argv): Promise<never> {
  exitQuietlyOnClosedPipe(process.stdout);
  exitQuietlyOnClosedPipe(process.stderr);
  const program = buildProgram();
  if (argv.length <= 2) {
    program.outputHelp({ error: true });
    return flushAndExit(EXIT_USAGE);
  }
  try {
    await program.parseAsync(argv as string[]);
  } catch (err) {
    return flushAndExit(exitCodeFor(err));
  }
  return flushAndExit(EXIT_OK);
}

void main();
