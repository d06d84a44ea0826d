/**
 * The argument checks of every host method. Arguments come from plugin code in another thread, so
 * the types the contract declares are a promise nobody has kept yet: each method's check reads the
 * raw arguments and returns them as the contract's argument tuple, or throws an InvalidParamsError
 * that names the method, the argument and what it must be.
 *
 * Option bags (params, opts, data) are checked to be objects here; the service that reads their
 * fields checks those (the invoker cleans PromptOptions, the database port checks `mode`, the
 * confirmation manager checks `timeoutMs`).
 */
import {
  InvalidParamsError,
  NOTIFICATION_LEVELS,
  type ConfirmationOptions,
  type HostArgs,
  type HostMethod,
  type PromptOptions,
  type QueryOptions,
} from '../../sdk/index.js';

/** Reads the raw arguments of one call of `method`, position by position. */
export class ArgReader {
  constructor(
    private readonly method: HostMethod,
    private readonly args: readonly unknown[],
  ) {}

  private bad(index: number, name: string, must: string): never {
    const got = this.args[index];
    throw new InvalidParamsError(`ctx.${this.method} was called with ${name} = ${show(got)} (argument ${index + 1}); ${must}.`, {
      method: this.method,
      argument: name,
      position: index + 1,
    });
  }

  /** A string. */
  string(index: number, name: string): string {
    const v = this.args[index];
    if (typeof v !== 'string') this.bad(index, name, 'it must be a string');
    return v;
  }

  /** A plain object; absent (undefined or null) reads as `{}`. */
  object(index: number, name: string): Record<string, unknown> {
    const v = this.args[index];
    if (v === undefined || v === null) return {};
    if (typeof v !== 'object' || Array.isArray(v)) this.bad(index, name, 'it must be an object');
    return v as Record<string, unknown>;
  }

  /** A plain object, or undefined when absent; null reads as `{}`. */
  optionalObject(index: number, name: string): Record<string, unknown> | undefined {
    return this.args[index] === undefined ? undefined : this.object(index, name);
  }

  /** One of `allowed`. */
  oneOf<T extends string>(index: number, name: string, allowed: readonly T[]): T {
    const v = this.args[index];
    if (!allowed.includes(v as T)) this.bad(index, name, `use one of ${allowed.join(', ')}`);
    return v as T;
  }
}

/** A short, safe rendering of a bad value for an error message. */
function show(v: unknown): string {
  if (v === undefined) return 'undefined';
  if (typeof v === 'bigint') return `${v}n`;
  try {
    const s = JSON.stringify(v);
    if (s === undefined) return String(v);
    return s.length > 80 ? `${s.slice(0, 77)}...` : s;
  } catch {
    return Object.prototype.toString.call(v);
  }
}

/** One check per host method: raw arguments in, the contract's argument tuple out. */
export type ArgChecks = { readonly [K in HostMethod]: (args: ArgReader) => HostArgs<K> };

export const ARG_CHECKS: ArgChecks = {
  'heimdall.invokeAction': (a) => [a.string(0, 'name'), a.object(1, 'params')],
  'heimdall.invokeActionAsync': (a) => [a.string(0, 'name'), a.object(1, 'params')],
  'heimdall.sendPrompt': (a) => [a.string(0, 'prompt'), a.object(1, 'opts') as PromptOptions],
  'heimdall.sendPromptAsync': (a) => [a.string(0, 'prompt'), a.object(1, 'opts') as PromptOptions],
  'heimdall.sendRawPrompt': (a) => [a.string(0, 'prompt')],
  'database.query': (a) => [a.string(0, 'cypher'), a.object(1, 'params'), a.object(2, 'opts') as QueryOptions],
  'bifrost.sendMessage': (a) => [a.string(0, 'text')],
  'bifrost.sendNotification': (a) => [a.oneOf(0, 'level', NOTIFICATION_LEVELS), a.string(1, 'title'), a.string(2, 'message'), a.optionalObject(3, 'data')],
  'bifrost.broadcast': (a) => [a.string(0, 'text')],
  'bifrost.requestConfirmation': (a) => [a.string(0, 'action'), a.object(1, 'opts') as ConfirmationOptions],
  'bifrost.requestConfirmationAnswer': (a) => [a.string(0, 'action'), a.object(1, 'opts') as ConfirmationOptions],
  'bifrost.isConnected': () => [],
  'bifrost.connectionCount': () => [],
};

/** Checks the raw arguments of one call of `method`. */
export function checkArgs<K extends HostMethod>(method: K, raw: unknown): HostArgs<K> {
  return ARG_CHECKS[method](new ArgReader(method, Array.isArray(raw) ? raw : []));
}
