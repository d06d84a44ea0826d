/**
 * PluginHost alone, on a fake worker pool: dispatch in batches, crash accounting from the progress
 * buffer (what finished is delivered, the running event failed, the rest requeued at the head and
 * sent again to the restarted worker), the crash window on an injected clock, markFailed, and the
 * watchdog. No threads, no sleeps: the test waits for the host's own lifecycle hooks.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import type { PluginConfig } from '../../config/types.js';
import { PluginHost, type PluginHostHooks } from '../../daemon/workers/plugin-host.js';
import { FakePools, events, pluginConfig, recordingLogger } from '../helpers/fake-worker-pool.js';

type Lifecycle = { what: 'crashed' | 'restarted' | 'failed'; reason: string };

/** Every host a test built; stopped after each test so a failed assertion cannot leave a port open. */
const built: PluginHost[] = [];
afterEach(async () => {
  for (const h of built.splice(0)) await h.stop(Date.now() + 100);
});

function harness(cfg: PluginConfig = pluginConfig(), now?: () => number) {
  const pools = new FakePools();
  const { log, lines } = recordingLogger();
  const seen: Lifecycle[] = [];
  const waiters: Array<{ what: Lifecycle['what']; resolve: () => void; reject: (e: Error) => void }> = [];
  const ready: string[] = [];
  const unavailable: string[] = [];
  const hooks: PluginHostHooks = {
    onReady: (h) => void ready.push(h.name),
    onUnavailable: (h) => void unavailable.push(h.name),
    onLifecycle: (_h, what, reason) => {
      seen.push({ what, reason });
      for (const w of waiters.splice(0)) {
        if (w.what === what) w.resolve();
        else if (what === 'failed') w.reject(new Error(`The plugin was marked failed (${reason}) while the test waited for "${w.what}".`));
        else waiters.push(w);
      }
    },
  };
  const host = new PluginHost('fake', '/plugins/fake.mjs', cfg, log, () => async () => undefined, hooks, { createPool: pools.factory, ...(now ? { now } : {}) });
  built.push(host);
  /** Resolves at the next lifecycle hook `what`; rejects if the plugin is marked failed first. */
  const next = (what: Lifecycle['what']) => new Promise<void>((resolve, reject) => waiters.push({ what, resolve, reject }));
  return { host, pools, lines, seen, next, ready, unavailable };
}

const ids = (evs: ReadonlyArray<{ id: string }>) => evs.map((e) => e.id);

describe('PluginHost', { timeout: 10_000 }, () => {
  it('sends batches of batchSize with at most two in flight, and settles each answer', async () => {
    const { host, pools } = harness();
    // queued while the plugin starts, dispatched once it runs
    for (const e of events(8)) host.offer(e);
    await host.start();
    assert.equal(host.state, 'running');
    const pool = pools.current;
    assert.deepEqual(pool.sent.map(ids), [['e0', 'e1', 'e2'], ['e3', 'e4', 'e5']], 'two batches of three are in flight');
    assert.equal(host.queue.waiting, 2);
    pool.answer(1);
    await Promise.resolve();
    await Promise.resolve();
    assert.deepEqual(ids(pool.sent[2]!), ['e6', 'e7'], 'the answer frees a slot for the next batch');
    pool.answer();
    pool.answer();
    await host.stop(Date.now() + 1000);
    const c = host.queue.counters();
    assert.deepEqual([c.received, c.delivered, c.failed, c.queued, c.droppedTotal], [8, 8, 1, 0, 0]);
  });

  it('after a crash in a handler: finished events are delivered, the running one failed, the rest requeued at the head and sent to the restarted worker', async () => {
    const { host, pools, lines, seen, next } = harness();
    for (const e of events(7)) host.offer(e);
    await host.start();
    const first = pools.current;
    // the worker finished e0 (threw) and e1, and died inside the handler of e2; e3..e5 never ran, e6 waits
    first.setProgress({ seq: 1, completed: 2, failed: 1, handlerStartedAt: Date.now() });
    const restarted = next('restarted');
    first.crash(new Error('out of memory'));
    const c = host.queue.counters();
    assert.deepEqual({ delivered: c.delivered, failed: c.failed, queued: c.queued, inFlight: c.inFlight }, { delivered: 3, failed: 2, queued: 4, inFlight: 0 });
    assert.equal(c.received, c.delivered + c.droppedTotal + c.queued);
    assert.equal(host.state, 'restarting');
    assert.ok(first.destroyed, 'the dead worker is torn down');
    assert.ok(lines.some((l) => l.msg.includes('lost event e2') && l.msg.includes('out of memory')), 'the lost event is logged with the reason');
    assert.match(seen[0]!.reason, /out of memory/);
    await restarted;
    const second = pools.current;
    assert.notEqual(second, first);
    assert.equal(host.restarts, 1);
    assert.deepEqual(second.sent.map(ids), [['e3', 'e4', 'e5'], ['e6']], 'the requeued events come first, in their order');
    second.answer();
    second.answer();
    await host.stop(Date.now() + 1000);
    const end = host.queue.counters();
    assert.deepEqual([end.received, end.delivered, end.failed, end.queued], [7, 7, 2, 0]);
  });

  it('after a crash between handlers and in the second batch: earlier batches count as delivered, nothing is counted failed that did not run, and the suspects go one at a time', async () => {
    const { host, pools, next } = harness();
    for (const e of events(6)) host.offer(e);
    await host.start();
    // batch 1 done; of batch 2 the worker finished e3 and died before starting e4
    pools.current.setProgress({ seq: 2, completed: 1, failed: 0, handlerStartedAt: 0 });
    const restarted = next('restarted');
    pools.current.crash(new Error('the worker exited'));
    const c = host.queue.counters();
    assert.deepEqual({ delivered: c.delivered, failed: c.failed, queued: c.queued }, { delivered: 4, failed: 0, queued: 2 });
    await restarted;
    // No handler was running, so either of e4 and e5 may have taken the worker down: each goes alone.
    assert.deepEqual(pools.current.sent.map(ids), [['e4']]);
    pools.current.answer();
    await Promise.resolve();
    await Promise.resolve();
    assert.deepEqual(pools.current.sent.map(ids), [['e4'], ['e5']]);
    pools.current.answer();
    await host.stop(Date.now() + 1000);
  });

  it('counts crashes inside restart.windowMs on its clock: an old crash does not count, the next one in the window marks the plugin failed', async () => {
    let now = 1_000_000;
    const { host, pools, seen, next, unavailable } = harness(pluginConfig({ restart: { maxRestarts: 1, windowMs: 1000 } }), () => now);
    await host.start();
    let restarted = next('restarted');
    pools.current.crash(new Error('first'));
    await restarted;
    now += 5000; // outside the window: the first crash no longer counts
    restarted = next('restarted');
    pools.current.crash(new Error('second'));
    await restarted;
    assert.equal(host.state, 'running');
    for (const e of events(4)) host.offer(e);
    now += 100; // inside the window of the second crash
    pools.current.setProgress({ seq: 1, completed: 0 });
    pools.current.crash(new Error('third'));
    assert.equal(host.state, 'failed');
    assert.match(host.reason ?? '', /crashed 2 times within 1000 ms; last: its worker thread failed: third/);
    assert.deepEqual(seen.map((s) => s.what), ['crashed', 'restarted', 'crashed', 'restarted', 'crashed', 'failed']);
    const c = host.queue.counters();
    assert.deepEqual(c.dropped, { plugin_failed: 4 }, 'its queue is dropped as plugin_failed');
    host.offer(events(1, 10)[0]!);
    assert.equal(host.queue.counters().dropped.plugin_failed, 5, 'new events are counted as dropped');
    assert.equal(c.received + 1, host.queue.counters().received);
    assert.ok(unavailable.length >= 3, 'its actions are withdrawn at every crash');
    assert.equal(pools.pools.length, 3, 'no fourth worker is started');
    await host.stop(Date.now() + 1000);
    assert.equal(host.state, 'failed', 'a failed plugin stays failed through stop');
  });

  it('markFailed before start: no worker, the reason is logged and shown, events are counted as dropped', async () => {
    const { host, pools, lines } = harness();
    host.markFailed('The plugin path plugins/nope does not exist (resolved to /x/plugins/nope); fix plugins[].path in the config.');
    assert.equal(host.state, 'failed');
    assert.equal(host.status().reason, 'The plugin path plugins/nope does not exist (resolved to /x/plugins/nope); fix plugins[].path in the config.');
    assert.ok(lines.some((l) => l.level === 50 && l.msg.startsWith('The plugin at /plugins/fake.mjs is marked failed: The plugin path plugins/nope')));
    for (const e of events(3)) host.offer(e);
    assert.deepEqual(host.queue.counters().dropped, { plugin_failed: 3 });
    await assert.rejects(host.invoke('x', {}, 'inv-1', { kind: 'operator' }, 1000), /is failed; its action x cannot run now/);
    assert.equal(pools.pools.length, 0);
    await host.stop(Date.now() + 1000);
  });

  it('the watchdog terminates a handler that runs past handlerTimeoutMs on its clock, which takes the crash path', async () => {
    let now = 5_000;
    const { host, pools, next } = harness(pluginConfig({ handlerTimeoutMs: 40 }), () => now);
    for (const e of events(2)) host.offer(e);
    await host.start();
    const first = pools.current;
    first.setProgress({ seq: 1, completed: 0, handlerStartedAt: now });
    const crashed = next('crashed');
    now += 41;
    await crashed;
    assert.ok(first.destroyed);
    const c = host.queue.counters();
    assert.deepEqual({ delivered: c.delivered, failed: c.failed, queued: c.queued }, { delivered: 1, failed: 1, queued: 1 });
    await next('restarted');
    assert.deepEqual(pools.current.sent.map(ids), [['e1']]);
    pools.current.answer();
    await host.stop(Date.now() + 1000);
  });

  it('restart lets the batches in flight finish, calls stop(), and starts a fresh worker with the new entry; the queue keeps its events and counters', async () => {
    const { host, pools, seen, ready } = harness();
    for (const e of events(8)) host.offer(e);
    await host.start();
    const first = pools.current;
    const restarting = host.restart('asked by the test', { cfg: pluginConfig({ config: { tag: 'v2' }, queue: { batchSize: 2, capacity: 50 } }), modulePath: '/plugins/fake-v2.mjs' });
    await new Promise((r) => setImmediate(r));
    assert.equal(host.state, 'restarting');
    host.offer(events(1, 8)[0]!);
    assert.equal(first.sent.length, 2, 'nothing more is sent to the worker that is going');
    first.answer();
    first.answer();
    await restarting;
    assert.equal(first.stops, 1, "the plugin's stop() ran before its worker went");
    assert.ok(first.destroyed);
    const second = pools.current;
    assert.notEqual(second, first);
    assert.deepEqual(second.sent.map(ids), [['e6', 'e7'], ['e8']], 'what waited goes to the new worker, in order, in the new batch size');
    assert.deepEqual([host.state, host.restarts, host.modulePath, host.cfg.config], ['running', 1, '/plugins/fake-v2.mjs', { tag: 'v2' }]);
    assert.deepEqual(seen.map((x) => x.what), ['restarted']);
    assert.deepEqual(ready, ['fake', 'fake']);
    const c = host.queue.counters();
    assert.deepEqual([c.received, c.delivered, c.queued, c.droppedTotal, c.capacity], [9, 6, 3, 0, 50]);
    second.answer();
    second.answer();
    await host.stop(Date.now() + 1000);
  });

  it('a batch still running at the restart deadline is settled as after a crash: what finished is delivered, the running event failed, the rest goes to the new worker', async () => {
    const { host, pools, lines } = harness();
    for (const e of events(3)) host.offer(e);
    await host.start();
    const first = pools.current;
    first.setProgress({ seq: 1, completed: 1, handlerStartedAt: Date.now() });
    await host.restart('the test cannot wait', {}, Date.now());
    assert.equal(first.stops, 1);
    assert.deepEqual(pools.current.sent.map(ids), [['e2']]);
    const c = host.queue.counters();
    assert.deepEqual({ delivered: c.delivered, failed: c.failed, queued: c.queued }, { delivered: 2, failed: 1, queued: 1 });
    assert.ok(lines.some((l) => l.msg.includes('was still handling event e1 when it had to restart')));
    pools.current.answer();
    await host.stop(Date.now() + 1000);
  });

  it('pause holds delivery (events queue up to capacity, then are dropped with reason paused), survives a restart, and resume delivers in order; a stop drains a paused plugin', async () => {
    const { host, pools } = harness(pluginConfig({ queue: { capacity: 4 } }));
    await host.start();
    assert.equal(host.pause(), true);
    assert.equal(host.pause(), false, 'paused already');
    assert.equal(host.state, 'paused');
    assert.equal(host.status().state, 'paused');
    for (const e of events(6)) host.offer(e);
    assert.deepEqual([host.queue.queued, host.queue.counters().dropped], [4, { paused: 2 }]);
    assert.equal(pools.current.sent.length, 0);
    await host.restart('restarted while paused');
    assert.equal(host.state, 'paused', 'a restart keeps the pause');
    assert.equal(pools.current.sent.length, 0);
    assert.equal(host.resume(), true);
    assert.equal(host.resume(), false);
    assert.equal(host.state, 'running');
    assert.deepEqual(pools.current.sent.map(ids), [['e0', 'e1', 'e2'], ['e3']]);
    pools.current.answer();
    pools.current.answer();
    await new Promise((r) => setImmediate(r));
    host.pause();
    for (const e of events(2, 6)) host.offer(e);
    const stopping = host.stop(Date.now() + 5000);
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(ids(pools.current.sent.at(-1)!), ['e6', 'e7'], 'stopping delivers what waits');
    pools.current.answer();
    assert.deepEqual(await stopping, { leftOver: 0 });
    assert.equal(host.queue.counters().delivered, 6);
  });

  it('restart starts a failed plugin afresh; restart after stop is refused', async () => {
    const { host, pools } = harness();
    host.markFailed('The module was missing.');
    await host.restart('the module is back');
    assert.deepEqual([host.state, pools.pools.length], ['running', 1]);
    await host.stop(Date.now() + 1000);
    await assert.rejects(host.restart('too late'), /is stopped, so it cannot be restarted/);
  });
});
