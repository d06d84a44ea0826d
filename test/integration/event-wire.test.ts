/**
 * A real plugin worker sees exactly the events the daemon routed, as a structured clone of them
 * would give them (the wire is JSON text with clones only where JSON is not exact, event-wire.ts):
 * unicode, big and small numbers, nested metadata, dates as strings, key order, an own __proto__ key, and the values JSON
 * would change (-0, NaN, undefined fields and slots, holes), both over POST /v1/events and from an
 * in-process source. The plugin records v8.serialize bytes, which the test deserialises and compares.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { deserialize } from 'node:v8';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { JSON_MIN_FAN_OUT } from '../../daemon/router/fan-out.js';
import type { DatabaseEvent } from '../../sdk/index.js';
import { pluginYaml, startTestDaemon, waitFor } from '../helpers/in-process-daemon.js';
import { fixturePlugin } from '../helpers/paths.js';

const op = { kind: 'operator' as const };
const stamp = { timestamp: '2026-12-02T04:45:47.123Z', database: 'neo4j', source: 'test' };

/** Events as NDJSON lines, every default filled in so the daemon adds nothing. */
const lines = [
  JSON.stringify({ id: 'h-unicode', type: 'node.updated', ...stamp, properties: { name: 'Zoë Ångström 日本語 עברית 🛡️👩‍👩‍👧', nul: 'a\u0000b', seps: 'x\u2028y', lone: 'half \ud800 pair' } }),
  JSON.stringify({ id: 'h-numbers', type: 'node.updated', ...stamp, properties: { max: Number.MAX_SAFE_INTEGER, past: 2 ** 53 + 2, huge: 1.7976931348623157e308, tiny: 5e-324, e21: 1e21, sum: 0.1 + 0.2 } }),
  JSON.stringify({ id: 'h-nested', type: 'transaction.commit', ...stamp, metadata: { tx: { app: 'x', tags: ['a', 'b'], empty: {}, list: [{ a: [1, [2, { b: null }]] }] } } }),
  JSON.stringify({ id: 'h-dates', type: 'node.created', ...stamp, properties: { at: '2026-12-02T04:45:47.123+01:00', day: '2026-12-02' } }),
  '{"id":"h-order","type":"node.updated","timestamp":"2026-12-02T04:45:47.123Z","database":"neo4j","source":"test","properties":{"b":1,"2":"two","a":2,"1":"one"},"metadata":{"minusZero":-0}}',
];

const inProcess: DatabaseEvent[] = [
  { id: 'p-minus-zero', type: 'node.updated', ...stamp, properties: { z: -0, n: NaN, inf: Infinity } },
  { id: 'p-undefined', type: 'node.updated', ...stamp, properties: { gone: undefined, list: [1, undefined, 3] } },
  // eslint-disable-next-line no-sparse-arrays
  { id: 'p-hole', type: 'node.updated', ...stamp, properties: { list: [1, , 3] } },
  { id: 'p-plain', type: 'node.updated', ...stamp, nodeId: '4:x:1', properties: { n: 1 } },
  // an own __proto__ key (POST /v1/events refuses it; an in-process source may still make one)
  { id: 'p-proto-key', type: 'node.updated', ...stamp, properties: JSON.parse('{"__proto__":{"own":true},"k":1}') as Record<string, unknown> },
];

test('each of JSON_MIN_FAN_OUT plugins sees exactly what a structured clone of each routed event gives, over HTTP and from an in-process source', async () => {
  // JSON_MIN_FAN_OUT plugins, so the events cross as JSON text (router/fan-out.ts)
  const dir = mkdtempSync(join(tmpdir(), 'heimdall-wire-'));
  const probes = Array.from({ length: JSON_MIN_FAN_OUT }, (_, i) => (i === 0 ? 'wire-probe' : `wire-probe-${i + 1}`));
  const files = probes.map((p, i) => {
    if (i === 0) return fixturePlugin('wire-probe.mjs');
    const f = join(dir, `${p}.mjs`);
    writeFileSync(f, `import probe from ${JSON.stringify(pathToFileURL(fixturePlugin('wire-probe.mjs')).href)};\nexport default { ...probe, name: '${p}' };\n`);
    return f;
  });
  const d = await startTestDaemon(files.map((f) => pluginYaml(f)));
  try {
    const r = await fetch(`${d.url}/v1/events`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body: lines.join('\n') });
    assert.equal(r.status, 200, await r.clone().text());
    d.internals.router.route(inProcess);
    const expected = [...lines.map((l) => JSON.parse(l) as DatabaseEvent), ...inProcess].map((e) => structuredClone(e));
    for (const probe of probes) {
      let seen: string[] = [];
      await waitFor(`${probe} to see every event`, async () => {
        const a = await d.api.invokeAction(`heimdall.${probe}.seen`, {}, op);
        seen = (a.data as { events: string[] }).events;
        return seen.length >= expected.length;
      });
      const got = seen.map((b64) => deserialize(Buffer.from(b64, 'base64')) as DatabaseEvent);
      assert.deepStrictEqual(got.map((e) => e.id), expected.map((e) => e.id), `${probe}: in order`);
      for (let i = 0; i < expected.length; i++) assert.deepStrictEqual(got[i], expected[i], `${probe}: event ${expected[i]!.id}`);
    }
  } finally {
    await d.stop();
  }
});
