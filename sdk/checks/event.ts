/**
 * Checks items against the event schema and fills what a producer may leave out: id (a UUID),
 * timestamp (now), database and source. The daemon's ingest paths and the testing kit's `emit`
 * run this same check, so an event the kit accepts is one POST /v1/events accepts.
 */
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsImport from 'ajv-formats';
import { EVENT_SCHEMA } from '../event-schema.js';
import type { DatabaseEvent } from '../events.js';
import { newEventId } from './event-id.js';

const addFormats = addFormatsImport as unknown as (ajv: Ajv2020) => Ajv2020;
const ajv = new Ajv2020({ strict: true, allErrors: true });
addFormats(ajv);
const validate = ajv.compile<DatabaseEvent>(EVENT_SCHEMA);

let isoMs = -1;
let iso = '';
/** The time now as an ISO string, written once per millisecond (a batch of events shares it). */
export function nowIso(): string {
  const ms = Date.now();
  if (ms !== isoMs) {
    isoMs = ms;
    iso = new Date(ms).toISOString();
  }
  return iso;
}

export type Checked = { ok: true; event: DatabaseEvent } | { ok: false; id?: string; reason: string };

/**
 * Validates one item and returns a normalised event, or the reason it was rejected as a sentence.
 * `defaults.timestamp` is the time to give an event that has none (default: now), so that one batch can share it.
 */
export function checkEvent(item: unknown, defaults: { database: string; source: string; timestamp?: string }): Checked {
  if (!item || typeof item !== 'object' || Array.isArray(item)) {
    return { ok: false, reason: `An event must be a JSON object; got ${Array.isArray(item) ? 'an array' : item === null ? 'null' : typeof item}.` };
  }
  if (!validate(item)) {
    const id = typeof (item as { id?: unknown }).id === 'string' ? (item as { id: string }).id : undefined;
    const reasons = (validate.errors ?? []).map((e) => {
      const where = e.instancePath ? e.instancePath.slice(1).replace(/\//g, '.') : 'the event';
      if (e.keyword === 'additionalProperties') return `${where} has an unknown field "${(e.params as { additionalProperty: string }).additionalProperty}"`;
      if (e.keyword === 'enum') return `${where} must be one of the 17 event types (for example node.created or query.failed); got ${JSON.stringify((item as { type?: unknown }).type)}`;
      if (e.keyword === 'required') return `${where} needs the field "${(e.params as { missingProperty: string }).missingProperty}"`;
      return `${where} ${e.message}`;
    });
    return { ok: false, ...(id ? { id } : {}), reason: `${reasons.join('; ')}.` };
  }
  const ev = item as DatabaseEvent;
  if (ev.id === undefined) ev.id = newEventId();
  if (ev.timestamp === undefined) ev.timestamp = defaults.timestamp ?? nowIso();
  if (ev.database === undefined) ev.database = defaults.database;
  if (ev.source === undefined) ev.source = defaults.source;
  return { ok: true, event: ev };
}

/** Whether the router hands `event` to a plugin: its subscription selects the type, and it is not the plugin's own write (unless receiveOwnEvents). */
export function wouldReceive(
  plugin: { name: string; subscribes(type: string): boolean; receiveOwnEvents: boolean },
  event: Pick<DatabaseEvent, 'type' | 'metadata'>,
): boolean {
  if (!plugin.subscribes(event.type)) return false;
  const origin = event.metadata?.origin?.plugin;
  return !(origin !== undefined && origin === plugin.name && !plugin.receiveOwnEvents);
}
