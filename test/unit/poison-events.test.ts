/**
 * Poison events on a PluginHost with a fake worker pool (no threads, no sleeps: the tests wait for
 * the host's own lifecycle hooks): a batch whose task fails before it starts (as when an event
 * cannot be cloned into the worker) is delivered once more and then quarantined, so the plugin
 * keeps running; several suspects go one at a time; a handler that takes the worker down
 * quarantines its event at once; one event counts as one cause in the crash window; a retry is a
 * new receive at the head of the queue; and the counters' invariant holds throughout.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import type { PluginConfig } from '../../config/types.js';
import type { DatabaseEvent } from '../../sdk/index.js';
import { PluginHost, type PluginHostHooks } from '../../daemon/workers/plugin-host.js';
import { Quarantine } from '../../daemon/workers/quarantine.js';
import { FakePools, events, pluginConfig, recordingLogger } from '../helpers/fake-worker-pool.js';

const built: PluginHost[] = [];
afterEach(async () => {
  for (const h of built.splice(0)) await h.stop(Date.now() + 100);
});

function harness(cfg: PluginConfig = pluginConfig()) {
  const pools = new FakePools();
  const { log, lines } = recordingLogger();
  const quarantine = new Quarantine({ size: 10, maxBytes: 1 << 20, eventLimits: { maxDepth: 64, maxBytes: 1 << 20 } });
  const quarantined: string[] = [];
  let waiter: { what: string; resolve: () => void } | undefined;
  const hooks: PluginHostHooks = {
    onReady: () => undefined,
    onUnavailable: () => undefined,
    onLifecycle: (_h, what) => {
      if (waiter?.what === what) {
        const w = waiter;
        waiter = undefined;
        w.resolve();
      }
    },
    onQuarantined: (_h, qid) => void quarantined.push(qid),
  };
  const host = new PluginHost('fake', '/plugins/fake.mjs', cfg, log, () => async () => undefined, hooks, { createPool: pools.factory, quarantine });
  built.push(host);
  const next = (what: 'crashed' | 'restarted' | 'failed') => new Promise<void>((resolve) => (waiter = { what, resolve }));
  const invariant = () => {
    const c = host.queue.counters();
    assert.equal(c.received, c.delivered + c.droppedTotal + c.queued, JSON.stringify(c));
  };
  return { host, pools, lines, quarantine, quarantined, next, invariant };
}

const ids = (evs: ReadonlyArray<{ id: string }>) => evs.map((e) => e.id);
/** The sequence number of the oldest batch the pool has open (batch numbers go on across restarts). */
const openSeq = (pools: FakePools) => pools.current.open[0]!.seq;
const microtasks = async () => {
  for (let i = 0; i < 5; i++) await Promise.resolve();
};

describe('poison events', { timeout: 10_000 }, () => {
  it('a batch that fails before it starts, twice in a row, quarantines its event; the plugin keeps running and the events behind it arrive', async () => {
    const { host, pools, quarantine, quarantined, next, invariant, lines } = harness(pluginConfig({ queue: { batchSize: 1 }, restart: { maxRestarts: 1 } }));
    await host.start();
    const [poison, after] = events(2);
    host.offer(poison!);
    host.offer(after!);
    // The task of the batch holding `poison` fails without the worker having started it.
    let restarted = next('restarted');
    pools.current.open[0]!.reject(new RangeError('Maximum call stack size exceeded'));
    await restarted;
    invariant();
    assert.equal(host.queue.counters().queued, 2, 'first crash: the suspect is delivered again');
    assert.deepEqual(pools.current.sent.map(ids), [['e0']], 'alone');
    assert.ok(lines.some((l) => /went down while event e0 was next in line/.test(l.msg)));
    restarted = next('restarted');
    pools.current.open[0]!.reject(new RangeError('Maximum call stack size exceeded'));
    await restarted;
    assert.equal(host.state, 'running', 'one poison event, two crashes, maxRestarts 1: still running');
    assert.deepEqual(quarantined, ['q1']);
    const [entry] = quarantine.list();
    assert.deepEqual({ plugin: entry!.plugin, eventId: entry!.eventId, attempts: entry!.attempts }, { plugin: 'fake', eventId: 'e0', attempts: 2 });
    assert.match(entry!.error, /Maximum call stack size exceeded/);
    const c = host.queue.counters();
    assert.deepEqual({ delivered: c.delivered, failed: c.failed, queued: c.queued }, { delivered: 1, failed: 1, queued: 1 }, 'quarantined = delivered and failed');
    invariant();
    assert.deepEqual(pools.current.sent.map(ids), [['e1']]);
    pools.current.answer();
    await microtasks();
    assert.deepEqual(host.status().quarantined, 1);
    invariant();
  });

  it('several suspects go to the restarted worker one at a time; the one that crashes it alone again is quarantined, and the crash window counts one cause', async () => {
    const { host, pools, quarantine, next, invariant } = harness(pluginConfig({ queue: { batchSize: 3 }, restart: { maxRestarts: 1 } }));
    for (const e of events(3)) host.offer(e);
    await host.start();
    assert.deepEqual(pools.current.sent.map(ids), [['e0', 'e1', 'e2']]);
    pools.current.setProgress({ seq: openSeq(pools), completed: 0 });
    let restarted = next('restarted');
    pools.current.crash(new Error('the worker exited'));
    await restarted;
    assert.deepEqual(pools.current.sent.map(ids), [['e0']]);
    pools.current.answer();
    await microtasks();
    assert.deepEqual(pools.current.sent.map(ids), [['e0'], ['e1']]);
    // e1 takes the worker down on its own: the second crash it is in, so it is quarantined.
    pools.current.setProgress({ seq: openSeq(pools), completed: 0 });
    restarted = next('restarted');
    pools.current.crash(new Error('the worker exited again'));
    await restarted;
    assert.equal(host.state, 'running', 'both crashes were e1: one cause, within maxRestarts 1');
    assert.deepEqual(quarantine.list().map((q) => [q.eventId, q.attempts]), [['e1', 2]]);
    assert.deepEqual(pools.current.sent.map(ids), [['e2']]);
    pools.current.answer();
    await microtasks();
    const c = host.queue.counters();
    assert.deepEqual({ received: c.received, delivered: c.delivered, failed: c.failed, queued: c.queued }, { received: 3, delivered: 3, failed: 1, queued: 0 });
    invariant();
  });

  it('a handler that takes the worker down quarantines its event at once; a retry puts it back at the head as a new receive', async () => {
    const { host, pools, quarantine, next, invariant } = harness();
    for (const e of events(3)) host.offer(e);
    await host.start();
    pools.current.setProgress({ seq: openSeq(pools), completed: 1, handlerStartedAt: Date.now() });
    const restarted = next('restarted');
    pools.current.crash(new Error('process.exit(7)'));
    await restarted;
    const [entry] = quarantine.list();
    assert.deepEqual([entry!.eventId, entry!.attempts], ['e1', 1]);
    assert.deepEqual(pools.current.sent.map(ids), [['e2']]);
    pools.current.answer();
    await microtasks();
    invariant();
    const held = quarantine.get(entry!.id)!;
    host.retry(held.event as DatabaseEvent);
    quarantine.remove(entry!.id);
    assert.deepEqual(pools.current.sent.map(ids), [['e2'], ['e1']], 'the retried event goes out next');
    assert.equal(host.queue.counters().received, 4, 'a retry is a new receive');
    invariant();
    pools.current.answer();
    await microtasks();
    const c = host.queue.counters();
    assert.deepEqual({ received: c.received, delivered: c.delivered, failed: c.failed, queued: c.queued }, { received: 4, delivered: 4, failed: 1, queued: 0 });
    assert.deepEqual(quarantine.stats().retried, 1);
  });

  it('distinct events that crash the worker still mark a plugin failed past maxRestarts', async () => {
    const { host, pools, next } = harness(pluginConfig({ queue: { batchSize: 1 }, restart: { maxRestarts: 1 } }));
    await host.start();
    for (const e of events(3)) host.offer(e);
    pools.current.setProgress({ seq: openSeq(pools), completed: 0, handlerStartedAt: Date.now() });
    const restarted = next('restarted');
    pools.current.crash(new Error('boom e0'));
    await restarted;
    pools.current.setProgress({ seq: openSeq(pools), completed: 0, handlerStartedAt: Date.now() });
    const failed = next('failed');
    pools.current.crash(new Error('boom e1'));
    await failed;
    assert.equal(host.state, 'failed');
    assert.match(host.reason!, /crashed 2 times/);
  });

  it('the quarantine is bounded by count and bytes, evicting the oldest', () => {
    const q = new Quarantine({ size: 2, maxBytes: 1 << 20, eventLimits: { maxDepth: 64, maxBytes: 1 << 20 } });
    for (const e of events(3)) q.add('p', e, 'why', 1);
    assert.deepEqual(q.list().map((x) => x.eventId), ['e1', 'e2']);
    assert.equal(q.stats().evicted, 1);
    const small = new Quarantine({ size: 10, maxBytes: 300, eventLimits: { maxDepth: 64, maxBytes: 1 << 20 } });
    for (const e of events(3)) small.add('p', e, 'why', 1);
    assert.ok(small.stats().bytes <= 300);
    assert.ok(small.size < 3);
  });
});
