/**
 * The event tap: GET /v1/events/stream streams what the sources emit, before any plugin, in order,
 * with filters by type (exact or family), label, plugin subscription and sampling; a slow client
 * is cut off with a last event while the others keep up; nothing is done while nobody listens; and
 * `heimdall events` prints it.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { connectSse, type SseConnection, type SseEvent } from '../../daemon/bifrost/sse-client.js';
import type { RunningDaemon } from '../../daemon/daemon.js';
import type { EventTap } from '../../daemon/tap/event-tap.js';
import type { DatabaseEvent } from '../../sdk/index.js';
import { runCli } from '../helpers/daemon-process.js';
import { pluginYaml, startTestDaemon, waitFor } from '../helpers/in-process-daemon.js';

const tmp = mkdtempSync(join(tmpdir(), 'heimdall-tap-'));
const failures = join(tmp, 'failures.mjs');
writeFileSync(failures, "export default { name: 'failures', version: '1.0.0', events: ['query.failed', 'node.deleted'] };\n");
let d: RunningDaemon;

before(async () => {
  d = await startTestDaemon([pluginYaml(failures)], 'bifrost:\n  clientBufferMessages: 1000\n  clientBufferBytes: 262144\n  heartbeatMs: 1000\n');
});
after(async () => {
  await d.stop();
  rmSync(tmp, { recursive: true, force: true });
});

interface Tap {
  conn: SseConnection;
  events: DatabaseEvent[];
  ids: string[];
  control: SseEvent[];
}

async function tap(query = ''): Promise<Tap> {
  const t: Partial<Tap> = { events: [], ids: [], control: [] };
  t.conn = await connectSse(`${d.url}/v1/events/stream${query}`, {
    onEvent: (e) => {
      if (e.event === 'event') {
        t.events!.push(JSON.parse(e.data) as DatabaseEvent);
        t.ids!.push(e.lastEventId);
      } else t.control!.push(e);
    },
  });
  await waitFor('the hello event', () => t.control!.some((c) => c.event === 'hello'));
  return t as Tap;
}

const ingest = (items: object[]) => assert.equal(d.api.ingest(items, 'http').accepted, items.length);

describe('GET /v1/events/stream', () => {
  it('streams the events the sources emit, in order, with increasing ids', async () => {
    const t = await tap();
    try {
      const items = Array.from({ length: 200 }, (_, i) => ({ id: `e-${i}`, type: i % 2 ? 'node.created' : 'query.failed' }));
      ingest(items.slice(0, 100));
      ingest(items.slice(100));
      await waitFor('200 events on the tap', () => t.events.length === 200);
      assert.deepEqual(t.events.map((e) => e.id), items.map((i) => i.id));
      assert.equal(t.events[0]!.source, 'http');
      const seqs = t.ids.map(Number);
      assert.ok(seqs.every((s, i) => i === 0 || s === seqs[i - 1]! + 1), 'ids count up by one');
    } finally {
      t.conn.close();
    }
  });

  it('filters by type (exact or family), label, plugin subscription and sampling', async () => {
    const [byType, byFamily, byLabel, byPlugin, sampled] = await Promise.all([
      tap('?type=query.failed'),
      tap('?type=relationship.*,node.deleted'),
      tap('?label=Person'),
      tap('?plugin=failures'),
      tap('?sample=3'),
    ]);
    try {
      ingest([
        { id: 'a', type: 'node.created', nodeLabels: ['Person'] },
        { id: 'b', type: 'query.failed' },
        { id: 'c', type: 'relationship.created', relationshipType: 'Person' },
        { id: 'd', type: 'node.deleted', nodeLabels: ['Order'] },
        { id: 'e', type: 'query.failed', metadata: { origin: { plugin: 'failures' } } },
        { id: 'f', type: 'node.updated', nodeLabels: ['Person', 'Admin'] },
      ]);
      await waitFor('the sampled tap to get its events', () => sampled.events.length === 2);
      await waitFor('the other taps', () => byPlugin.events.length === 2 && byLabel.events.length === 3);
      const ids = (t: Tap) => t.events.map((e) => e.id);
      assert.deepEqual(ids(byType), ['b', 'e']);
      assert.deepEqual(ids(byFamily), ['c', 'd']);
      assert.deepEqual(ids(byLabel), ['a', 'c', 'f']);
      // what the router would hand the plugin: its subscription, and not its own writes
      assert.deepEqual(ids(byPlugin), ['b', 'd']);
      assert.deepEqual(ids(sampled), ['a', 'd']);
      assert.deepEqual(JSON.parse(byPlugin.control.find((c) => c.event === 'hello')!.data).filter, { plugin: 'failures' });
    } finally {
      for (const t of [byType, byFamily, byLabel, byPlugin, sampled]) t.conn.close();
    }
  });

  it('refuses a bad filter before the stream starts', async () => {
    const bad = await fetch(`${d.url}/v1/events/stream?type=node.made`);
    assert.equal(bad.status, 400);
    assert.match(((await bad.json()) as { error: { message: string } }).error.message, /"node\.made" is neither an event type/);
    const unknown = await fetch(`${d.url}/v1/events/stream?plugin=nobody`);
    assert.equal(unknown.status, 404);
    assert.match(((await unknown.json()) as { error: { message: string } }).error.message, /No plugin is named nobody; the plugins are failures/);
    const param = await fetch(`${d.url}/v1/events/stream?colour=red`);
    assert.equal(param.status, 400);
    const sample = await fetch(`${d.url}/v1/events/stream?sample=0`);
    assert.equal(sample.status, 400);
  });

  it('cuts off a client that stops reading, with a last event, while another keeps up', async () => {
    const slow = await tap();
    const fast = await tap();
    try {
      slow.conn.pause();
      // windows of 100 events (~50 KB) per turn, as the Bifrost test does: ~15 MB in all
      const pad = 'x'.repeat(400);
      const COUNT = 30_000;
      for (let i = 0; i < COUNT / 100; i++) {
        ingest(Array.from({ length: 100 }, (_, j) => ({ id: `big-${i}-${j}`, type: 'node.created', properties: { pad } })));
        await new Promise((r) => setImmediate(r));
      }
      await waitFor(`the fast client to get all ${COUNT}`, () => fast.events.length === COUNT, 60_000);
      assert.ok(fast.events.every((e, i) => e.id === `big-${Math.floor(i / 100)}-${i % 100}`), 'in order');
      slow.conn.resume();
      await waitFor('the cutoff event', () => slow.control.some((c) => c.event === 'cutoff'), 20_000);
      const cutoff = JSON.parse(slow.control.find((c) => c.event === 'cutoff')!.data) as { reason: string; message: string };
      assert.equal(cutoff.reason, 'slow_client');
      assert.match(cutoff.message, /did not read fast enough/);
      assert.ok(slow.events.length < COUNT);
    } finally {
      slow.conn.close();
      fast.conn.close();
    }
  });

  it('does nothing while nobody listens', async () => {
    const t = d.api.eventTap as EventTap;
    await waitFor('every tap to be closed', () => !t.active);
    const seq = t.seq;
    ingest([{ type: 'node.created' }, { type: 'node.created' }]);
    assert.equal(t.seq, seq, 'no event was looked at');
  });

  it('heimdall events prints the next N events, one line each, and --json prints them as JSON', async () => {
    const run = runCli(['events', '--url', d.url, '--type', 'node.*', '-n', '3']);
    const json = runCli(['events', '--url', d.url, '--label', 'Tap', '--json', '-n', '2']);
    let i = 0;
    const timer = setInterval(() => ingest([{ id: `cli-${i++}`, type: 'node.created', nodeLabels: ['Tap'] }, { type: 'query.failed' }]), 100);
    try {
      const [r, j] = await Promise.all([run, json]);
      assert.equal(r.code, 0, r.stderr);
      const lines = r.stdout.trim().split('\n');
      assert.equal(lines.length, 3);
      for (const l of lines) assert.match(l, /^\S+Z node\.created\s+http\s+cli-\d+ {2}:Tap$/);
      assert.equal(j.code, 0, j.stderr);
      const events = j.stdout.trim().split('\n').map((l) => JSON.parse(l) as DatabaseEvent);
      assert.equal(events.length, 2);
      assert.ok(events.every((e) => e.nodeLabels?.includes('Tap')));
    } finally {
      clearInterval(timer);
    }
    const bad = await runCli(['events', '--url', d.url, '--plugin', 'nobody']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /No plugin is named nobody/);
  });
});
