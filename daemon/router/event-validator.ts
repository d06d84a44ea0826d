/**
 * Checks incoming items against the event limits (event-limits.ts: depth, size, plain JSON; first,
 * so the schema check never walks a hostile value) and the event schema, and fills what the
 * producer may leave out: id (a UUID), timestamp (now), database (the configured one) and source
 * (the ingest path).
 */
import { randomUUID } from 'node:crypto';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsImport from 'ajv-formats';
import { EVENT_SCHEMA, type DatabaseEvent } from '../../sdk/index.js';
import { DEFAULT_EVENT_LIMITS, markVetted, measureValue, type EventLimits } from './event-limits.js';

const addFormats = addFormatsImport as unknown as (ajv: Ajv2020) => Ajv2020;
const ajv = new Ajv2020({ strict: true, allErrors: true });
addFormats(ajv);
const validate = ajv.compile<DatabaseEvent>(EVENT_SCHEMA);

export type Checked = { ok: true; event: DatabaseEvent } | { ok: false; id?: string; reason: string };

/** Validates one item and returns a normalised event, or the reason it was rejected as a sentence. */
export function checkEvent(item: unknown, defaults: { database: string; source: string }, limits: EventLimits = DEFAULT_EVENT_LIMITS): Checked {
  if (!item || typeof item !== 'object' || Array.isArray(item)) {
    return { ok: false, reason: `An event must be a JSON object; got ${Array.isArray(item) ? 'an array' : item === null ? 'null' : typeof item}.` };
  }
  const measured = measureValue(item, limits);
  if (!measured.ok) {
    const id = typeof (item as { id?: unknown }).id === 'string' ? (item as { id: string }).id : undefined;
    return { ok: false, ...(id ? { id } : {}), reason: measured.reason };
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
  if (ev.id === undefined) ev.id = randomUUID();
  if (ev.timestamp === undefined) ev.timestamp = new Date().toISOString();
  if (ev.database === undefined) ev.database = defaults.database;
  if (ev.source === undefined) ev.source = defaults.source;
  markVetted(ev);
  return { ok: true, event: ev };
}
