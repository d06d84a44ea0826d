/** The console's counter history: bounded ring, rates between samples, counter resets, ?since. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MetricsHistory } from '../../daemon/metrics-history.js';
import type { QueueCounters } from '../../daemon/queue/bounded-queue.js';

function counters(c: Partial<QueueCounters>): QueueCounters {
  return { received: 0, delivered: 0, dropped: {}, droppedTotal: 0, failed: 0, queued: 0, inFlight: 0, highWaterMark: 0, capacity: 16, whenFull: 'drop_newest', ...c };
}

describe('MetricsHistory', () => {
  it('keeps windowMs / intervalMs samples, oldest first, and computes per-second rates from the previous sample', () => {
    let now = 1_000_000;
    const state = { delivered: 0, dropped: 0, queued: 0 };
    const h = new MetricsHistory({
      intervalMs: 5000,
      windowMs: 20_000,
      now: () => now,
      plugins: () => [{ name: 'a', counters: counters({ received: state.delivered + state.dropped, delivered: state.delivered, droppedTotal: state.dropped, queued: state.queued }) }],
    });
    assert.equal(h.capacity, 4);
    h.sample();
    for (let i = 1; i <= 5; i++) {
      now += 5000;
      state.delivered += 50 * i;
      state.dropped += 10;
      state.queued = i;
      h.sample();
    }
    const r = h.query();
    assert.equal(r.samples.length, 4);
    assert.deepEqual(r.samples.map((s) => s.t), [1_010_000, 1_015_000, 1_020_000, 1_025_000]);
    const last = r.samples[3]!.plugins['a']!;
    assert.equal(last.deliveredPerS, 50);
    assert.equal(last.droppedPerS, 2);
    assert.equal(last.queued, 5);
    assert.equal(last.dropped, 50);
    assert.deepEqual(h.query(1_015_000).samples.map((s) => s.t), [1_020_000, 1_025_000]);
    assert.deepEqual(h.query(1_025_000).samples, []);
  });

  it('gives a new plugin rate 0 in its first sample and takes a counter that went down as a reset', () => {
    let now = 0;
    let delivered = 100;
    let names = ['a'];
    const h = new MetricsHistory({ intervalMs: 1000, now: () => now, plugins: () => names.map((name) => ({ name, counters: counters({ delivered }) })) });
    h.sample();
    now = 1000;
    names = ['a', 'b'];
    delivered = 20;
    const s = h.sample();
    assert.equal(s.plugins['a']!.deliveredPerS, 20);
    assert.equal(s.plugins['b']!.deliveredPerS, 0);
  });

  it('samples at start and on its timer, and stops', async () => {
    let n = 0;
    const h = new MetricsHistory({ intervalMs: 20, plugins: () => [{ name: 'a', counters: counters({ delivered: n++ }) }] });
    await h.start();
    assert.equal(h.query().samples.length, 1);
    await new Promise((r) => setTimeout(r, 70));
    await h.stop();
    const count = h.query().samples.length;
    assert.ok(count >= 2, `${count} samples after 70 ms at 20 ms`);
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(h.query().samples.length, count);
  });
});
