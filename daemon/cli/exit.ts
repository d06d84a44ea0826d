/**
 * Exit codes of the `heimdall` CLI and the error a command throws to choose one.
 *
 *   0  success
 *   1  failure: the daemon is unreachable, refused the request, an action answered success:false,
 *      an event was rejected, the daemon failed while running
 *   2  bad usage or invalid config: unknown command or option, a missing argument, invalid JSON
 *      in --data/--params, a config file with errors
 */

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

/** A failure with a sentence for the operator and the exit code it maps to. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: typeof EXIT_FAILURE | typeof EXIT_USAGE = EXIT_FAILURE,
    /** Printed to stdout before exiting (the raw JSON answer when --json was given). */
    readonly stdout?: string,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

/** Bad usage: exits 2. */
export function usageError(message: string): CliError {
  return new CliError(message, EXIT_USAGE);
}

/** Parses a JSON option value that must be an object; a mistake is a usage error naming the option. */
export function parseJsonObjectOption(option: string, text: string, example: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw usageError(
      `Option ${option} is not valid JSON (${(err as Error).message.replace(/\.$/, '')}). ` +
      `Pass a JSON object in single quotes, e.g. ${option} '${example}'.`,
    );
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    const kind = value === null ? 'null' : Array.isArray(value) ? 'an array' : `a ${typeof value}`;
    throw usageError(`Option ${option} must be a JSON object, but it is ${kind}. Pass e.g. ${option} '${example}'.`);
  }
  return value as Record<string, unknown>;
}

/** Waits until stdout and stderr have flushed, then exits with `code`. */
export async function flushAndExit(code: number): Promise<never> {
  await Promise.all([
    new Promise<void>((r) => process.stdout.write('', () => r())),
    new Promise<void>((r) => process.stderr.write('', () => r())),
  ]);
  process.exit(code);
}
