/**
 * The limits every event must keep before it may reach a plugin queue (limits.events): nested at
 * most `maxDepth` levels, at most `maxBytes` as UTF-8 JSON, and made of JSON values only (plain
 * objects, arrays, strings, finite or non-finite numbers, booleans, null). An event past them could
 * overflow the stack of structured clone or JSON.stringify in a worker or in the daemon (a 10 KB
 * event nested 5,000 levels deep does), so the http source refuses it per item at ingest and the
 * router refuses it for every other source.
 *
 * The walk is iterative (an explicit stack), stops at the first limit passed, and never recurses
 * into what it has not checked, so a hostile event cannot hurt the check itself: a cycle is simply
 * "too deep". Sizes are counted as JSON.stringify would write them, less the escapes of control
 * characters and quotes (at most a few bytes per such character).
 */
import { heimdallConfigSchema } from '../../config/schema.js';

export interface EventLimits {
  /** Deepest nesting of objects and arrays; the event object itself is level 1. */
  maxDepth: number;
  /** Largest size as UTF-8 JSON, bytes. */
  maxBytes: number;
}

const EVENT_LIMIT_DEFAULTS = heimdallConfigSchema.properties.limits.properties.events.properties;

/** The defaults of limits.events (from the config schema, the one place defaults live). */
export const DEFAULT_EVENT_LIMITS: Readonly<EventLimits> = Object.freeze({
  maxDepth: EVENT_LIMIT_DEFAULTS.maxDepth.default,
  maxBytes: EVENT_LIMIT_DEFAULTS.maxBytes.default,
});

/** Which limit an event passed. */
export type LimitBreach = 'depth' | 'bytes' | 'value';

export type Measured = { ok: true; bytes: number } | { ok: false; limit: LimitBreach; reason: string };

const proto = Object.prototype;

function isPlainObject(v: object): boolean {
  const p = Object.getPrototypeOf(v) as unknown;
  return p === proto || p === null;
}

function utf8Length(s: string): number {
  // Short ASCII strings (the common case) are counted here; anything else by the native counter.
  if (s.length >= 64) return Buffer.byteLength(s, 'utf8');
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7e) return Buffer.byteLength(s, 'utf8');
  return s.length;
}

function where(field: string | undefined): string {
  return field === undefined ? '' : ` (in its field "${field}")`;
}

/**
 * Measures `value` against `limits`: its JSON size in bytes, or the first limit it passes with a
 * sentence that names the limit and its config key. `what` names the value in that sentence.
 */
export function measureValue(value: unknown, limits: EventLimits, what = 'The event'): Measured {
  // A getter of the value that measures something itself gets a stack of its own.
  if (walking) return walk(value, limits, what, [], [], []);
  walking = true;
  try {
    return walk(value, limits, what, STACK_VALUES, STACK_DEPTHS, STACK_FIELDS);
  } finally {
    walking = false;
  }
}

/**
 * The walk's stack, as three parallel arrays (no object per value): the value, its depth (1 = the top),
 * and the top-level field it sits in; measureValue reuses one set for every call on this thread.
 */
function walk(value: unknown, limits: EventLimits, what: string, vs: unknown[], ds: number[], fs: Array<string | undefined>): Measured {
  let top = 0;
  let high = 1;
  vs[top] = value;
  ds[top] = 1;
  fs[top] = undefined;
  top++;
  let bytes = 0;
  try {
    while (top > 0) {
      top--;
      const v = vs[top];
      const d = ds[top]!;
      const f = fs[top];
      switch (typeof v) {
        case 'string':
          bytes += utf8Length(v) + 2;
          break;
        case 'number':
          bytes += Number.isFinite(v) ? String(v).length : 4;
          break;
        case 'boolean':
          bytes += v ? 4 : 5;
          break;
        case 'undefined':
          // An array slot that is undefined is written as null; an object field is left out (counted by its parent).
          bytes += 4;
          break;
        case 'object': {
          if (v === null) {
            bytes += 4;
            break;
          }
          if (d > limits.maxDepth) {
            return {
              ok: false,
              limit: 'depth',
              reason: `${what} is nested more than ${limits.maxDepth} levels deep${where(f)}, past limits.events.maxDepth (${limits.maxDepth}); flatten it or send the deep part as a string.`,
            };
          }
          if (Array.isArray(v)) {
            bytes += 2 + Math.max(0, v.length - 1);
            for (let i = v.length - 1; i >= 0; i--) {
              vs[top] = v[i];
              ds[top] = d + 1;
              fs[top] = f ?? String(i);
              top++;
            }
            if (top > high) high = top;
            break;
          }
          if (!isPlainObject(v)) {
            const name = (v as { constructor?: { name?: unknown } }).constructor?.name;
            return { ok: false, limit: 'value', reason: `${what} holds a ${typeof name === 'string' ? name : 'non-plain'} object${where(f)}, which is not plain JSON; send plain objects, arrays, strings, numbers, booleans and null only.` };
          }
          let n = 0;
          for (const k in v) {
            if (!Object.prototype.hasOwnProperty.call(v, k)) continue;
            const child = (v as Record<string, unknown>)[k];
            if (child === undefined || typeof child === 'function' || typeof child === 'symbol') {
              if (typeof child === 'function' || typeof child === 'symbol') {
                return { ok: false, limit: 'value', reason: `${what} holds a ${typeof child} at "${k}"${where(f)}, which is not JSON; send plain JSON values only.` };
              }
              continue;
            }
            bytes += utf8Length(k) + 3;
            n++;
            vs[top] = child;
            ds[top] = d + 1;
            fs[top] = f ?? k;
            top++;
          }
          if (top > high) high = top;
          bytes += 2 + Math.max(0, n - 1);
          break;
        }
        default:
          return { ok: false, limit: 'value', reason: `${what} holds a ${typeof v}${where(f)}, which is not JSON; send plain JSON values only.` };
      }
      if (bytes > limits.maxBytes) {
        return {
          ok: false,
          limit: 'bytes',
          reason: `${what} is larger than ${limits.maxBytes} bytes as JSON${where(f)}, past limits.events.maxBytes (${limits.maxBytes}); send smaller events or raise the limit.`,
        };
      }
    }
    return { ok: true, bytes };
  } finally {
    // Let go of what the walk saw: the slots it used are cleared, and past STACK_KEEP the arrays shrink again.
    if (high > STACK_KEEP) {
      vs.length = STACK_KEEP;
      ds.length = STACK_KEEP;
      fs.length = STACK_KEEP;
    }
    vs.fill(undefined, 0, Math.min(high, STACK_KEEP));
  }
}

/** The walk's stack (see walk), shared by every call of measureValue on this thread, and whether a walk runs. */
let walking = false;
const STACK_VALUES: unknown[] = [];
const STACK_DEPTHS: number[] = [];
const STACK_FIELDS: Array<string | undefined> = [];
/** Slots kept between walks; past it the arrays are shortened again. */
const STACK_KEEP = 256;

/**
 * A copy of `value` that is safe to serialise whatever it holds: nesting below `maxDepth` and
 * strings past the byte budget are replaced by a short note, values that are not JSON by a
 * description. Used to show a quarantined event that is itself over the limits.
 */
export function safePreview(value: unknown, limits: EventLimits): unknown {
  let budget = limits.maxBytes;
  const copy = (v: unknown, d: number): unknown => {
    if (budget <= 0) return '[truncated: the preview reached limits.events.maxBytes]';
    if (v === null || typeof v === 'boolean' || typeof v === 'number') {
      budget -= 5;
      return v;
    }
    if (typeof v === 'string') {
      const s = v.length > budget ? `${v.slice(0, Math.max(0, budget))}…[truncated]` : v;
      budget -= s.length + 2;
      return s;
    }
    if (typeof v !== 'object') return `[${typeof v}]`;
    if (d > limits.maxDepth) return `[nested deeper than ${limits.maxDepth} levels]`;
    if (Array.isArray(v)) return v.slice(0, 1000).map((x) => copy(x, d + 1));
    if (!isPlainObject(v)) return `[${(v as { constructor?: { name?: string } }).constructor?.name ?? 'object'}]`;
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v).slice(0, 1000)) {
      budget -= k.length + 3;
      out[k] = copy((v as Record<string, unknown>)[k], d + 1);
    }
    return out;
  };
  return copy(value, 1);
}
