/**
 * The daemon's logger: pino, JSON lines by default, human-readable with `pretty`, secrets redacted.
 *
 * Every line, whatever its level and whoever wrote it (the daemon, a plugin through ctx.log, an
 * error's message and stack), is scrubbed as serialized text just before it is written
 * (pino's `hooks.streamWrite`): the config's secret values, credentials in URLs and `Bearer …`
 * credentials become `***`; before that, the value of every key of the logged object that looks
 * secret, at any depth, is masked (`formatters.log`); see config/secret-scrubber.ts. pino's
 * `redact` paths below cover the child bindings too.
 *
 * Plugins get `logger.child({ plugin })`, HTTP requests a lazily created child with the request id.
 * Log lines are full sentences; ERROR is kept for lost data and things an operator must act on.
 */
import { pino } from 'pino';
import pretty from 'pino-pretty';
import { REDACTED } from '../config/redact.js';
import { SecretScrubber } from '../config/secret-scrubber.js';
import type { LogLevel } from '../config/types.js';

export { REDACTED } from '../config/redact.js';

/**
 * Paths whose values never reach the log. pino's `*` matches one level, so both top-level keys and
 * keys one level down are listed, plus the known config locations that hold secrets.
 */
export const REDACT_PATHS: readonly string[] = [
  'token',
  'password',
  'apiKey',
  'authorization',
  'secret',
  '*.token',
  '*.password',
  '*.apiKey',
  '*.authorization',
  '*.Authorization',
  '*.secret',
  'headers.authorization',
  'headers.Authorization',
  'headers["x-api-key"]',
  'req.headers.authorization',
  'request.headers.authorization',
  'config.server.token',
  'config.database.password',
  'config.llm.apiKey',
  'config.llm.headers.authorization',
  'config.llm.headers.Authorization',
  'server.token',
  'database.password',
  'llm.apiKey',
  'llm.headers.authorization',
  'llm.headers.Authorization',
];

export interface LoggerOptions {
  /** Lowest level written. */
  level: LogLevel | 'silent';
  /** Human-readable, coloured when the destination is a terminal, instead of JSON lines. */
  pretty: boolean;
  /**
   * Where lines go: a stream, or a file descriptor number. Default: standard output (fd 1),
   * written synchronously so that nothing is lost when the process exits.
   */
  destination?: pino.DestinationStream | number;
  /** Knows the config's secret values; without one, only credential-shaped text is scrubbed. */
  secrets?: SecretScrubber;
}

/** Creates the root logger. Every line carries `app: 'heimdall'`. */
export function createLogger(opts: LoggerOptions): pino.Logger {
  const secrets = opts.secrets ?? new SecretScrubber();
  const options: pino.LoggerOptions = {
    level: opts.level,
    base: { app: 'heimdall' },
    redact: { paths: [...REDACT_PATHS], censor: REDACTED },
    hooks: { streamWrite: (line) => secrets.json(line) },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: {
      // Print "level":"info" rather than "level":30: readable without a lookup table.
      level: (label) => ({ level: label }),
      // the value of every key that looks secret, at any depth of the logged object
      log: (obj) => secrets.maskKeys(obj),
    },
  };
  if (opts.pretty) {
    const fd = typeof opts.destination === 'number' ? opts.destination : 1;
    const stream = pretty({
      colorize: typeof opts.destination === 'object' ? false : Boolean(process.stdout.isTTY),
      translateTime: 'SYS:HH:MM:ss.l',
      ignore: 'pid,hostname,app,plugin',
      messageFormat: '{if plugin}[{plugin}] {end}{msg}',
      singleLine: false,
      sync: true,
      destination: typeof opts.destination === 'object' ? (opts.destination as unknown as NodeJS.WritableStream) : fd,
    });
    return pino(options, stream);
  }
  if (typeof opts.destination === 'object') return pino(options, opts.destination);
  return pino(options, pino.destination({ dest: opts.destination ?? 1, sync: true }));
}

/** True when `level` is one of the log levels pino knows (for validating `--log-level`). */
export function isLogLevel(level: string): level is LogLevel {
  return ['trace', 'debug', 'info', 'warn', 'error', 'fatal'].includes(level);
}

export type { Logger } from 'pino';
