/**
 * How many plugins the router handed an event to, when that was few: the plugin hosts' wire
 * (workers/event-wire.ts) writes an event as JSON once for all its plugins only when it goes to
 * at least JSON_MIN_FAN_OUT of them; below that one structured clone per plugin costs the main
 * thread less (measured with bench/core.ts on a quiet machine: with 4 plugins JSON made the
 * in-process path 35% slower and HTTP no faster, with 16 it cut the main thread's CPU per event
 * by 10–18%; 8 is the midpoint, not measured on its own). The mark is a non-enumerable symbol
 * property that JSON, structured clone, spread and for…in never see.
 */

/** Plugins an event must go to before it crosses to them as JSON text. */
export const JSON_MIN_FAN_OUT = 8;

const FEW: unique symbol = Symbol('heimdall.fewTargets');

/** Records that the router handed `event` to fewer than JSON_MIN_FAN_OUT plugins. */
export function markFewTargets(event: object): void {
  if (Object.isExtensible(event) && !Object.prototype.hasOwnProperty.call(event, FEW)) Object.defineProperty(event, FEW, { value: true });
}

/** Whether the router handed `event` to fewer than JSON_MIN_FAN_OUT plugins. */
export function hasFewTargets(event: object): boolean {
  return (event as { [FEW]?: boolean })[FEW] === true;
}
