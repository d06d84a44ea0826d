/**
 * NDJSON posted to /v1/events reaches real plugin workers through shared memory
 * (router/shared-lines.ts) exactly as the daemon checked it: the fields it filled in (id,
 * timestamp, database, source) where and as the check put them, values JSON.parse alone gives
 * (-0, 1e400 as Infinity, unicode), key order, over a body with a byte-order mark, CRLF line
 * ends, trailing blanks, a blank line and a line that is not JSON. Two plugins that take every
 * event see the same events; a plugin that subscribes to one type (so those events are not all
 * shared) sees exactly its share of the same events.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { deserialize } from 'node:v8';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { DatabaseEvent } from '../../sdk/index.js';
import { pluginYaml, startTestDaemon, waitFor } from '../helpers/in-process-daemon.js';
import { fixturePlugin } from '../helpers/paths.js';

const op = { kind: 'operator' as const };

const LINES = [
  '\ufeff{"type":"node.created","nodeId":"a","properties":{"s":"a } brace","list":[{"x":1},{}]}}\r',
  '{"type":"node.updated","id":"own-id","properties":{"name":"Zoë Ångström 日本語 🛡️","sep":"x\\u2028y"}}   \r',
  '\r',
  'this line is not JSON\r',
  '{"type":"node.created","timestamp":"2026-01-01T00:00:00.000Z","source":"app","properties":{"z":-0,"big":1e400,"b":1,"2":"two","a":2}}\r',
  '{"type":"relationship.created","relationshipId":"r1","database":"other","metadata":{"tx":{"app":"x"}}}',
];

function keyOrder(v: unknown): unknown {
  if (v === null || typeof v !== 'object') return null;
  if (Array.isArray(v)) return v.map(keyOrder);
  return Object.entries(v).map(([k, x]) => [k, keyOrder(x)]);
}

async function seen(d: Awaited<ReturnType<typeof startTestDaemon>>, probe: string, n: number): Promise<DatabaseEvent[]> {
  let got: string[] = [];
  await waitFor(`${probe} to see ${n} events`, async () => {
    got = ((await d.api.invokeAction(`heimdall.${probe}.seen`, {}, op)).data as { events: string[] }).events;
    return got.length >= n;
  });
  return got.map((b64) => deserialize(Buffer.from(b64, 'base64')) as DatabaseEvent);
}

test('NDJSON events reach every worker through shared text exactly as checked, and a partial subscriber gets exactly its share', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'heimdall-shared-'));
  const probe = pathToFileURL(fixturePlugin('wire-probe.mjs')).href;
  const second = join(dir, 'wire-probe-2.mjs');
  writeFileSync(second, `import probe from ${JSON.stringify(probe)};\nexport default { ...probe, name: 'wire-probe-2' };\n`);
  const createdOnly = join(dir, 'wire-probe-created.mjs');
  writeFileSync(createdOnly, `import probe from ${JSON.stringify(probe)};\nexport default { ...probe, name: 'wire-probe-created', events: ['node.created'] };\n`);
  const d = await startTestDaemon([pluginYaml(fixturePlugin('wire-probe.mjs')), pluginYaml(second), pluginYaml(createdOnly)]);
  try {
    const r = await fetch(`${d.url}/v1/events`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body: LINES.join('\n') });
    const answer = (await r.json()) as { accepted: number; ids: string[]; rejected: Array<{ line: number }> };
    assert.equal(r.status, 200);
    assert.equal(answer.accepted, 4);
    assert.deepStrictEqual(answer.rejected.map((x) => x.line), [4]);
    const a = await seen(d, 'wire-probe', 4);
    const b = await seen(d, 'wire-probe-2', 4);
    const c = await seen(d, 'wire-probe-created', 2);
    // what the daemon's check makes of each line: the parse, then the missing fields appended in order
    // (the line that is not JSON splits the body into two ingest calls, each with its own time)
    for (const e of a) assert.match(e.timestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    const expected = [0, 1, 4, 5].map((k, i) => {
      const e = JSON.parse(LINES[k]!.replace(/^\ufeff/, '')) as Record<string, unknown>;
      e.id ??= answer.ids[i];
      e.timestamp ??= a[i]!.timestamp;
      e.database ??= 'neo4j';
      e.source ??= 'http';
      return e as unknown as DatabaseEvent;
    });
    for (const [name, got] of [['wire-probe', a], ['wire-probe-2', b]] as const) {
      assert.deepStrictEqual(got, expected, name);
      assert.deepStrictEqual(keyOrder(got), keyOrder(expected), `${name}: key order`);
    }
    assert.ok(Object.is((a[2]!.properties as { z: number }).z, -0) && (a[2]!.properties as { big: number }).big === Infinity);
    const share = expected.filter((e) => e.type === 'node.created');
    assert.deepStrictEqual(c, share);
    assert.deepStrictEqual(keyOrder(c), keyOrder(share));
  } finally {
    await d.stop();
  }
});
