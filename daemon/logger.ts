/**
 * The daemon's logger: pino, JSON lines by default, human-readable with `pretty`, secrets redacted.
 *
 * Plugins get `logger.child({ plugin })`, HTTP requests a lazily created child with the request id.
 * Log lines are full sentences; ERROR is kept for lost data and things an operator must act on.
 */
import { pino } from 'pino';
import pretty from 'pino-pretty';
import type { LogLevel } from '../config/types.js';

/** What replaces a redacted value in a log line. */
export const REDACTED = '***';

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
}

/** Creates the root logger. Every line carries `app: 'heimdall'`. */
export function createLogger(opts: LoggerOptions): pino.Logger {
  const options: pino.LoggerOptions = {
    level: opts.level,
    base: { app: 'heimdall' },
    redact: { paths: [...REDACT_PATHS], censor: REDACTED },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: {
      // Print "level":"info" rather than "level":30: readable without a lookup table.
      level: (label) => ({ level: label }),
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
