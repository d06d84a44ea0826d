/**
 * How a batch of events crosses to a plugin worker: as one JSON array text instead of a structured
 * clone of the event objects. Each event is written as JSON once, whatever number of plugins it
 * goes to (the text is kept on the event under a symbol key, which JSON, structured clone and
 * for…in never see, and which unlike a WeakMap costs the garbage collector nothing), so the main thread pays
 * one JSON.stringify per event and, per plugin, one string join and the copy of one flat string;
 * the worker parses it. Copying one flat string costs far less than cloning a graph of objects, and
 * the parse runs on the plugin's thread, not on the daemon's.
 *
 * The plugin sees exactly what a structured clone would give it. JSON changes a few values a clone
 * keeps (an undefined field or array slot, -0, NaN and the infinities, array holes and extra array
 * properties); an event holding any of them is left out of the text (null in its place) and crosses
 * as a structured clone beside it, and so does one JSON.stringify cannot write (nested past the
 * stack, as an event handed to a plugin past the router's limits may be). Events are not changed
 * once routed, so the text kept for an event stays its text.
 *
 * Writing JSON pays only when an event goes to several plugins: only the events the router handed
 * to at least JSON_MIN_FAN_OUT plugins (router/fan-out.ts marks them) cross as text; the others
 * cross as structured clones, beside the text or, when the batch holds no widely routed event, as
 * one structured clone of the whole batch. *
 * Events that came in as NDJSON lines and went to every plugin have their text in shared memory
 * already (router/shared-lines.ts): a batch holding any crosses as `runs`, each run a place in a
 * segment that the worker parses in one JSON.parse, with the batch's other events between them
 * written as above. Nothing of such an event is copied or cloned per plugin.
 */
import type { DatabaseEvent } from '../../sdk/index.js';
import { hasManyTargets } from '../router/fan-out.js';
import { lineOf, parseRun, type LineRun } from '../router/shared-lines.js';

export type WireBatch =
  | {
      /** The batch as a JSON array; events that cross in `cloned` are null here. */
      json: string;
      /** Events that cross as structured clones (routed to few plugins, or JSON would not carry them exactly), by their index in the batch. */
      cloned?: Array<[number, DatabaseEvent]>;
    }
  /** A batch of events the router handed to few plugins (router/fan-out.ts): structured-cloned whole. */
  | { events: DatabaseEvent[] }
  /**
   * A batch that holds events whose NDJSON text is shared (router/shared-lines.ts): runs of them as
   * places in shared memory, the others between them written as above, in order.
   */
  | { runs: Array<LineRun | PlainWire> };

/** A batch, or part of one, with no shared text. */
export type PlainWire = Exclude<WireBatch, { runs: unknown }>;

/** Most characters of JSON in one batch; past it the rest of the batch is structured-cloned. */
const MAX_WIRE_CHARS = 1 << 27;

/** Each event's JSON text, or null when it must be structured-cloned. */
const TEXT: unique symbol = Symbol('heimdall.wireText');
type Carrier = { [TEXT]?: string | null };

/** Whether JSON.parse(JSON.stringify(v)) gives what a structured clone of `v` gives. */
function jsonExact(v: unknown): boolean {
  switch (typeof v) {
    case 'string':
    case 'boolean':
      return true;
    case 'number':
      return Number.isFinite(v) && !(v === 0 && 1 / v < 0);
    case 'object': {
      if (v === null) return true;
      if (Array.isArray(v)) {
        // for…in sees the indices that exist and any extra property: holes and extras both show
        let keys = 0;
        for (const k in v) {
          keys++;
          if (!jsonExact((v as unknown as Record<string, unknown>)[k])) return false;
        }
        return keys === v.length;
      }
      for (const k in v) if (!jsonExact((v as Record<string, unknown>)[k])) return false;
      return true;
    }
    default:
      return false;
  }
}

/** The event's JSON text (written once, then kept), or null when JSON would not carry it exactly. */
export function eventJson(event: DatabaseEvent): string | null {
  let text = (event as Carrier)[TEXT];
  if (text === undefined) {
    try {
      text = jsonExact(event) ? JSON.stringify(event) : null;
    } catch {
      // too deep for this thread's stack: the structured clone meets the same event in the worker
      text = null;
    }
    // a frozen event is written again for each batch it goes in
    if (Object.isExtensible(event)) Object.defineProperty(event, TEXT, { value: text, enumerable: false, writable: false, configurable: false });
  }
  return text;
}

/** Writes a batch for the worker, in order. */
export function encodeBatch(batch: readonly DatabaseEvent[]): WireBatch {
  let shared = false;
  for (let i = 0; i < batch.length && !shared; i++) shared = lineOf(batch[i]!) !== undefined;
  return shared ? encodeRuns(batch) : encodePlain(batch);
}

/** A batch with shared text: consecutive events of one segment that lie side by side make one run. */
function encodeRuns(batch: readonly DatabaseEvent[]): WireBatch {
  const runs: Array<LineRun | PlainWire> = [];
  let run: LineRun | undefined;
  let plainFrom = -1;
  for (let i = 0; i < batch.length; i++) {
    const ref = lineOf(batch[i]!);
    if (ref === undefined) {
      run = undefined;
      if (plainFrom < 0) plainFrom = i;
      continue;
    }
    if (plainFrom >= 0) {
      runs.push(encodePlain(batch.slice(plainFrom, i)));
      plainFrom = -1;
    }
    // the next line of a segment starts one byte (the comma) after the one before it ends
    if (run && run.sab === ref.sab && run.end + 1 === ref.start) run.end = ref.end;
    else runs.push((run = ref.defaults ? { sab: ref.sab, start: ref.start, end: ref.end, defaults: ref.defaults } : { sab: ref.sab, start: ref.start, end: ref.end }));
  }
  if (plainFrom >= 0) runs.push(encodePlain(batch.slice(plainFrom)));
  return { runs };
}

function encodePlain(batch: readonly DatabaseEvent[]): PlainWire {
  if (!batch.some(hasManyTargets)) return { events: batch as DatabaseEvent[] };
  let json = '[';
  let chars = 0;
  let cloned: Array<[number, DatabaseEvent]> | undefined;
  for (let i = 0; i < batch.length; i++) {
    const event = batch[i]!;
    const text = chars < MAX_WIRE_CHARS && hasManyTargets(event) ? eventJson(event) : null;
    if (i > 0) json += ',';
    if (text === null) {
      json += 'null';
      (cloned ??= []).push([i, event]);
    } else {
      json += text;
      chars += text.length;
    }
  }
  json += ']';
  return cloned ? { json, cloned } : { json };
}

/** The worker's side: the events of the batch, in order. */
export function decodeBatch(wire: WireBatch): DatabaseEvent[] {
  if ('runs' in wire) {
    const batch: DatabaseEvent[] = [];
    for (const part of wire.runs) for (const e of 'sab' in part ? parseRun(part) : decodeBatch(part)) batch.push(e);
    return batch;
  }
  if ('events' in wire) return wire.events;
  const batch = JSON.parse(wire.json) as DatabaseEvent[];
  if (wire.cloned) for (const [i, event] of wire.cloned) batch[i] = event;
  return batch;
}
