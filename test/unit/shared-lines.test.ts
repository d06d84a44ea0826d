/**
 * NDJSON text shared with the plugin workers (router/shared-lines.ts): a line with the fields the
 * schema check filled in spliced in parses to exactly the event the check made (values and key
 * order, nested too); the router writes into shared memory only the events every plugin takes; a
 * batch of them crosses as runs of a segment and decodes to exactly what a structured clone of
 * the batch gives, in order, with other events between them; a copy of an event does not pass for
 * its text.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { DatabaseEvent } from '../../sdk/index.js';
import { checkEvent } from '../../daemon/router/event-validator.js';
import { FilledText, SEGMENT_MAX_EVENTS, SHARE_MIN_PLUGINS, lineOf, missingFields, readLine, shareLines, type LineText } from '../../daemon/router/shared-lines.js';
import { decodeBatch, encodeBatch } from '../../daemon/workers/event-wire.js';
import { Router, type QueueTarget } from '../../daemon/router/router.js';

const defaults = { database: 'neo4j', source: 'http', timestamp: '2026-12-03T12:00:00.000Z' };

/** Every key of `v`, nested, in order: key order is what deepStrictEqual does not compare. */
function keyOrder(v: unknown): unknown {
  if (v === null || typeof v !== 'object') return null;
  if (Array.isArray(v)) return v.map(keyOrder);
  return Object.entries(v).map(([k, x]) => [k, keyOrder(x)]);
}

/** One ingest call's filled fields, as the http source has for all the items of one call. */
const FILLED = new FilledText(defaults);

/** Parses and checks `line` as the http source does; answers the event and its spliced text. */
function ingestLine(line: string, filled = FILLED): { event: DatabaseEvent; text: LineText } {
  const item = JSON.parse(line) as Record<string, unknown>;
  const missing = missingFields(item);
  const c = checkEvent(item, defaults);
  assert.ok(c.ok, `the line is a valid event: ${line}`);
  return { event: c.event, text: filled.splice(line, missing, c.event) };
}

const LINES = [
  '{"type":"node.created","nodeId":"a","properties":{"s":"a } brace","list":[{"x":1},{}]}}',
  '{"type":"node.updated","id":"own-id","properties":{"name":"Zoë Ångström 日本語 🛡️","sep":"x\\u2028y"}}   ',
  '{"type":"node.created","timestamp":"2026-01-01T00:00:00.000Z","source":"app","properties":{"z":-0,"big":1e400,"b":1,"2":"two","a":2}}\r',
  '{"type":"relationship.created","relationshipId":"r1","database":"other","metadata":{"tx":{"app":"x"}}}',
  '{"id":"all-there","type":"node.deleted","timestamp":"2026-01-01T00:00:00.000Z","database":"neo4j","source":"app"}',
];

describe('FilledText.splice', () => {
  it('gives text that parses to the checked event: same values, same key order, filled fields last in the check’s order', () => {
    for (const line of LINES) {
      const { event, text } = ingestLine(line);
      const parsed = readLine(text);
      assert.deepStrictEqual(parsed, event, line);
      assert.deepStrictEqual(keyOrder(parsed), keyOrder(event), `key order: ${line}`);
    }
    assert.deepStrictEqual(ingestLine(LINES[4]!).text, { text: LINES[4] }, 'nothing filled: the line as it came');
    assert.ok(Object.is((readLine(ingestLine(LINES[2]!).text) as unknown as { properties: { z: number } }).properties.z, -0), '-0 stays -0');
  });

  it('leaves the three defaults out of the text when the check filled in all three, and splices them in when it filled some', () => {
    const all = ingestLine(LINES[0]!).text;
    assert.deepStrictEqual(all.defaults, { timestamp: defaults.timestamp, database: 'neo4j', source: 'http' });
    assert.ok(!all.text.includes('"timestamp"') && !all.text.includes('"database"') && !all.text.includes('"source"'), all.text);
    assert.match(all.text, /,"id":"[0-9a-f-]{36}"\}$/, 'the generated id is spliced in');
    const some = ingestLine(LINES[2]!).text;
    assert.equal(some.defaults, undefined);
    assert.ok(some.text.includes(',"id":') && some.text.includes(',"database":"neo4j"}'), some.text);
    const filled = new FilledText(defaults);
    assert.equal(ingestLine(LINES[0]!, filled).text.defaults, ingestLine(LINES[1]!, filled).text.defaults, 'one defaults object for the whole ingest call');
  });
});

describe('shared lines on the wire', () => {
  it('a batch of shared events crosses as one run per segment and decodes to what a structured clone gives', () => {
    const ins = LINES.map((l) => ingestLine(l));
    const events = ins.map((x) => x.event);
    shareLines(events, ins.map((x) => x.text));
    for (const e of events) assert.ok(lineOf(e), `${e.id} has its text`);
    const wire = encodeBatch(events);
    assert.ok('runs' in wire);
    assert.equal(wire.runs.length, 2, 'adjacent lines of one segment make one run: LINES[0..1] leave all three defaults to the reader, LINES[2..4] do not');
    const got = decodeBatch(structuredClone(wire));
    assert.deepStrictEqual(got, structuredClone(events));
    assert.deepStrictEqual(keyOrder(got), keyOrder(events));
  });

  it('keeps order with other events between shared ones, and with lines that are not side by side', () => {
    const ins = LINES.map((l) => ingestLine(l));
    const events = ins.map((x) => x.event);
    shareLines(events, ins.map((x) => x.text));
    const plain = { id: 'plain', type: 'node.updated', timestamp: defaults.timestamp, database: 'neo4j', source: 'test', properties: { n: NaN } } as DatabaseEvent;
    const batch = [events[0]!, plain, events[1]!, events[3]!, events[4]!, events[2]!];
    const wire = encodeBatch(batch);
    assert.ok('runs' in wire);
    // [0] | plain | [1] | [3,4] | [2]
    assert.equal(wire.runs.length, 5);
    assert.deepStrictEqual(decodeBatch(structuredClone(wire)), structuredClone(batch));
  });

  it('splits segments at SEGMENT_MAX_EVENTS and finds every line in them, past multi-byte characters', () => {
    const n = SEGMENT_MAX_EVENTS + 10;
    const ins = Array.from({ length: n }, (_, i) => ingestLine(JSON.stringify({ type: 'node.updated', nodeId: `n${i}`, properties: { s: i % 3 === 0 ? `ü${'🛡️'.repeat(i % 5)}` : 'plain' } })));
    const events = ins.map((x) => x.event);
    shareLines(events, ins.map((x) => x.text));
    const sabs = new Set(events.map((e) => lineOf(e)!.sab));
    assert.equal(sabs.size, 2);
    const wire = encodeBatch(events);
    assert.ok('runs' in wire);
    assert.equal(wire.runs.length, 2, 'one run per segment');
    assert.deepStrictEqual(decodeBatch(structuredClone(wire)), structuredClone(events));
  });

  it('writes an event larger than a segment’s cap into a segment of its own, and the small ones after it as before', () => {
    const big = 'é'.repeat(400_000); // 800,000 bytes of UTF-8; counted as 3 a character it passes SEGMENT_MAX_BYTES
    const ins = [ingestLine(JSON.stringify({ type: 'node.updated', nodeId: 'small-1' })), ingestLine(JSON.stringify({ type: 'node.updated', nodeId: 'big', properties: { big } })), ingestLine(JSON.stringify({ type: 'node.updated', nodeId: 'small-2', properties: { s: 'ü' } }))];
    const events = ins.map((x) => x.event);
    shareLines(events, ins.map((x) => x.text));
    const refs = events.map((e) => lineOf(e)!);
    assert.equal(new Set(refs.map((r) => r.sab)).size, 3, 'the big event sits alone: one segment each');
    assert.equal(refs[1]!.end - refs[1]!.start, Buffer.byteLength(ins[1]!.text.text, 'utf8'));
    assert.deepStrictEqual(decodeBatch(structuredClone(encodeBatch(events))), structuredClone(events));
  });

  it('starts a segment where the defaults change, and a run decodes with its segment’s defaults in the check’s key order', () => {
    const filled = new FilledText(defaults);
    // all three filled, some filled, all three filled again: three segments
    const ins = [LINES[0]!, LINES[1]!, LINES[2]!, LINES[3]!, LINES[0]!, LINES[1]!].map((l) => ingestLine(l, filled));
    const events = ins.map((x) => x.event);
    shareLines(events, ins.map((x) => x.text));
    const refs = events.map((e) => lineOf(e)!);
    assert.deepStrictEqual(refs.map((r) => r.defaults !== undefined), [true, true, false, false, true, true]);
    assert.equal(new Set(refs.map((r) => r.sab)).size, 3);
    const wire = encodeBatch(events);
    assert.ok('runs' in wire);
    assert.equal(wire.runs.length, 3, 'one run per segment');
    const decoded = decodeBatch(structuredClone(wire));
    assert.deepStrictEqual(decoded, structuredClone(events));
    assert.deepStrictEqual(decoded.map(keyOrder), events.map(keyOrder), 'the same keys in the same order');
  });

  it('does not let a copy of an event, changed or not, pass for the original’s text', () => {
    const { event, text } = ingestLine(LINES[0]!);
    shareLines([event], [text]);
    const changed = { ...event, type: 'node.deleted' } as DatabaseEvent;
    assert.equal(lineOf(changed), undefined);
    assert.equal(lineOf(Object.assign({}, event)), undefined);
    assert.deepStrictEqual(decodeBatch(structuredClone(encodeBatch([changed]))), [structuredClone(changed)]);
  });
});

describe('the router and shared lines', () => {
  const target = (name: string, only?: string): QueueTarget & { got: DatabaseEvent[] } => {
    const got: DatabaseEvent[] = [];
    return { name, receiveOwnEvents: false, got, subscribes: (type) => only === undefined || type === only, offer: (e) => void got.push(e) };
  };

  it('shares the text of the events every plugin takes, and only theirs', () => {
    const r = new Router();
    const all = target('all');
    const created = target('created', 'node.created');
    r.setTargets([all, created]);
    const ins = [LINES[0]!, LINES[1]!, LINES[2]!].map((l) => ingestLine(l));
    r.route(ins.map((x) => x.event), { measured: true, textOf: (j) => ins[j]!.text });
    assert.deepStrictEqual(all.got.map((e) => lineOf(e) !== undefined), [true, false, true], 'node.created goes to both, node.updated to one');
    assert.deepStrictEqual(created.got.map((e) => e.type), ['node.created', 'node.created']);
    const wire = encodeBatch(all.got);
    assert.deepStrictEqual(decodeBatch(structuredClone(wire)), structuredClone(all.got));
  });

  it('shares nothing with fewer than SHARE_MIN_PLUGINS plugins: a clone costs the main thread less', () => {
    const r = new Router();
    const only = target('only');
    r.setTargets([only]);
    const x = ingestLine(LINES[0]!);
    let asked = 0;
    r.route([x.event], { measured: true, textOf: () => (asked++, x.text) });
    assert.equal(SHARE_MIN_PLUGINS, 2);
    assert.equal(lineOf(x.event), undefined);
    assert.equal(asked, 0, 'the text is not even spliced');
  });

  it('shares nothing without texts, and none of an event a plugin does not get because it wrote it', () => {
    const r = new Router();
    const a = target('a');
    const b = target('b');
    r.setTargets([a, b]);
    const plain = ingestLine(LINES[0]!);
    r.route([plain.event]);
    assert.equal(lineOf(plain.event), undefined);
    const own = ingestLine('{"type":"node.created","metadata":{"origin":{"plugin":"a"}}}');
    r.route([own.event], { measured: true, textOf: () => own.text });
    assert.equal(a.got.length, 1, 'a does not get its own write');
    assert.equal(lineOf(own.event), undefined);
  });
});
