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

/**
 * Events already measured at ingest (the http source checks them before the schema, then fills in
 * id, timestamp, database and source — a few dozen bytes); the router does not walk them again.
 * The mark is a symbol-keyed property on the event: JSON, structured clone and for…in never see it,
 * and unlike a WeakSet of hundreds of thousands of events it costs the garbage collector nothing.
 */
const VETTED: unique symbol = Symbol('heimdall.vetted');

/** Marks an event as measured within the limits (a frozen event stays unmarked and is measured again). */
export function markVetted(event: object): void {
  if (Object.isExtensible(event)) Object.defineProperty(event, VETTED, { value: true, enumerable: false, writable: false, configurable: false });
}

/** Whether the event was measured within the limits at ingest. */
export function isVetted(event: object): boolean {
  return (event as { [VETTED]?: boolean })[VETTED] === true;
}

/** Which limit an event passed. */
export type LimitBreach = 'depth' | 'bytes' | 'value';

export type Measured = { ok: true; bytes: number } | { ok: false; limit: LimitBreach; reason: string };

const proto = Object.prototype;

function isPlainObject(v: object): boolean {
  const p = Object.getPrototypeOf(v) as unknown;
  return p === proto || p === null;
}

function utf8Length(s: string): number {
  // Buffer.byteLength is native and fast for one-byte strings; short strings are the common case.
  return s.length < 64 && /^[\x20-\x7e]*$/.test(s) ? s.length : Buffer.byteLength(s, 'utf8');
}

function where(field: string | undefined): string {
  return field === undefined ? '' : ` (in its field "${field}")`;
}

/**
 * Measures `value` against `limits`: its JSON size in bytes, or the first limit it passes with a
 * sentence that names the limit and its config key. `what` names the value in that sentence.
 */
export function measureValue(value: unknown, limits: EventLimits, what = 'The event'): Measured {
  // Each entry: the value, its depth (1 = the top), and the top-level field it sits in.
  const stack: Array<{ v: unknown; d: number; f: string | undefined }> = [{ v: value, d: 1, f: undefined }];
  let bytes = 0;
  while (stack.length > 0) {
    const { v, d, f } = stack.pop()!;
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
          for (let i = v.length - 1; i >= 0; i--) stack.push({ v: v[i], d: d + 1, f: f ?? String(i) });
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
          stack.push({ v: child, d: d + 1, f: f ?? k });
        }
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
}

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
