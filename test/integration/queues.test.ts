/**
 * Bounded per-plugin queues under overload, with the exact invariant
 * received = delivered + dropped + queued checked continuously; graceful shutdown accounting.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { BifrostMessage } from '../../daemon/bifrost/bus.js';
import type { RunningDaemon } from '../../daemon/daemon.js';
import { pluginYaml, startTestDaemon, waitFor } from '../helpers/in-process-daemon.js';
import { fixturePlugin } from '../helpers/paths.js';
import { bifrostMessages } from '../helpers/public-api.js';

const op = { kind: 'operator' as const };
const slow = (d: RunningDaemon) => d.api.plugins().find((p) => p.name === 'slow')!;

/** Samples the invariant every millisecond until stopped; returns how many samples were checked. */
function watchInvariant(d: RunningDaemon): { stop(): number } {
  let samples = 0;
  let broken: string | undefined;
  const t = setInterval(() => {
    for (const p of d.api.plugins()) {
      const c = p.counters;
      samples++;
      if (c.received !== c.delivered + c.droppedTotal + c.queued) broken ??= `${p.name}: ${JSON.stringify(c)}`;
      if (c.queued > c.capacity) broken ??= `${p.name} queued ${c.queued} > capacity ${c.capacity}`;
    }
  }, 1);
  return {
    stop() {
      clearInterval(t);
      assert.equal(broken, undefined, `invariant broken: ${broken}`);
      return samples;
    },
  };
}

for (const whenFull of ['drop_newest', 'drop_oldest'] as const) {
  test(`${whenFull}: overload drops exactly the excess, counts every event, and keeps the right ones`, async () => {
    const d = await startTestDaemon([
      pluginYaml(fixturePlugin('slow.mjs'), `config:\n  delayMs: 2\nqueue:\n  capacity: 20\n  whenFull: ${whenFull}\n  batchSize: 5`),
      pluginYaml(fixturePlugin('recorder.mjs'), 'queue:\n  capacity: 5000'),
    ]);
    try {
      const w = watchInvariant(d);
      const ids = Array.from({ length: 500 }, (_, i) => `ev-${i}`);
      for (let i = 0; i < ids.length; i += 50) {
        d.api.ingest(ids.slice(i, i + 50).map((id) => ({ id, type: 'node.created' })), 'http');
        await new Promise((r) => setTimeout(r, 5));
      }
      await waitFor('the slow queue to drain', () => slow(d).counters.queued === 0, 20_000);
      const samples = w.stop();
      assert.ok(samples > 50, `the invariant was sampled ${samples} times`);
      const c = slow(d).counters;
      assert.equal(c.received, 500);
      assert.equal(c.delivered + c.droppedTotal, 500);
      assert.equal(c.dropped.queue_full, c.droppedTotal);
      assert.ok(c.droppedTotal > 100, `overload must drop; dropped ${c.droppedTotal}`);
      assert.ok(c.highWaterMark <= 20 && c.highWaterMark >= 15, `high-water mark ${c.highWaterMark}`);
      const handled = (await d.api.invokeAction('heimdall.slow.handled', {}, op)).data!.ids as string[];
      assert.equal(handled.length, c.delivered);
      // order is preserved among the delivered ones
      const pos = handled.map((id) => ids.indexOf(id));
      assert.deepEqual([...pos].sort((a, b) => a - b), pos);
      if (whenFull === 'drop_newest') assert.deepEqual(handled.slice(0, 20), ids.slice(0, 20), 'drop_newest keeps the first events');
      // capacity 20 minus what can be in flight (2 batches of 5) were waiting when the last events came
      else assert.deepEqual(handled.slice(-10), ids.slice(-10), 'drop_oldest keeps the latest events');
      // the fast plugin beside it lost nothing
      await waitFor('recorder got all', () => d.api.plugins().find((p) => p.name === 'recorder')!.counters.delivered === 500);
      assert.equal(d.api.plugins().find((p) => p.name === 'recorder')!.counters.droppedTotal, 0);
    } finally {
      await d.stop();
    }
  });
}

test('drops are summarised in the log and on Bifrost at most once per interval', async () => {
  const d = await startTestDaemon(
    [pluginYaml(fixturePlugin('slow.mjs'), 'config:\n  delayMs: 50\nqueue:\n  capacity: 2\n  batchSize: 1')],
    'drops:\n  logIntervalMs: 300',
  );
  try {
    // The load: 20 events every 100 ms for a second (the pacing spans several intervals).
    const t0 = Date.now();
    for (let i = 0; i < 10; i++) {
      d.api.ingest(Array.from({ length: 20 }, () => ({ type: 'node.created' })), 'http');
      await new Promise((r) => setTimeout(r, 100));
    }
    // Every drop happened at ingest (queue_full); wait until the summaries account for all of them.
    const notes = async () => (await bifrostMessages(d)).filter((m) => m.title === 'Plugin slow is dropping events');
    const total = (ms: BifrostMessage[]) => ms.reduce((a, m) => a + Object.values(m.data!.dropped as Record<string, number>).reduce((x, y) => x + y, 0), 0);
    const dropped = slow(d).counters.droppedTotal;
    assert.ok(dropped > 0);
    await waitFor('the summaries to add up to the dropped counter', async () => total(await notes()) >= dropped, 5000);
    const span = Date.now() - t0;
    const got = await notes();
    assert.equal(total(got), slow(d).counters.droppedTotal, 'the summaries add up to the dropped counter');
    assert.ok(got.length >= 2 && got.length <= Math.floor(span / 300) + 1, `one summary per 300 ms interval over ${span} ms, got ${got.length}`);
    const times = got.map((m) => Date.parse(m.timestamp));
    for (let i = 1; i < times.length; i++) assert.ok(times[i]! - times[i - 1]! >= 250, `summaries ${times[i]! - times[i - 1]!} ms apart`);
  } finally {
    await d.stop();
  }
});

test('graceful shutdown drains up to the deadline and counts what is left as dropped (shutdown)', async () => {
  const d = await startTestDaemon(
    [pluginYaml(fixturePlugin('slow.mjs'), 'config:\n  delayMs: 20\nqueue:\n  capacity: 200\n  batchSize: 10')],
    'shutdown:\n  drainTimeoutMs: 400',
  );
  d.api.ingest(Array.from({ length: 200 }, () => ({ type: 'node.created' })), 'http');
  const t0 = Date.now();
  await d.stop('test');
  const took = Date.now() - t0;
  const c = slow(d).counters;
  assert.ok(took < 3000, `stop took ${took} ms`);
  assert.equal(c.queued, 0);
  assert.equal(c.received, 200);
  assert.equal(c.delivered + c.droppedTotal, 200);
  assert.ok(c.delivered >= 5, `some were delivered while draining (${c.delivered})`);
  assert.equal(c.dropped.shutdown, c.droppedTotal);
  assert.ok(c.droppedTotal > 0);
  assert.equal(slow(d).state, 'stopped');
  // after stop, new events are refused
  const r = d.api.ingest([{ type: 'node.created' }], 'http');
  assert.equal(r.accepted, 0);
});

test('graceful shutdown with time to spare delivers everything', async () => {
  const d = await startTestDaemon([pluginYaml(fixturePlugin('slow.mjs'), 'config:\n  delayMs: 1\nqueue:\n  capacity: 100')], 'shutdown:\n  drainTimeoutMs: 5000');
  d.api.ingest(Array.from({ length: 100 }, () => ({ type: 'node.created' })), 'http');
  await d.stop('test');
  const c = slow(d).counters;
  assert.equal(c.delivered, 100);
  assert.equal(c.droppedTotal, 0);
});
