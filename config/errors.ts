/**
 * ConfigError: every problem found in a config file, thrown at once. A HeimdallError with the code
 * HMD_ERR_CONFIG, so it crosses boundaries and reaches the HTTP layer like every other error.
 */
import { ErrorCode, HeimdallError, type SerializedError } from '../sdk/errors.js';

/** One problem in a config file. `line`/`column` are 1-based; absent for file-level problems. */
export interface ConfigIssue {
  /** The file the problem is in when it is not the config file itself (a rule file of rulesPath). */
  file?: string;
  /** Where in the document, e.g. `plugins[0].queue.whenFull`; '' for the whole file. */
  path: string;
  line?: number;
  column?: number;
  /** What is wrong, as a full sentence. */
  message: string;
  /** What to do about it, as a full sentence. */
  hint?: string;
}

/** What a ConfigError carries as `details`, and in its JSON form. */
export interface ConfigErrorDetails {
  file?: string;
  errors: ConfigIssue[];
}

/** The config file could not be read, parsed or validated. `errors` lists every problem found. */
export class ConfigError extends HeimdallError {
  declare readonly code: typeof ErrorCode.HMD_ERR_CONFIG;
  declare readonly details: ConfigErrorDetails;
  readonly errors: ConfigIssue[];
  /** The config file, or undefined when a string was parsed. */
  readonly file?: string;

  constructor(errors: ConfigIssue[], file?: string) {
    const n = errors.length;
    super(
      ErrorCode.HMD_ERR_CONFIG,
      n === 1
        ? formatIssues(errors, file)
        : `${file ?? 'The configuration'} has ${n} problems:\n${formatIssues(errors, file)}`,
      { file, errors },
    );
    this.errors = errors;
    this.file = file;
  }

  /** One line per problem: `file:line:col path: message (hint)`. */
  format(): string {
    return formatIssues(this.errors, this.file);
  }

  /** JSON form, the SDK's SerializedError with `details: { file, errors }`. */
  override toJSON(): SerializedError & { details: ConfigErrorDetails } {
    return { name: this.name, code: this.code, message: this.message, details: this.details };
  }
}

/** Formats issues one per line: `file:line:col path: message (hint)`. */
export function formatIssues(errors: readonly ConfigIssue[], file?: string): string {
  return errors.map((e) => formatIssue(e, file)).join('\n');
}

function formatIssue(e: ConfigIssue, file?: string): string {
  let where = e.file ?? file ?? (e.line !== undefined ? '<config>' : '');
  if (e.line !== undefined) where += `:${e.line}:${e.column ?? 1}`;
  const path = e.path ? `${e.path}: ` : '';
  const hint = e.hint ? ` (${e.hint})` : '';
  return `${where ? `${where} ` : ''}${path}${e.message}${hint}`;
}
