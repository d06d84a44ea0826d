/**
 * Plugin loading, state, ordering, subscriptions and the self-invoke case, on real worker threads.
 *
 * Two daemons. One holds every plugin whose test is about loading, actions or its own lifecycle
 * (good, invalid, failing and missing modules, a config that does not match its schema, the ctx
 * services probe, a self-invoking handler, a plugin that crashes while it waits for a
 * confirmation); the other the plugins of the ordering and subscription tests, which flood it
 * with events. A test that sends events reads what it caused relative to what came before.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { FakeClock } from '../helpers/fake-clock.js';
import { pluginYaml, startTestDaemon, waitFor, type TestDaemon } from '../helpers/in-process-daemon.js';
import { fixturePlugin } from '../helpers/paths.js';
import { bifrostMessages, confirmation, untilQueuesEmpty, waitForConfirmation } from '../helpers/public-api.js';

const op = { kind: 'operator' as const };
const plugin = (d: TestDaemon, name: string) => d.api.plugins().find((p) => p.name === name)!;

describe('loading, actions and lifecycle (one daemon, Bifrost on a fake clock)', () => {
  let d: TestDaemon;
  const clock = new FakeClock();
  before(async () => {
    d = await startTestDaemon([
      pluginYaml(fixturePlugin('recorder.mjs')),
      pluginYaml(fixturePlugin('invalid-export.mjs')),
      pluginYaml(fixturePlugin('init-fails.mjs')),
      pluginYaml(fixturePlugin('does-not-exist.mjs')),
      pluginYaml(fixturePlugin('ts-plugin.ts')),
      pluginYaml(fixturePlugin('slow.mjs'), 'config:\n  delayMs: "fast"'),
      pluginYaml(fixturePlugin('self-invoke.mjs'), 'handlerTimeoutMs: 5000'),
      pluginYaml(fixturePlugin('ctx-probe.mjs')),
      pluginYaml(fixturePlugin('confirm-then-crash.mjs'), 'restart:\n  backoffMs: 50'),
    ], '', { clock });
  });
  after(async () => {
    await d?.stop();
  });

  it('valid, invalid-export and init-failing plugins: the bad ones are failed with a reason, the good ones run', async () => {
    const byPath = new Map(d.api.plugins().map((p) => [p.path.split('/').pop(), p]));
    assert.equal(byPath.get('recorder.mjs')?.state, 'running');
    assert.equal(byPath.get('ts-plugin.ts')?.state, 'running');
    assert.equal(byPath.get('ts-plugin.ts')?.name, 'ts-plugin');
    const inv = byPath.get('invalid-export.mjs')!;
    assert.equal(inv.state, 'failed');
    assert.match(inv.reason!, /name must be a string matching/);
    assert.match(inv.reason!, /onDatabaseEvent must be a function/);
    const initFails = byPath.get('init-fails.mjs')!;
    assert.equal(initFails.state, 'failed');
    assert.match(initFails.reason!, /failed in init\(\): the plugin cannot reach its upstream/);
    assert.match(byPath.get('does-not-exist.mjs')!.reason!, /does not exist/);
    // Plugins failed for good are listed in the reasons but do not keep the daemon unready.
    assert.equal(d.api.readiness().ready, true);
    assert.ok(d.api.readiness().reasons.some((r) => r.includes('init-fails')));
    // the good plugins still work
    const before = (await d.api.invokeAction('heimdall.ts-plugin.last', {}, op)).data?.count as number;
    d.api.ingest([{ type: 'node.created' }], 'http');
    await waitFor('ts-plugin to see the event', async () => (await d.api.invokeAction('heimdall.ts-plugin.last', {}, op)).data?.count === before + 1);
    const actions = d.api.actions().map((a) => a.name);
    assert.ok(actions.includes('heimdall.recorder.seen'));
    assert.ok(!actions.some((a) => a.startsWith('heimdall.init-fails.')));
  });

  it('a plugin config that does not match the plugin configSchema marks the plugin failed with the reason', async () => {
    const slow = d.api.plugins().find((p) => p.path.endsWith('slow.mjs'))!;
    assert.equal(slow.state, 'failed');
    assert.match(slow.reason!, /config of plugin slow does not match its configSchema: config\.delayMs must be number/);
    assert.equal(plugin(d, 'recorder').state, 'running');
  });

  it('a plugin awaiting its own action from onDatabaseEvent does not deadlock', async () => {
    await untilQueuesEmpty(d);
    const results = async () => (await d.api.invokeAction('heimdall.self-invoke.results', {}, op)).data!.results as number[];
    const earlier = await results();
    const delivered = plugin(d, 'self-invoke').counters.delivered;
    d.api.ingest(Array.from({ length: 20 }, () => ({ type: 'node.created' })), 'http');
    await waitFor('20 self-invoking events handled', () => plugin(d, 'self-invoke').counters.delivered === delivered + 20, 5000);
    // each event's handler got the answer of its own action: n = its position, doubled
    assert.deepEqual(await results(), [...earlier, ...Array.from({ length: 20 }, (_, i) => (earlier.length + i + 1) * 2)]);
    assert.equal(plugin(d, 'self-invoke').counters.failed, 0);
  });

  it('ctx services from inside a worker: typed errors for unknown actions, bad params, handler errors; no database; no model', async () => {
    const probing = d.api.invokeAction('heimdall.ctx-probe.probe', {}, op);
    // The probe asks for a confirmation with a 100 ms deadline; nobody answers, and the deadline
    // passes when the test moves Bifrost's clock.
    const asked = await waitForConfirmation(d, "ctx-probe's confirmation request", (c) => c.requestedBy === 'ctx-probe');
    assert.equal(asked.timeoutMs, 100);
    clock.advance(100);
    const r = await probing;
    const data = r.data as Record<string, any>;
    assert.equal(data.database.code, 'HMD_ERR_NO_DATABASE');
    assert.equal(data.database.name, 'DatabaseNotConfiguredError');
    assert.equal(data.prompt.success, false);
    assert.match(data.prompt.message, /No language model is configured/);
    assert.equal(data.unknown.code, 'HMD_ERR_ACTION_NOT_FOUND');
    assert.match(data.unknown.message, /Did you mean heimdall\.ctx-probe\.noop/);
    assert.equal(data.badParams.code, 'HMD_ERR_INVALID_PARAMS');
    assert.equal(data.boom.code, 'HMD_ERR_ACTION_FAILED');
    assert.match(data.boom.message, /kaboom/);
    assert.equal(data.confirmed, false);
    assert.equal(typeof data.asyncId, 'string');
    await waitFor('async result on Bifrost', async () => (await bifrostMessages(d)).some((m) => m.data?.invocationId === data.asyncId));
    const note = (await bifrostMessages(d)).find((m) => m.title === 'Probe')!;
    assert.equal(note.level, 'warning');
    assert.equal(note.origin.plugin, 'ctx-probe');
    assert.equal(typeof note.origin.invocationId, 'string', 'a notification sent from an action carries its invocation id');
    await assert.rejects(d.api.invokeAction('heimdall.ctx-probe.sleepy', {}, op), (e: Error & { code?: string }) => e.code === 'HMD_ERR_ACTION_TIMEOUT');
  });

  it('a plugin that crashes while waiting for a confirmation has its pending request cancelled', async () => {
    const restarts = plugin(d, 'confirm-then-crash').restarts;
    await d.api.invokeAction('heimdall.confirm-then-crash.ask', {}, op);
    const { id } = await waitForConfirmation(d, 'the pending request', (c) => c.requestedBy === 'confirm-then-crash');
    await waitFor('the crash and restart', () => plugin(d, 'confirm-then-crash').restarts === restarts + 1);
    const c = await confirmation(d, id);
    assert.equal(c.state, 'cancelled');
    assert.match(c.reason!, /confirm-then-crash crashed/);
  });
});

describe('ordering and subscriptions (one daemon)', () => {
  let d: TestDaemon;
  before(async () => {
    d = await startTestDaemon([pluginYaml(fixturePlugin('recorder.mjs'), 'queue:\n  capacity: 8000'), pluginYaml(fixturePlugin('filtered.mjs'))]);
  });
  after(async () => {
    await d?.stop();
  });

  // The first test of this daemon: filtered.seen reports every type since its worker started.
  it('subscriptions filter before enqueueing: only node.* and query.failed reach the filtered plugin', async () => {
    d.api.ingest(
      [{ type: 'node.created' }, { type: 'relationship.created' }, { type: 'query.failed' }, { type: 'query.executed' }, { type: 'node.deleted' }, { type: 'transaction.commit' }],
      'http',
    );
    await waitFor('recorder to get all 6', () => plugin(d, 'recorder').counters.delivered === 6);
    await waitFor('filtered to get 3', () => plugin(d, 'filtered').counters.delivered === 3);
    assert.equal(plugin(d, 'filtered').counters.received, 3, 'events outside the subscription are not even received');
    const r = await d.api.invokeAction('heimdall.filtered.seen', {}, op);
    assert.deepEqual(r.data!.types, ['node.created', 'node.deleted', 'query.failed']);
  });

  it('state survives from event to event and events arrive in order, each exactly once', async () => {
    await untilQueuesEmpty(d);
    const seen = async () => ((await d.api.invokeAction('heimdall.recorder.seen', {}, op)).data!.events as Array<{ id: string }>).map((e) => e.id);
    const earlier = await seen();
    const delivered = plugin(d, 'recorder').counters.delivered;
    const ids: string[] = [];
    for (let batch = 0; batch < 20; batch++) {
      const items = Array.from({ length: 250 }, (_, i) => ({ id: `e-${batch}-${i}`, type: 'node.updated' }));
      ids.push(...items.map((i) => i.id));
      assert.equal(d.api.ingest(items, 'http').accepted, 250);
    }
    await waitFor('all 5000 events delivered', () => plugin(d, 'recorder').counters.delivered === delivered + 5000);
    assert.deepEqual(await seen(), [...earlier, ...ids]);
  });
});
