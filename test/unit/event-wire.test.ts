/**
 * The wire a batch crosses to a plugin worker on (event-wire.ts): what the worker decodes is exactly
 * what a structured clone of the batch gives (deepStrictEqual, which tells -0 from 0, an undefined
 * field from a missing one and a hole from undefined), for unicode, big and small numbers, nested
 * metadata, dates as strings, key order and own __proto__ keys; the values JSON would change cross
 * as clones beside the text, and ordinary events never do.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { DatabaseEvent } from '../../sdk/index.js';
import { decodeBatch, encodeBatch, eventJson, type WireBatch } from '../../daemon/workers/event-wire.js';
import { Router, type QueueTarget } from '../../daemon/router/router.js';
import { JSON_MIN_FAN_OUT, hasManyTargets, markManyTargets } from '../../daemon/router/fan-out.js';

/** The wire of a batch that crossed as JSON text (not as a whole structured clone). */
function asText(w: WireBatch): { json: string; cloned?: Array<[number, DatabaseEvent]> } {
  assert.ok('json' in w, 'the batch crosses as JSON text');
  return w;
}

const target = (name: string, only?: string): QueueTarget & { got: DatabaseEvent[] } => {
  const got: DatabaseEvent[] = [];
  return { name, receiveOwnEvents: false, got, subscribes: (type) => only === undefined || type === only, offer: (e) => void got.push(e) };
};

/** An event the router handed to many plugins (so it crosses as text when JSON carries it exactly). */
const base = (id: string, extra: Record<string, unknown> = {}): DatabaseEvent => {
  const e = few(id, extra);
  markManyTargets(e);
  return e;
};
/** An event the router handed to few plugins. */
const few = (id: string, extra: Record<string, unknown> = {}): DatabaseEvent =>
  ({ id, type: 'node.updated', timestamp: '2026-12-02T04:45:47.123Z', database: 'neo4j', source: 'test', ...extra }) as DatabaseEvent;

const deep = (levels: number): Record<string, unknown> => {
  let v: Record<string, unknown> = { leaf: true };
  for (let i = 0; i < levels; i++) v = { next: v, i };
  return v;
};

/** Events JSON carries exactly: they cross as text. */
const ordinary: DatabaseEvent[] = [
  base('unicode', { properties: { name: 'Zoë Ångström 日本語 עברית 🛡️👩‍👩‍👧', nul: 'a\u0000b', seps: 'x\u2028y\u2029z', lone: 'half \ud800 a surrogate \udfff', quotes: '"\\/\b\f\n\r\t' } }),
  base('numbers', { properties: { max: Number.MAX_SAFE_INTEGER, past: 2 ** 53 + 2, huge: 1.7976931348623157e308, tiny: 5e-324, e21: 1e21, neg: -1.5e-7, sum: 0.1 + 0.2, zero: 0, big: '123456789012345678901234567890' } }),
  base('nested', { metadata: { tx: { id: 42, meta: { app: 'x', tags: ['a', 'b'], empty: {}, none: [] } }, origin: { plugin: 'p', action: 'a' }, list: [{ a: [1, [2, [3, { b: null }]]] }], deep: deep(30) } }),
  base('dates', { properties: { at: '2026-12-02T04:45:47.123+01:00', day: '2026-12-02', looksLikeNumber: '007', t: 'true' } }),
  base('order', { properties: JSON.parse('{"b":1,"2":"two","a":2,"1":"one","__proto__":{"own":true}}') as Record<string, unknown> }),
  base('null-proto', { properties: Object.assign(Object.create(null) as Record<string, unknown>, { k: 'v' }) }),
  base('plain', { nodeId: '4:x:1', labels: ['Person'], properties: { n: 1 }, oldProperties: { n: 0 } }),
];

/** Events JSON would change: they cross as structured clones. */
const unusual: DatabaseEvent[] = [
  base('minus-zero', { properties: { z: -0 } }),
  base('nan', { properties: { n: NaN, inf: Infinity, ninf: -Infinity } }),
  base('undefined-field', { properties: { gone: undefined, kept: 1 } }),
  base('undefined-slot', { properties: { list: [1, undefined, 3] } }),
  // eslint-disable-next-line no-sparse-arrays
  base('hole', { properties: { list: [1, , 3] } }),
  base('array-extra', { properties: { list: Object.assign([1, 2], { extra: 'x' }) } }),
  base('too-deep', { properties: deep(20_000) }),
];

describe('event wire', () => {
  it('decodes every event exactly as a structured clone of it, in order', () => {
    const batch = [...ordinary, ...unusual, ...ordinary];
    // the too-deep event crosses as it is (here the same object; between threads postMessage clones it)
    const expected = batch.map((e) => (e.id === 'too-deep' ? e : structuredClone(e)));
    assert.deepStrictEqual(decodeBatch(encodeBatch(batch)), expected);
  });

  it('sends ordinary events as JSON text only, and only the unusual ones as clones', () => {
    assert.equal(asText(encodeBatch(ordinary)).cloned, undefined, 'no clone for JSON-exact events');
    const wire = asText(encodeBatch([ordinary[0]!, ...unusual]));
    assert.deepEqual(wire.cloned!.map(([i, e]) => [i, e.id]), unusual.map((e, k) => [k + 1, e.id]));
    for (const e of unusual) if (e.id !== 'too-deep') assert.deepStrictEqual(decodeBatch(encodeBatch([e])), [structuredClone(e)], e.id);
  });

  it('writes an event as JSON once and reuses the text for every batch it goes in', () => {
    const e = base('once', { properties: { n: 1 } });
    const first = eventJson(e);
    assert.equal(first, JSON.stringify(e));
    assert.equal(eventJson(e), first);
    assert.equal(asText(encodeBatch([e])).json, `[${first}]`);
  });

  it('decodes a fresh object for each batch, so plugins never share one', () => {
    const e = base('fresh', { properties: { n: 1 } });
    const wire = encodeBatch([e]);
    const a = decodeBatch(wire)[0]!;
    const b = decodeBatch(wire)[0]!;
    assert.notEqual(a, b);
    assert.notEqual(a, e);
    assert.deepStrictEqual(a, b);
  });

  it('sends a batch of events the router handed to few plugins as one structured clone, and marks only the widely routed ones', () => {
    const narrowOnes = [few('few-1'), few('few-2', { type: 'node.created' })];
    const wire = encodeBatch(narrowOnes);
    assert.deepEqual(wire, { events: narrowOnes });
    assert.equal(decodeBatch(wire), narrowOnes, 'the batch itself: postMessage clones it');
    const mixed = asText(encodeBatch([narrowOnes[0]!, base('many')]));
    assert.deepEqual(mixed.cloned, [[0, narrowOnes[0]]], 'a batch with one widely routed event goes as text, the narrow one cloned beside it');
    assert.deepStrictEqual(decodeBatch(mixed), [structuredClone(narrowOnes[0]!), structuredClone(base('many'))]);

    const targets = Array.from({ length: JSON_MIN_FAN_OUT }, (_, i) => target(`t${i}`, i === 0 ? undefined : 'node.updated'));
    const r = new Router();
    r.setTargets(targets);
    const wide = few('wide');
    const narrow = few('narrow', { type: 'node.created' });
    r.route([wide, narrow]);
    assert.deepEqual(targets.map((t) => t.got.map((e) => e.id)), [['wide', 'narrow'], ...targets.slice(1).map(() => ['wide'])]);
    assert.equal(hasManyTargets(wide), true, `went to ${JSON_MIN_FAN_OUT} plugins`);
    assert.equal(hasManyTargets(narrow), false, 'went to one plugin');
    assert.equal(JSON.stringify(wide).includes('many'), false, 'the mark is not in the JSON');
    assert.deepStrictEqual(Object.keys(wide), Object.keys(few('x')), 'nor among the keys');
  });
});
