/**
 * The error catalogue: one class per failure a plugin author can meet, each with a stable code.
 * Codes are never reused. Errors cross worker boundaries as {@link SerializedError} and are rebuilt
 * into these classes by {@link deserializeError}.
 * @packageDocumentation
 */

/** Every stable error code Heimdall uses. */
export const ERROR_CODES = {
  HMD_ERR_INTERNAL: 'An unexpected internal error.',
  HMD_ERR_ACTION_NOT_FOUND: 'No action is registered under that name.',
  HMD_ERR_INVALID_PARAMS: 'The parameters do not match the action schema.',
  HMD_ERR_ACTION_FAILED: 'The action handler threw or returned something that is not an ActionResult.',
  HMD_ERR_ACTION_TIMEOUT: 'The action did not finish before its deadline.',
  HMD_ERR_NO_DATABASE: 'No database is configured.',
  HMD_ERR_DATABASE_UNAVAILABLE: 'The database cannot be reached.',
  HMD_ERR_READ_ONLY: 'The plugin is read-only and tried to write.',
  HMD_ERR_QUERY_FAILED: 'The database rejected the query.',
  HMD_ERR_NO_MODEL: 'No language model is configured.',
  HMD_ERR_PLUGIN_UNAVAILABLE: 'The plugin is not running (stopped, restarting or failed).',
  HMD_ERR_INVALID_PLUGIN: 'The plugin module does not export a valid plugin definition.',
  HMD_ERR_PLUGIN_INIT: 'The plugin init() threw or timed out.',
  HMD_ERR_RATE_LIMITED: 'The call was refused by a rate limit.',
  HMD_ERR_QUEUE_FULL: 'A bounded queue was full and the call was refused.',
  HMD_ERR_INVALID_EVENT: 'The event does not match the event schema.',
  HMD_ERR_CONFIG: 'The configuration is invalid.',
  HMD_ERR_POLICY_DENIED: 'The remediation policy refused the statement.',
  HMD_ERR_NOT_FOUND: 'The requested resource does not exist.',
  HMD_ERR_CONFLICT: 'The request conflicts with the current state.',
  HMD_ERR_BAD_REQUEST: 'The request is malformed (body is not valid JSON, wrong shape, bad parameter).',
  HMD_ERR_UNAUTHORIZED: 'The route needs a valid bearer token.',
  HMD_ERR_METHOD_NOT_ALLOWED: 'The path exists but not with this HTTP method.',
  HMD_ERR_BODY_TOO_LARGE: 'The request body is larger than server.bodyLimitBytes.',
  HMD_ERR_UNSUPPORTED_MEDIA_TYPE: 'The Content-Type of the request is not one the route accepts.',
  HMD_ERR_NOT_READY: 'The daemon is up but not ready (sources, plugins or the database are not up).',
  HMD_ERR_SHUTTING_DOWN: 'The daemon is shutting down and no longer takes requests.',
  HMD_ERR_STATEMENT_REFUSED: 'The statement policy refused the statement before it ran (a procedure or function not allowed by name, LOAD CSV, a command, a statement that commits on its own, or Heimdall\'s own state).',
  HMD_ERR_INVOCATION_DEPTH: 'An action chain went deeper than limits.actions.maxDepth (often a loop between plugins).',
  HMD_ERR_RESULT_TOO_LARGE: 'The action returned a result larger than limits.actions.maxResultBytes.',
} as const;

/** A stable error code, `HMD_ERR_*`. */
export type ErrorCode = keyof typeof ERROR_CODES;

/**
 * Every code as a constant, `ErrorCode.HMD_ERR_NOT_FOUND === 'HMD_ERR_NOT_FOUND'`: code outside this
 * file names a code through it, so the type checker catches a misspelt one. Derived from
 * {@link ERROR_CODES}, so a code is added in one place.
 */
export const ErrorCode: { readonly [K in ErrorCode]: K } = Object.freeze(
  Object.fromEntries(Object.keys(ERROR_CODES).map((k) => [k, k])) as { [K in ErrorCode]: K },
);

/** True when `code` is one of the catalogue's codes. */
export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && Object.prototype.hasOwnProperty.call(ERROR_CODES, code);
}

/** An error as it crosses a thread or process boundary: plain JSON. */
export interface SerializedError {
  name: string;
  code: string;
  message: string;
  stack?: string;
  details?: unknown;
}

/** Base class of every Heimdall error. `code` is stable; `details` is JSON-safe extra context. */
export class HeimdallError extends Error {
  /** Stable code from {@link ERROR_CODES}. */
  readonly code: ErrorCode;
  /** JSON-safe extra context (offending path, suggestions, …). */
  readonly details?: unknown;
  constructor(code: ErrorCode, message: string, details?: unknown) {
    super(message);
    this.name = new.target.name;
    this.code = code;
    this.details = details;
  }
  /** The JSON form of this error. */
  toJSON(): SerializedError {
    return { name: this.name, code: this.code, message: this.message, details: this.details };
  }
}

/** No action is registered under the requested name; `details.suggestions` lists the closest names. */
export class ActionNotFoundError extends HeimdallError {
  constructor(message: string, details?: { action: string; suggestions: string[] }) {
    super('HMD_ERR_ACTION_NOT_FOUND', message, details);
  }
}
/** The parameters failed validation against the action's JSON Schema; `details.errors` lists why. */
export class InvalidParamsError extends HeimdallError {
  constructor(message: string, details?: unknown) {
    super('HMD_ERR_INVALID_PARAMS', message, details);
  }
}
/** The action handler threw; the message carries the handler's message. */
export class ActionFailedError extends HeimdallError {
  constructor(message: string, details?: unknown) {
    super('HMD_ERR_ACTION_FAILED', message, details);
  }
}
/** The action did not finish before its deadline; its AbortSignal was aborted. */
export class ActionTimeoutError extends HeimdallError {
  constructor(message: string, details?: unknown) {
    super('HMD_ERR_ACTION_TIMEOUT', message, details);
  }
}
/** `ctx.database.query` was called but the daemon has no `database:` section in its config. */
export class DatabaseNotConfiguredError extends HeimdallError {
  constructor(message: string) {
    super('HMD_ERR_NO_DATABASE', message);
  }
}
/** The database is configured but cannot be reached right now. */
export class DatabaseUnavailableError extends HeimdallError {
  constructor(message: string, details?: unknown) {
    super('HMD_ERR_DATABASE_UNAVAILABLE', message, details);
  }
}
/** A read-only plugin tried to write; grant `write: true` in its config to allow writes. */
export class ReadOnlyError extends HeimdallError {
  constructor(message: string, details?: unknown) {
    super('HMD_ERR_READ_ONLY', message, details);
  }
}
/** The database rejected the query (syntax, constraint, …); `details.neo4jCode` has its code. */
export class QueryFailedError extends HeimdallError {
  constructor(message: string, details?: unknown) {
    super('HMD_ERR_QUERY_FAILED', message, details);
  }
}
/** The plugin is not running (stopped, restarting or failed), or its worker exited mid-call. */
export class PluginUnavailableError extends HeimdallError {
  constructor(message: string, details?: unknown) {
    super('HMD_ERR_PLUGIN_UNAVAILABLE', message, details);
  }
}
/** The plugin module's default export is not a valid plugin definition. */
export class InvalidPluginError extends HeimdallError {
  constructor(message: string, details?: unknown) {
    super('HMD_ERR_INVALID_PLUGIN', message, details);
  }
}
/** The plugin's `init` threw or did not finish in time. */
export class PluginInitError extends HeimdallError {
  constructor(message: string, details?: unknown) {
    super('HMD_ERR_PLUGIN_INIT', message, details);
  }
}
/** A rate limit refused the call. */
export class RateLimitedError extends HeimdallError {
  constructor(message: string, details?: unknown) {
    super('HMD_ERR_RATE_LIMITED', message, details);
  }
}
/** A bounded queue was full and refused the call. */
export class QueueFullError extends HeimdallError {
  constructor(message: string, details?: unknown) {
    super('HMD_ERR_QUEUE_FULL', message, details);
  }
}
/** The remediation policy refused a statement. */
export class PolicyDeniedError extends HeimdallError {
  constructor(message: string, details?: unknown) {
    super('HMD_ERR_POLICY_DENIED', message, details);
  }
}

/**
 * The statement policy refused a statement before it ran; `details.rule` says which rule
 * (procedure, function, load-csv, in-transactions, command, heimdall-state, …) and `details.name` what it concerns.
 */
export class StatementRefusedError extends HeimdallError {
  constructor(message: string, details?: unknown) {
    super('HMD_ERR_STATEMENT_REFUSED', message, details);
  }
}

/**
 * An action was not run because the chain of actions calling each other is already as deep as
 * `limits.actions.maxDepth` allows; `details.chain` lists the actions of the chain, outermost first.
 */
export class InvocationDepthError extends HeimdallError {
  constructor(message: string, details?: { chain: string[]; maxDepth: number; action: string }) {
    super('HMD_ERR_INVOCATION_DEPTH', message, details);
  }
}
/** The action's result is larger than `limits.actions.maxResultBytes`; `details` has both sizes. */
export class ResultTooLargeError extends HeimdallError {
  constructor(message: string, details?: { action: string; maxBytes: number; bytes?: number }) {
    super('HMD_ERR_RESULT_TOO_LARGE', message, details);
  }
}

const CLASS_BY_CODE: Partial<Record<ErrorCode, new (message: string, details?: never) => HeimdallError>> = {
  HMD_ERR_ACTION_NOT_FOUND: ActionNotFoundError,
  HMD_ERR_INVALID_PARAMS: InvalidParamsError,
  HMD_ERR_ACTION_FAILED: ActionFailedError,
  HMD_ERR_ACTION_TIMEOUT: ActionTimeoutError,
  HMD_ERR_NO_DATABASE: DatabaseNotConfiguredError,
  HMD_ERR_DATABASE_UNAVAILABLE: DatabaseUnavailableError,
  HMD_ERR_READ_ONLY: ReadOnlyError,
  HMD_ERR_QUERY_FAILED: QueryFailedError,
  HMD_ERR_PLUGIN_UNAVAILABLE: PluginUnavailableError,
  HMD_ERR_INVALID_PLUGIN: InvalidPluginError,
  HMD_ERR_PLUGIN_INIT: PluginInitError,
  HMD_ERR_RATE_LIMITED: RateLimitedError,
  HMD_ERR_QUEUE_FULL: QueueFullError,
  HMD_ERR_POLICY_DENIED: PolicyDeniedError,
  HMD_ERR_STATEMENT_REFUSED: StatementRefusedError,
  HMD_ERR_INVOCATION_DEPTH: InvocationDepthError,
  HMD_ERR_RESULT_TOO_LARGE: ResultTooLargeError,
};

/** Turns any thrown value into plain JSON that can cross a boundary. */
export function serializeError(err: unknown): SerializedError {
  if (err instanceof HeimdallError) return { ...err.toJSON(), stack: err.stack };
  if (err instanceof Error) {
    const raw = (err as Error & { code?: unknown }).code;
    const code = typeof raw === 'string' ? raw : 'HMD_ERR_INTERNAL';
    return { name: err.name, code, message: err.message, stack: err.stack };
  }
  return { name: 'Error', code: 'HMD_ERR_INTERNAL', message: typeof err === 'string' ? err : JSON.stringify(err) ?? String(err) };
}

/** Rebuilds a {@link SerializedError} into the matching error class (or a plain Error with `code`). */
export function deserializeError(data: SerializedError): Error {
  const Cls = CLASS_BY_CODE[data.code as ErrorCode];
  let err: Error;
  if (Cls) err = new Cls(data.message, data.details as never);
  else if (isErrorCode(data.code)) err = new HeimdallError(data.code, data.message, data.details);
  else {
    err = new Error(data.message);
    err.name = data.name;
    (err as Error & { code?: string }).code = data.code;
  }
  if (data.stack) err.stack = data.stack;
  return err;
}
