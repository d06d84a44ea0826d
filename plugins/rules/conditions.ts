/**
 * Conditions: CEL expressions over `event` (the `when` of a rule and the `by` key of its window),
 * compiled and type-checked once by @marcbachmann/cel-js, with three helpers over the event's
 * properties and oldProperties:
 *
 *   changed(k)        the value of k differs between oldProperties and properties (absent counts)
 *   changedTo(k, v)   changed(k) and properties[k] == v
 *   changedFrom(k, v) changed(k) and oldProperties[k] == v
 *
 * Numbers from events are CEL doubles and literals such as `1000` are ints; CEL compares the two
 * as numbers, so `event.properties.total > 1000` works as written. A key that is not there is an
 * error in CEL (`has(event.properties.x)` tests for it); an expression that errors does not match.
 */
import { Environment, type ParseResult } from '@marcbachmann/cel-js';
import type { DatabaseEvent } from '../../sdk/index.js';

/** A compiled expression. */
export interface CelProgram {
  /** The expression as written. */
  source: string;
  run: ParseResult;
}

/** A compile problem, with a 1-based position inside the expression when the library gave one. */
export interface CelCompileError {
  message: string;
  position?: { line: number; column: number };
}

/** The outcome of one evaluation. */
export type CelOutcome = { ok: true; value: unknown } | { ok: false; error: string };

/** The event the helpers read; set around each evaluation (evaluation is synchronous). */
let current: DatabaseEvent | undefined;

type Props = Record<string, unknown> | undefined;
const props = (): Props => current?.properties;
const oldProps = (): Props => current?.oldProperties;
const has = (o: Props, k: string): boolean => o !== undefined && o !== null && Object.prototype.hasOwnProperty.call(o, k);

/** Equality of JSON values as CEL sees them: ints (bigint) and doubles (number) compare as numbers. */
export function celEquals(a: unknown, b: unknown): boolean {
  if (typeof a === 'bigint') a = Number(a);
  if (typeof b === 'bigint') b = Number(b);
  if (a === b) return true;
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const bb = b as unknown[];
    return a.length === bb.length && a.every((x, i) => celEquals(x, bb[i]));
  }
  const ka = Object.keys(a as object);
  const kb = Object.keys(b as object);
  return ka.length === kb.length && ka.every((k) => celEquals((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}

/** Whether key `k` has a different value (or presence) in oldProperties and properties. */
export function changedKey(event: DatabaseEvent | undefined, k: string): boolean {
  if (!event) return false;
  const p = event.properties;
  const o = event.oldProperties;
  if (p === undefined && o === undefined) return false;
  const inNew = has(p, k);
  const inOld = has(o, k);
  if (inNew !== inOld) return true;
  if (!inNew) return false;
  return !celEquals(p![k], o![k]);
}

const env = new Environment({
  homogeneousAggregateLiterals: false,
  enableOptionalTypes: true,
  limits: { maxAstNodes: 2000, maxDepth: 50, maxListElements: 1000, maxMapEntries: 1000 },
})
  .registerVariable('event', 'map', { description: 'The database event (see the pinned event shape).' })
  .registerFunction('changed(string): bool', (k: string) => changedKey(current, k), {
    description: 'True when the property differs between oldProperties and properties.',
  })
  .registerFunction('changedTo(string, dyn): bool', (k: string, v: unknown) => changedKey(current, k) && has(props(), k) && celEquals(props()![k], v), {
    description: 'True when the property changed and its new value equals v.',
  })
  .registerFunction('changedFrom(string, dyn): bool', (k: string, v: unknown) => changedKey(current, k) && has(oldProps(), k) && celEquals(oldProps()![k], v), {
    description: 'True when the property changed and its old value equals v.',
  });

/** 1-based line and column of a 0-based offset in `src`. */
export function lineColumn(src: string, offset: number): { line: number; column: number } {
  let line = 1;
  let col = 1;
  for (let i = 0; i < Math.min(offset, src.length); i++) {
    if (src[i] === '\n') {
      line++;
      col = 1;
    } else col++;
  }
  return { line, column: col };
}

function describe(err: unknown, src: string): CelCompileError {
  const e = err as { summary?: string; message?: string; range?: { start: number } };
  const text = (e.summary ?? String(e.message ?? err)).split('\n')[0]!.trim();
  return { message: text, ...(e.range ? { position: lineColumn(src, e.range.start) } : {}) };
}

/**
 * Parses and type-checks `source`. `mustBeBool` rejects expressions whose type is known and not
 * bool (a `dyn` result is checked when it runs).
 */
export function compileCel(source: string, mustBeBool: boolean): { ok: true; program: CelProgram } | { ok: false; error: CelCompileError } {
  let run: ParseResult;
  try {
    run = env.parse(source);
  } catch (err) {
    return { ok: false, error: describe(err, source) };
  }
  const checked = env.check(source);
  if (!checked.valid) return { ok: false, error: describe(checked.error, source) };
  if (mustBeBool && checked.type !== 'bool' && checked.type !== 'dyn') {
    return { ok: false, error: { message: `the expression is of type ${checked.type}, and a condition must be a bool`, position: { line: 1, column: 1 } } };
  }
  return { ok: true, program: { source, run } };
}

/** What {@link runCelRaw} returns when the expression raised an error. */
export class CelFailure {
  constructor(readonly error: string) {}
}

/**
 * Evaluates `program` with `scope` (`{ event }`), never throwing: the value, or a CelFailure.
 * The engine's path (no allocation when it succeeds).
 */
export function runCelRaw(program: CelProgram, event: DatabaseEvent, scope: { event: DatabaseEvent }): unknown {
  current = event;
  try {
    return program.run(scope);
  } catch (err) {
    const e = err as { summary?: string; message?: string };
    return new CelFailure((e.summary ?? String(e.message ?? err)).split('\n')[0]!.trim());
  } finally {
    current = undefined;
  }
}

/** Evaluates `program` with `scope` (`{ event }`), never throwing. */
export function runCel(program: CelProgram, event: DatabaseEvent, scope: { event: DatabaseEvent }): CelOutcome {
  const v = runCelRaw(program, event, scope);
  return v instanceof CelFailure ? { ok: false, error: v.error } : { ok: true, value: v };
}

/** A window key from a `by` value: strings as they are, anything else as JSON (ints as numbers). */
export function keyOf(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'bigint') return value.toString();
  try {
    return JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? Number(v) : v)) ?? 'null';
  } catch {
    return String(value);
  }
}
