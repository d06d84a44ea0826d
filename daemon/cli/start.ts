/**
 * `heimdall start [--config F] [--log-level L] [--pretty]`: run the daemon in the foreground.
 *
 * Loads the config (--config, $HEIMDALL_CONFIG, ./heimdall.config.yaml, else built-in defaults),
 * starts the daemon and waits for SIGTERM/SIGINT, then stops it gracefully and exits 0. A second
 * signal exits 1 at once. A config error (including a non-loopback bind without a token) exits 2;
 * any other start-up failure exits 1. A rule that does not compile is not a reason to stay down:
 * it is logged with its file and line, left out, and the other rules run (`heimdall validate`
 * still exits 2 for it). SIGHUP reloads the config and rule files (daemon/reload.ts); an invalid
 * new config is logged and the running one stays.
 */
import { Option, type Command } from 'commander';
import type { Logger } from 'pino';
import type { HeimdallConfig, LogLevel } from '../../config/types.js';
import type { RunningDaemon } from '../daemon.js';
import { CliError, EXIT_FAILURE, EXIT_OK, EXIT_USAGE, flushAndExit } from './exit.js';
import { ErrorCode } from '../../sdk/errors.js';

const LEVELS: readonly LogLevel[] = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'];

export interface StartOptions {
  config?: string;
  logLevel?: LogLevel;
  pretty?: boolean;
}

/** What `heimdall dev` adds to a start: called once the daemon runs; the function it returns is called before the daemon stops. */
export type OnRunning = (daemon: RunningDaemon, ctx: { logger: Logger; config: HeimdallConfig; file: string | undefined }) => (() => void) | Promise<() => void>;

/** Loads the config the way `start` and `validate` agree on; ConfigError becomes exit 2. */
export async function loadConfigOrDefaults(explicit: string | undefined, opts: { invalidRules?: 'error' | 'keep' } = {}): Promise<{ config: HeimdallConfig; file: string | undefined }> {
  // Imported here, not at the top: the remote commands should not pay for ajv, fastify and piscina.
  const { ConfigError, defaultConfig, findConfigFile, loadConfig } = await import('../../config/loader.js');
  try {
    const file = findConfigFile(explicit);
    return { config: file ? loadConfig(file, process.env, opts) : defaultConfig(), file };
  } catch (err) {
    if (err instanceof ConfigError) throw new CliError(`${err.format()}\nFix the config (\`heimdall validate\` checks it) and start again.`, EXIT_USAGE);
    throw err;
  }
}

function isConfigError(err: unknown): boolean {
  return (err as { code?: unknown } | null)?.code === ErrorCode.HMD_ERR_CONFIG;
}

export async function runStart(opts: StartOptions, onRunning?: OnRunning): Promise<void> {
  const { config, file } = await loadConfigOrDefaults(opts.config, { invalidRules: 'keep' });
  const [{ redactConfig }, { SecretScrubber }, { createLogger }, { startDaemon }] = await Promise.all([
    import('../../config/loader.js'),
    import('../../config/secret-scrubber.js'),
    import('../logger.js'),
    import('../daemon.js'),
  ]);
  // every log line, and every message this command prints, is scrubbed of the config's secrets;
  // JSON output is asynchronous and bounded (limits.log.bufferBytes); it is flushed on exit.
  const secrets = SecretScrubber.fromConfig(config);
  const logger: Logger = createLogger({ level: opts.logLevel ?? config.log.level, pretty: opts.pretty ?? config.log.pretty, bufferBytes: config.limits.log.bufferBytes, secrets });
  if (file) logger.info({ configPath: file }, `Loaded the config from ${file}.`);
  else {
    logger.info(
      'No config file was found (no --config, no $HEIMDALL_CONFIG, no ./heimdall.config.yaml), so Heimdall is using its ' +
      `built-in defaults: the admin API on ${config.server.host}:${config.server.port} and ${config.plugins.length} plugins. ` +
      'Write a heimdall.config.yaml (or pass --config) to add plugins.',
    );
  }
  logger.debug({ config: redactConfig(config) }, 'This is the effective config, with secrets masked.');

  // Signals are handled from the start, so a SIGTERM during start-up still stops cleanly.
  let signalled: NodeJS.Signals | undefined;
  let onSignal: ((sig: NodeJS.Signals) => void) | undefined;
  const handler = (sig: NodeJS.Signals): void => {
    if (signalled !== undefined) {
      logger.warn(`Received ${sig} again while stopping; exiting at once without waiting for the plugins.`);
      void flushAndExit(EXIT_FAILURE);
      return;
    }
    signalled = sig;
    logger.info(`Received ${sig}; stopping Heimdall gracefully (send it again to exit at once).`);
    onSignal?.(sig);
  };
  process.on('SIGTERM', handler);
  process.on('SIGINT', handler);
  // SIGHUP reloads (the reloader logs what it applied, or why it refused the new config); until
  // the daemon runs it is ignored rather than ending the process, as it would by default
  let onHup: (() => void) | undefined;
  process.on('SIGHUP', () => {
    if (onHup) onHup();
    else logger.warn('Received SIGHUP while Heimdall is still starting; it was ignored. Send it again once the daemon is running.');
  });
  process.on('unhandledRejection', (reason) => {
    logger.fatal({ err: reason }, 'Heimdall hit an unhandled promise rejection and is exiting; this is a bug, please report it with this log.');
    void flushAndExit(EXIT_FAILURE);
  });

  let running;
  try {
    running = await startDaemon({ config, logger, secrets });
  } catch (err) {
    if (isConfigError(err)) {
      logger.error(`Heimdall cannot start: ${(err as Error).message}`);
      throw new CliError(secrets.text((err as Error).message), EXIT_USAGE);
    }
    logger.fatal({ err }, `Heimdall could not start: ${(err as Error).message}`);
    throw new CliError(secrets.text(`Heimdall could not start: ${(err as Error).message}`), EXIT_FAILURE);
  }

  const daemon = running;
  onHup = () => {
    logger.info('Received SIGHUP; reloading the config and rule files.');
    daemon.reload('SIGHUP').catch((err: Error) => {
      if (!isConfigError(err)) logger.error(`The reload after SIGHUP failed: ${err.message}`);
    });
  };

  const cleanup = onRunning && signalled === undefined ? await onRunning(daemon, { logger, config, file }) : undefined;
  const sig = signalled ?? (await new Promise<NodeJS.Signals>((resolve) => (onSignal = resolve)));
  cleanup?.();
  try {
    await running.stop(`received ${sig}`);
  } catch (err) {
    logger.error({ err }, `Heimdall did not stop cleanly: ${(err as Error).message}`);
    await flushAndExit(EXIT_FAILURE);
  }
  await flushAndExit(EXIT_OK);
}

/** --config, --log-level and --pretty, shared by `start` and `dev`. */
export function withStartOptions(cmd: Command): Command {
  return cmd
    .option('-c, --config <file>', 'config file (default: $HEIMDALL_CONFIG, else ./heimdall.config.yaml, else built-in defaults)')
    .addOption(new Option('--log-level <level>', 'lowest log level written; overrides log.level').choices(LEVELS))
    .option('--pretty', 'human-readable log lines instead of JSON; overrides log.pretty');
}

export function registerStart(program: Command): void {
  withStartOptions(program.command('start').description('Start the daemon in the foreground; SIGTERM or SIGINT stops it gracefully.'))
    .action(async (opts: StartOptions) => runStart(opts));
}
