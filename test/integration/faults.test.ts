/**
 * Fault isolation on real worker threads: a throwing handler, process.exit, an out-of-memory
 * worker and a handler that never returns never stop the daemon or another plugin; crashed plugins
 * restart with backoff and fresh state, and repeated crashes mark a plugin failed.
 */
import { after, before, describe, it, test } from 'node:test';
import assert from 'node:assert/strict';
import type { RunningDaemon } from '../../daemon/daemon.js';
import { pluginYaml, startTestDaemon, waitFor } from '../helpers/in-process-daemon.js';
import { fixturePlugin } from '../helpers/paths.js';
import { bifrostMessages } from '../helpers/public-api.js';

const op = { kind: 'operator' as const };
const plugin = (d: RunningDaemon, name: string) => d.api.plugins().find((p) => p.name === name)!;
const invariant = (d: RunningDaemon) => {
  for (const p of d.api.plugins()) {
    const c = p.counters;
    assert.equal(c.received, c.delivered + c.droppedTotal + c.queued, `invariant broken for ${p.name}: ${JSON.stringify(c)}`);
  }
};

async function withFaulty(extra: string, body: (d: RunningDaemon) => Promise<void>): Promise<void> {
  const d = await startTestDaemon([pluginYaml(fixturePlugin('faulty.mjs'), extra), pluginYaml(fixturePlugin('recorder.mjs'))]);
  try {
    await body(d);
  } finally {
    await d.stop();
  }
}

const counted = (d: RunningDaemon) => {
  const f = plugin(d, 'faulty');
  return { delivered: f.counters.delivered, failed: f.counters.failed, dropped: f.counters.droppedTotal, restarts: f.restarts, recorder: plugin(d, 'recorder').counters.delivered };
};
const handled = async (d: RunningDaemon) => (await d.api.invokeAction('heimdall.faulty.handled', {}, op)).data!.handled as number;
const crashNotices = async (d: RunningDaemon) => (await bifrostMessages(d)).filter((m) => m.title === 'Plugin faulty crashed').length;

/** Two good events, then one that kills the worker and two behind it: compared with what the daemon had counted before. */
async function diesAndRestarts(d: RunningDaemon, fault: string): Promise<void> {
  const before = counted(d);
  const handledBefore = await handled(d);
  const noticesBefore = await crashNotices(d);
  d.api.ingest([{ type: 'node.created' }, { type: 'node.created' }], 'http');
  await waitFor('2 handled before the fault', async () => plugin(d, 'faulty').counters.delivered === before.delivered + 2);
  assert.equal(await handled(d), handledBefore + 2);
  d.api.ingest([{ id: `fatal-${fault}`, type: 'node.created', properties: { fault } }, { id: `after-1-${fault}`, type: 'node.created' }, { id: `after-2-${fault}`, type: 'node.created' }], 'http');
  await waitFor('the plugin to restart', () => plugin(d, 'faulty').restarts === before.restarts + 1 && plugin(d, 'faulty').state === 'running', 15_000);
  await waitFor('the events after the fatal one', () => plugin(d, 'faulty').counters.delivered === before.delivered + 5, 10_000);
  const c = plugin(d, 'faulty').counters;
  assert.equal(c.failed, before.failed + 1, 'the event that killed the worker is counted as failed');
  assert.equal(c.droppedTotal, before.dropped, 'nothing queued behind it was lost');
  assert.equal(await handled(d), 2, 'fresh state: the new worker counted only the two events after the fault');
  // the other plugin saw everything, and the daemon still answers
  await waitFor('recorder to have seen all 5', () => plugin(d, 'recorder').counters.delivered === before.recorder + 5);
  assert.equal(await crashNotices(d), noticesBefore + 1, 'one crash notice on Bifrost');
  invariant(d);
}

// One daemon for the handler that throws and the workers that exit or hang: same plugin config,
// and each test compares with what was counted before it (the crashes add up in the restart
// window, well under maxRestarts).
describe('a throwing handler and workers that exit or hang (one daemon)', () => {
  let d: RunningDaemon;
  before(async () => {
    d = await startTestDaemon([pluginYaml(fixturePlugin('faulty.mjs'), 'restart:\n  backoffMs: 50\nhandlerTimeoutMs: 300'), pluginYaml(fixturePlugin('recorder.mjs'))]);
  });
  after(async () => {
    await d?.stop();
  });

  it('a handler that throws is counted as failed and the next event still arrives', async () => {
    const before = counted(d);
    const handledBefore = await handled(d);
    d.api.ingest([{ type: 'node.created', properties: { fault: 'throw' } }, { type: 'node.created', properties: { fault: 'reject' } }, { type: 'node.created' }], 'http');
    await waitFor('3 delivered', () => plugin(d, 'faulty').counters.delivered === before.delivered + 3);
    assert.equal(plugin(d, 'faulty').counters.failed, before.failed + 2);
    assert.equal(plugin(d, 'faulty').restarts, before.restarts);
    assert.equal(await handled(d), handledBefore + 1);
    invariant(d);
  });

  for (const fault of ['exit', 'hang', 'hang-async']) {
    it(`a worker that dies (${fault}) is restarted with fresh state; the daemon and the other plugin keep working`, () => diesAndRestarts(d, fault));
  }
});

for (const [fault, extra] of [
  ['exit', 'queue:\n  batchSize: 1'],
  ['oom', 'resourceLimits:\n  maxOldGenerationSizeMb: 24\n  maxYoungGenerationSizeMb: 4'],
] as const) {
  test(`a worker that dies (${fault}${extra.includes('batchSize') ? ', one event per batch so two batches are in flight' : ''}) is restarted with fresh state; the daemon and the other plugin keep working`, async () => {
    await withFaulty(`restart:\n  backoffMs: 50\n${extra}`, (d) => diesAndRestarts(d, fault));
  });
}

test('repeated crashes within the window mark the plugin failed; it stays visible and its events are counted as dropped', async () => {
  await withFaulty('restart:\n  maxRestarts: 2\n  windowMs: 60000\n  backoffMs: 20', async (d) => {
    for (let i = 0; i < 3; i++) {
      d.api.ingest([{ type: 'node.created', properties: { fault: 'exit' } }], 'http');
      await waitFor(`crash ${i + 1}`, () => plugin(d, 'faulty').counters.delivered === i + 1, 10_000);
      if (i < 2) await waitFor(`restart ${i + 1}`, () => plugin(d, 'faulty').state === 'running', 10_000);
    }
    await waitFor('failed state', () => plugin(d, 'faulty').state === 'failed');
    const p = plugin(d, 'faulty');
    assert.equal(p.restarts, 2);
    assert.match(p.reason!, /crashed 3 times within 60000 ms/);
    assert.ok(!d.api.actions().some((a) => a.plugin === 'faulty'), 'a failed plugin has no actions registered');
    await assert.rejects(d.api.invokeAction('heimdall.faulty.handled', {}, op), (e: Error & { code?: string }) => e.code === 'HMD_ERR_ACTION_NOT_FOUND');
    d.api.ingest([{ type: 'node.created' }, { type: 'node.created' }], 'http');
    assert.equal(plugin(d, 'faulty').counters.dropped.plugin_failed, 2);
    assert.ok((await bifrostMessages(d)).some((m) => m.title === 'Plugin faulty failed' && m.level === 'error'));
    // Failed for good: listed in the reasons of /readyz, which no longer waits for it.
    assert.equal(d.api.readiness().ready, true);
    assert.ok(d.api.readiness().reasons.some((r) => r.includes('faulty')));
    await waitFor('recorder delivered 5', () => plugin(d, 'recorder').counters.delivered === 5);
    invariant(d);
  });
});

test('restart backoff doubles between crashes', async () => {
  await withFaulty('restart:\n  maxRestarts: 5\n  backoffMs: 200\n  maxBackoffMs: 5000', async (d) => {
    const times: number[] = [];
    for (let i = 0; i < 3; i++) {
      const crashAt = Date.now();
      d.api.ingest([{ type: 'node.created', properties: { fault: 'exit' } }], 'http');
      await waitFor(`restart ${i + 1}`, () => plugin(d, 'faulty').restarts === i + 1 && plugin(d, 'faulty').state === 'running', 10_000);
      times.push(Date.now() - crashAt);
    }
    assert.ok(times[0]! >= 200, `first restart after >= 200 ms, took ${times[0]}`);
    assert.ok(times[1]! >= 400, `second restart after >= 400 ms, took ${times[1]}`);
    assert.ok(times[2]! >= 800, `third restart after >= 800 ms, took ${times[2]}`);
  });
});
