/**
 * Query parameters as events carry them (`captureParams`):
 *   none  no queryParams at all;
 *   keys  each parameter name with its value replaced by the value's type name ("String", "Integer", …);
 *   full  the values, made JSON-safe: integers beyond ±2^53 as strings, bytes as { type: 'Bytes', length },
 *         temporal values as ISO 8601 strings, points as { srid, x, y[, z] }, strings longer than
 *         maxChars cut with the same marker as query text.
 */
import type { ParamsRef } from './messages.js';
import { PackReader, PackStruct } from './packstream.js';

import type { CaptureParams } from '../../../config/bolt-proxy.js';

export type { CaptureParams };

/** Appended to text cut at maxQueryChars: the marker and how long the text was. */
export function cutText(text: string, max: number): { text: string; cut: boolean } {
  if (text.length <= max) return { text, cut: false };
  let end = max;
  const c = text.charCodeAt(end - 1);
  if (c >= 0xd800 && c <= 0xdbff) end--; // do not split a surrogate pair
  return { text: `${text.slice(0, end)}…[cut by Heimdall: ${text.length} characters in all]`, cut: true };
}

const STRUCT_NAMES: Record<number, string> = {
  0x4e: 'Node',
  0x52: 'Relationship',
  0x72: 'Relationship',
  0x50: 'Path',
  0x44: 'Date',
  0x54: 'Time',
  0x74: 'LocalTime',
  0x49: 'DateTime',
  0x69: 'DateTime',
  0x46: 'DateTime',
  0x66: 'DateTime',
  0x64: 'LocalDateTime',
  0x45: 'Duration',
  0x58: 'Point',
  0x59: 'Point',
  0x56: 'Vector',
};

/** The type name of the PackStream value starting with marker `m` (and, for structures, signature `sig`). */
export function markerTypeName(m: number, sig: number): string {
  if (m <= 0x7f || m >= 0xf0 || (m >= 0xc8 && m <= 0xcb)) return 'Integer';
  const hi = m & 0xf0;
  if (hi === 0x80 || (m >= 0xd0 && m <= 0xd2)) return 'String';
  if (hi === 0x90 || (m >= 0xd4 && m <= 0xd6)) return 'List';
  if (hi === 0xa0 || (m >= 0xd8 && m <= 0xda)) return 'Map';
  if (hi === 0xb0) return STRUCT_NAMES[sig] ?? 'Structure';
  if (m === 0xc0) return 'Null';
  if (m === 0xc1) return 'Float';
  if (m === 0xc2 || m === 0xc3) return 'Boolean';
  if (m >= 0xcc && m <= 0xce) return 'Bytes';
  return 'Unknown';
}

/** queryParams for an event: undefined for `none`, names → type names for `keys`, JSON-safe values for `full`. */
export function captureParams(ref: ParamsRef | undefined, mode: CaptureParams, maxChars: number): Record<string, unknown> | undefined {
  if (mode === 'none' || ref === undefined) return undefined;
  const r = new PackReader(ref.body, ref.offset);
  if (mode === 'full') {
    const v = r.value();
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? (plain(v, maxChars, 0) as Record<string, unknown>) : {};
  }
  const out: Record<string, unknown> = {};
  const count = r.containerHeader('map');
  for (let i = 0; i < count; i++) {
    const k = r.string();
    const m = ref.body[r.pos]!;
    out[k] = markerTypeName(m, ref.body[r.pos + 1] ?? -1);
    r.skip();
  }
  return out;
}

/** A JSON-safe copy of a decoded PackStream value. */
export function plain(v: unknown, maxChars: number, depth = 0): unknown {
  if (v === null || v === undefined) return null;
  switch (typeof v) {
    case 'string':
      return cutText(v, maxChars).text;
    case 'boolean':
      return v;
    case 'number':
      return Number.isFinite(v) ? v : String(v);
    case 'bigint':
      return v.toString();
  }
  if (depth > 32) return '[nested too deeply]';
  if (Buffer.isBuffer(v)) return { type: 'Bytes', length: v.length };
  if (Array.isArray(v)) return v.map((x) => plain(x, maxChars, depth + 1));
  if (v instanceof PackStruct) return structValue(v, maxChars, depth);
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) out[k] = plain(x, maxChars, depth + 1);
  return out;
}

const n = (v: unknown): number => (typeof v === 'bigint' ? Number(v) : typeof v === 'number' ? v : NaN);
const big = (v: unknown): bigint => (typeof v === 'bigint' ? v : BigInt(Math.trunc(n(v))));
const pad = (x: number, w = 2): string => String(Math.abs(x)).padStart(w, '0');

function isoDate(days: bigint): string {
  const d = new Date(Number(days) * 86_400_000);
  const y = d.getUTCFullYear();
  const ys = y < 0 ? `-${pad(y, 6)}` : y > 9999 ? `+${y}` : pad(y, 4);
  return `${ys}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`;
}

function isoTime(nanosOfDay: bigint): string {
  const h = nanosOfDay / 3_600_000_000_000n;
  const m = (nanosOfDay / 60_000_000_000n) % 60n;
  const s = (nanosOfDay / 1_000_000_000n) % 60n;
  const ns = nanosOfDay % 1_000_000_000n;
  return `${pad(Number(h))}:${pad(Number(m))}:${pad(Number(s))}${ns ? `.${String(ns).padStart(9, '0')}` : ''}`;
}

function isoOffset(seconds: number): string {
  if (seconds === 0) return 'Z';
  const sign = seconds < 0 ? '-' : '+';
  const a = Math.abs(seconds);
  return `${sign}${pad(Math.floor(a / 3600))}:${pad(Math.floor((a % 3600) / 60))}`;
}

/** seconds since the epoch (+ nanos) as local date-time text, e.g. 2024-05-01T10:00:00.5 */
function isoLocalDateTime(seconds: bigint, nanos: bigint): string {
  const days = seconds >= 0n ? seconds / 86_400n : -((-seconds + 86_399n) / 86_400n);
  const rem = seconds - days * 86_400n;
  return `${isoDate(days)}T${isoTime(rem * 1_000_000_000n + nanos)}`;
}

function structValue(s: PackStruct, maxChars: number, depth: number): unknown {
  const f = s.fields;
  try {
    switch (s.signature) {
      case 0x44: // Date: days since epoch
        return isoDate(big(f[0]));
      case 0x74: // LocalTime: nanoseconds of the day
        return isoTime(big(f[0]));
      case 0x54: // Time: nanoseconds of the day, offset seconds
        return `${isoTime(big(f[0]))}${isoOffset(n(f[1]))}`;
      case 0x64: // LocalDateTime: seconds, nanoseconds
        return isoLocalDateTime(big(f[0]), big(f[1]));
      case 0x49: // DateTime (5.0+, UTC seconds): seconds, nanos, offset seconds
        return `${isoLocalDateTime(big(f[0]) + big(f[2]), big(f[1]))}${isoOffset(n(f[2]))}`;
      case 0x46: // legacy DateTime (4.x, local seconds): seconds, nanos, offset seconds
        return `${isoLocalDateTime(big(f[0]), big(f[1]))}${isoOffset(n(f[2]))}`;
      case 0x69: // DateTimeZoneId (5.0+, UTC seconds): seconds, nanos, zone id
      case 0x66: // legacy DateTimeZoneId (4.x, local seconds)
        return `${isoLocalDateTime(big(f[0]), big(f[1]))}${s.signature === 0x69 ? 'Z' : ''}[${String(f[2])}]`;
      case 0x45: {
        // Duration: months, days, seconds, nanoseconds
        const secs = n(f[2]) + n(f[3]) / 1e9;
        return `P${n(f[0])}M${n(f[1])}DT${Number(secs.toFixed(9))}S`;
      }
      case 0x58:
        return { srid: n(f[0]), x: n(f[1]), y: n(f[2]) };
      case 0x59:
        return { srid: n(f[0]), x: n(f[1]), y: n(f[2]), z: n(f[3]) };
      case 0x56: {
        const data = f[1];
        return { type: 'Vector', bytes: Buffer.isBuffer(data) ? data.length : 0 };
      }
    }
  } catch {
    // fall through to the generic form
  }
  return { type: STRUCT_NAMES[s.signature] ?? 'Structure', signature: s.signature, fields: f.map((x) => plain(x, maxChars, depth + 1)) };
}
