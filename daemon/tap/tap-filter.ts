/**
 * The filters of the event tap (GET /v1/events/stream, `heimdall events`): event types (exact or a
 * family such as `node.*`), a label (a node label, or a relationship type), a plugin's subscription
 * (the events that plugin would receive: its `events` and its own writes, as the router decides),
 * and sampling (1 in N of the events that pass the other filters).
 */
import { eventTypeMatches, isEventType, type DatabaseEvent } from '../../sdk/index.js';
import { wouldReceive } from '../../sdk/checks/event.js';

/** A plugin as the router sees it. */
export interface TapTarget {
  readonly name: string;
  readonly receiveOwnEvents: boolean;
  subscribes(type: string): boolean;
}

export interface TapFilter {
  /** Event types or families; an event passes when one matches. */
  types?: string[];
  /** A node label (nodeLabels) or relationship type the event must carry. */
  label?: string;
  /** Only what this plugin would receive. */
  plugin?: TapTarget;
  /** Pass 1 in N of the events that pass the other filters. */
  sample?: number;
}

/** Parses `type=` (comma-separated, exact types or families); a message saying what is wrong otherwise. */
export function parseTypes(raw: string): { ok: true; types: string[] } | { ok: false; message: string } {
  const types = raw.split(',').map((t) => t.trim()).filter(Boolean);
  for (const t of types) {
    if (t !== '*' && !isEventType(t) && !/^[a-z]+\.\*$/.test(t)) {
      return { ok: false, message: `"${t}" is neither an event type (such as node.created) nor a family (such as node.*)` };
    }
  }
  return { ok: true, types };
}

/** A predicate for the filter; each call counts for the sampling, so use one per client. */
export function compileTapFilter(f: TapFilter): (e: DatabaseEvent) => boolean {
  let passed = 0;
  return (e) => {
    if (f.types && f.types.length > 0 && !f.types.some((t) => eventTypeMatches(t, e.type))) return false;
    if (f.label !== undefined && !(e.nodeLabels?.includes(f.label) || e.relationshipType === f.label)) return false;
    if (f.plugin && !wouldReceive(f.plugin, e)) return false;
    if (f.sample !== undefined && f.sample > 1) return passed++ % f.sample === 0;
    return true;
  };
}
