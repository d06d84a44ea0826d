/**
 * The NDJSON text an event came in as, written once into shared memory for every plugin it goes to
 * (issue 12, item 4). The http source keeps the text of each accepted NDJSON line with the fields
 * it filled in (id, timestamp, database, source) spliced in before the closing brace, exactly where
 * the schema check appended them to the parsed object, so that JSON.parse of that text gives the
 * event the main thread holds: the same keys in the same order with the same values (both sides
 * parse the same characters). The router writes the texts of the events of one route call that go
 * to every plugin, joined by commas, into a SharedArrayBuffer (a segment) and marks each event with
 * where its text lies; a plugin host sends a worker only where in which segment its batch lies, and
 * the worker parses `[` + those bytes + `]` in one JSON.parse. The main thread so pays no structured
 * clone per plugin, and no copy of the text per plugin: every worker reads the same memory.
 *
 * The defaults of an ingest call (timestamp, database, source) are not written into each text
 * when the check filled in all three (the common case: a producer sends none of them): the segment
 * carries them once (`defaults`) and the worker sets them on each event it parses, in the order the
 * check appended them, after the id spliced into the text. Each worker so parses about 40% fewer
 * characters an event (4 plugins, three A/B pairs: worker CPU 1.05-1.25 against 1.25-1.6 us an event).
 *
 * A queued event keeps its segment alive. Only events that go to every plugin are written into
 * segments (one that goes to some crosses as before), so a queue holds a segment for the events it
 * has, not for others' events; only its drops can leave part of a segment queued, at the head or
 * the tail of the queue. A segment holds at most SEGMENT_MAX_EVENTS events and SEGMENT_MAX_BYTES.
 *
 * The mark is a symbol property, which JSON, structured clone and for…in never see. It names the
 * event it was made for, so that a copy of the event (spread, Object.assign: they copy symbol
 * properties), made perhaps to change it, does not pass for text that is no longer its own.
 * (Object.defineProperty would hide it from spread too, but costs the main thread 0.6 µs an event.)
 */
import type { DatabaseEvent } from '../../sdk/index.js';

/** The fields the check filled in from an ingest call's defaults, set by the reader on each event of a segment. */
export interface FilledDefaults {
  readonly timestamp: string;
  readonly database: string;
  readonly source: string;
}

/** An accepted line's text as the router shares it, and the defaults its reader sets (when all three were filled in). */
export interface LineText {
  readonly text: string;
  readonly defaults?: FilledDefaults;
}

/** Where an event's text lies: bytes [start, end) of `sab`; its reader sets `defaults` on what it parses. */
export interface LineRef {
  readonly sab: SharedArrayBuffer;
  readonly start: number;
  readonly end: number;
  readonly defaults?: FilledDefaults;
  /** The event this is the text of (set when the router marks it). */
  owner?: object;
}

/**
 * Plugins there must be before texts are shared: with one, its structured clone costs the main thread
 * less than splicing and writing the text (bench/core.ts, 2026-12-03: main-thread CPU per 100k events
 * 4.2–6.7x the raw baseline's with sharing, 3.8–4.1x without; with 4 plugins 1.3–1.6x against 1.8–2.6x).
 */
export const SHARE_MIN_PLUGINS = 2;

/** Most events written into one segment (a route call of the http source holds at most 1024). */
export const SEGMENT_MAX_EVENTS = 1024;
/** Most bytes of one segment, counted as 3 a character. */
export const SEGMENT_MAX_BYTES = 1 << 20;

const LINE: unique symbol = Symbol('heimdall.sharedLine');
type Carrier = { [LINE]?: LineRef };

/** Marks `event` as one whose text is `ref` (the router does it for events that go to every plugin). */
export function attachLine(event: DatabaseEvent, ref: LineRef): void {
  if (ref.owner !== undefined || !Object.isExtensible(event)) return;
  ref.owner = event;
  (event as Carrier)[LINE] = ref;
}

/** The shared text of `event`, when it has one (not a copy's). */
export function lineOf(event: DatabaseEvent): LineRef | undefined {
  const ref = (event as Carrier)[LINE];
  return ref !== undefined && ref.owner === event ? ref : undefined;
}

/** The fields the schema check fills in, in the order it appends them (sdk/checks/event.ts). */
export const FILLED_FIELDS = ['id', 'timestamp', 'database', 'source'] as const;
export type Missing = [boolean, boolean, boolean, boolean];

/** Which of FILLED_FIELDS `item` lacks (read before the check fills them). */
export function missingFields(item: Record<string, unknown>): Missing {
  return [item.id === undefined, item.timestamp === undefined, item.database === undefined, item.source === undefined];
}

/** The defaults of one ingest call as JSON members, written once for all its events. */
export class FilledText {
  private readonly ts: string;
  private readonly db: string;
  private readonly src: string;
  /** What the reader sets on an event whose three defaults the check filled in (one object for the call). */
  private readonly defaults: FilledDefaults;
  constructor(defaults: FilledDefaults) {
    this.ts = `,"timestamp":${JSON.stringify(defaults.timestamp)}`;
    this.db = `,"database":${JSON.stringify(defaults.database)}`;
    this.src = `,"source":${JSON.stringify(defaults.source)}`;
    this.defaults = { timestamp: defaults.timestamp, database: defaults.database, source: defaults.source };
  }

  /**
   * The line with the fields the check filled in (`missing`: the id from `event`, the others this
   * call's defaults) spliced in before its closing brace; when it filled in all three defaults,
   * only the id, and the defaults go beside the text for the reader to set. `line` is the text of
   * a JSON object (the check accepted what it parsed to), so its last `}` closes it and only white
   * space can follow.
   */
  splice(line: string, missing: Missing, event: DatabaseEvent): LineText {
    const [id, ts, db, src] = missing;
    const all = ts && db && src;
    // a generated id is a UUID (nothing to escape); one the producer sent is never filled in
    let fill = id ? `,"id":"${event.id}"` : '';
    if (!all) fill += (ts ? this.ts : '') + (db ? this.db : '') + (src ? this.src : '');
    let text = line;
    if (fill !== '') {
      const close = line.lastIndexOf('}');
      text = close === line.length - 1 ? line.slice(0, close) + fill + '}' : line.slice(0, close) + fill + line.slice(close);
    }
    return all ? { text, defaults: this.defaults } : { text };
  }
}

/** Sets `defaults` on each of `events`, in the order the check appends them. */
export function setDefaults(events: readonly DatabaseEvent[], defaults: FilledDefaults): void {
  const { timestamp, database, source } = defaults;
  for (let i = 0; i < events.length; i++) {
    const e = events[i] as { timestamp?: string; database?: string; source?: string };
    e.timestamp = timestamp;
    e.database = database;
    e.source = source;
  }
}

/** The event a LineText stands for: its text parsed, then its defaults set (what a worker reads). */
export function readLine(line: LineText): DatabaseEvent {
  const event = JSON.parse(line.text) as DatabaseEvent;
  if (line.defaults) setDefaults([event], line.defaults);
  return event;
}

/**
 * Writes the texts of `events` (texts[i] is that of events[i]) into segments of shared memory and
 * marks each event with where its text lies.
 */
export function shareLines(events: readonly DatabaseEvent[], texts: readonly LineText[]): void {
  let first = 0;
  let chars = 0;
  for (let i = 0; i < texts.length; i++) {
    const len = texts[i]!.text.length + 1;
    // a character takes at most 3 bytes of UTF-8; a segment's events share its defaults, or have none
    if (i > first && (i - first >= SEGMENT_MAX_EVENTS || (chars + len) * 3 > SEGMENT_MAX_BYTES || texts[i]!.defaults !== texts[first]!.defaults)) {
      writeSegment(events, texts, first, i);
      first = i;
      chars = 0;
    }
    chars += len;
  }
  if (texts.length > first) writeSegment(events, texts, first, texts.length);
}

/**
 * Where writeSegment writes a segment's texts before copying them into its shared memory: writing
 * each text straight into bytes costs a quarter of what joining them into one string does (the
 * join's pieces must be flattened before they are written). Kept between calls up to
 * SEGMENT_MAX_BYTES; a larger one (one event past the cap) is used once.
 */
let scratch = Buffer.allocUnsafe(1 << 16);
let ends = new Int32Array(SEGMENT_MAX_EVENTS);

function writeSegment(events: readonly DatabaseEvent[], texts: readonly LineText[], from: number, to: number): void {
  let chars = 0;
  for (let i = from; i < to; i++) chars += texts[i]!.text.length + 1;
  // a character takes at most 3 bytes of UTF-8
  let buf = scratch;
  if (buf.length < chars * 3) {
    buf = Buffer.allocUnsafe(chars * 3);
    if (buf.length <= SEGMENT_MAX_BYTES) scratch = buf;
  }
  if (ends.length < to - from) ends = new Int32Array(to - from);
  let pos = 0;
  for (let i = from; i < to; i++) {
    if (i > from) buf[pos++] = 0x2c; // ','
    pos += buf.write(texts[i]!.text, pos, 'utf8');
    ends[i - from] = pos;
  }
  const sab = new SharedArrayBuffer(pos);
  new Uint8Array(sab).set(buf.subarray(0, pos));
  const defaults = texts[from]!.defaults;
  let start = 0;
  for (let i = from; i < to; i++) {
    const end = ends[i - from]!;
    attachLine(events[i]!, defaults ? { sab, start, end, defaults } : { sab, start, end });
    start = end + 1;
  }
}

/** A run of consecutive events of one segment, as a worker is sent it, with the segment's defaults. */
export interface LineRun {
  sab: SharedArrayBuffer;
  start: number;
  end: number;
  defaults?: FilledDefaults;
}

/** The events of a run, parsed in the worker, with the segment's defaults set. */
export function parseRun(run: LineRun): DatabaseEvent[] {
  const events = JSON.parse(`[${Buffer.from(run.sab, run.start, run.end - run.start).toString('utf8')}]`) as DatabaseEvent[];
  if (run.defaults) setDefaults(events, run.defaults);
  return events;
}
