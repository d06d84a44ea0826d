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
 *
 * JSON output to a file descriptor is asynchronous (a sonic-boom destination): a write never waits
 * for stdout, so a slow reader of the daemon's output cannot block the event loop. What waits is
 * bounded by `bufferBytes` (limits.log.bufferBytes); lines past it are dropped and counted
 * (logOutputStats(), on /v1/status), and everything buffered is flushed on exit (flushLogs(), also
 * on process 'exit'). Pretty output stays synchronous: it is for a person at a terminal.
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
   * written asynchronously with a bounded buffer and flushed on exit.
   */
  destination?: pino.DestinationStream | number;
  /** Knows the config's secret values; without one, only credential-shaped text is scrubbed. */
  secrets?: SecretScrubber;
  /** Most bytes of log output waiting for the file descriptor; more is dropped and counted. Default 16 MiB. */
  bufferBytes?: number;
}

interface AsyncDestination {
  flushSync(): void;
}

const destinations = new Set<AsyncDestination>();
const dropped = { lines: 0, bytes: 0 };
let exitHookInstalled = false;

/** Log output the asynchronous destinations dropped because their buffer was full. */
export function logOutputStats(): { droppedLines: number; droppedBytes: number } {
  return { droppedLines: dropped.lines, droppedBytes: dropped.bytes };
}

/** Writes out everything the asynchronous destinations still hold (before exiting). */
export function flushLogs(): void {
  for (const d of destinations) {
    try {
      d.flushSync();
    } catch {
      // The descriptor is gone or not writable now; nothing more can be done at exit.
    }
  }
}

function asyncDestination(fd: number, bufferBytes: number): pino.DestinationStream {
  const dest = pino.destination({ dest: fd, sync: false, maxLength: bufferBytes });
  dest.on('drop', (data: string | Buffer) => {
    dropped.lines += typeof data === 'string' ? Math.max(1, data.split('\n').length - 1) : 1;
    dropped.bytes += typeof data === 'string' ? Buffer.byteLength(data) : data.length;
  });
  // A write error (EPIPE: the reader went away) must not take the daemon down.
  dest.on('error', () => undefined);
  destinations.add(dest);
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on('exit', flushLogs);
  }
  return dest;
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
  return pino(options, asyncDestination(opts.destination ?? 1, opts.bufferBytes ?? 16 * 1024 * 1024));
}

/** True when `level` is one of the log levels pino knows (for validating `--log-level`). */
export function isLogLevel(level: string): level is LogLevel {
  return ['trace', 'debug', 'info', 'warn', 'error', 'fatal'].includes(level);
}

export type { Logger } from 'pino';
