/**
 * Checks incoming items against the event limits (event-limits.ts: depth, size, plain JSON; first,
 * so the schema check never walks a hostile value) and then the event schema, and fills what the
 * producer may leave out: id (a UUID), timestamp (now), database (the configured one) and source
 * (the ingest path). The schema check lives in the SDK (sdk/checks/event.ts), so the testing kit
 * runs the same one; the limits are the daemon's (limits.events).
 */
import { checkEvent as checkSchema, type Checked } from '../../sdk/checks/event.js';
import { DEFAULT_EVENT_LIMITS, measureValue, type EventLimits } from './event-limits.js';

export type { Checked };

/** Validates one item and returns a normalised event, or the reason it was rejected as a sentence. */
export function checkEvent(item: unknown, defaults: { database: string; source: string; timestamp?: string }, limits: EventLimits = DEFAULT_EVENT_LIMITS): Checked {
  if (item && typeof item === 'object' && !Array.isArray(item)) {
    const measured = measureValue(item, limits);
    if (!measured.ok) {
      const id = typeof (item as { id?: unknown }).id === 'string' ? (item as { id: string }).id : undefined;
      return { ok: false, ...(id ? { id } : {}), reason: measured.reason };
    }
  }
  return checkSchema(item, defaults);
}
