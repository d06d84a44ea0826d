/**
 * Which events the router handed to many plugins: the plugin hosts' wire (workers/event-wire.ts)
 * writes such an event as JSON once for all its plugins (at least JSON_MIN_FAN_OUT of them); an
 * event going to fewer crosses as one structured clone per plugin, which costs the main thread less
 * than writing JSON for it (measured with bench/core.ts on a quiet machine: with 4 plugins JSON made
 * the in-process path 35% slower and HTTP no faster, with 16 it cut the main thread's CPU per event
 * by 10–18%; 8 is the midpoint, not measured on its own; JSON from 2 plugins up was measured
 * slower again, 131k against 143k events/s per plugin over HTTP with 4 plugins). Only the rare
 * widely routed event is marked, so the common case pays nothing (marking the others instead cost
 * the in-process path with 4 plugins 184k against 226–229k events/s per plugin). The mark is a non-enumerable symbol property that JSON, structured clone, spread and
 * for…in never see.
 */

/** Plugins an event must go to before it crosses to them as JSON text. */
export const JSON_MIN_FAN_OUT = 8;

const MANY: unique symbol = Symbol('heimdall.manyTargets');

/** Records that the router handed `event` to at least JSON_MIN_FAN_OUT plugins. */
export function markManyTargets(event: object): void {
  if (Object.isExtensible(event) && !Object.prototype.hasOwnProperty.call(event, MANY)) Object.defineProperty(event, MANY, { value: true });
}

/** Whether the router handed `event` to at least JSON_MIN_FAN_OUT plugins. */
export function hasManyTargets(event: object): boolean {
  return (event as { [MANY]?: boolean })[MANY] === true;
}
