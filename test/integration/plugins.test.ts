/**
 * Plugin loading, state, ordering, subscriptions and the self-invoke case, on real worker threads.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pluginYaml, startTestDaemon, waitFor } from '../helpers/in-process-daemon.js';
import { fixturePlugin } from '../helpers/paths.js';

const op = { kind: 'operator' as const };

test('valid, invalid-export and init-failing plugins: the bad ones are failed with a reason, the good ones run', async () => {
  const d = await startTestDaemon([
    pluginYaml(fixturePlugin('recorder.mjs')),
    pluginYaml(fixturePlugin('invalid-export.mjs')),
    pluginYaml(fixturePlugin('init-fails.mjs')),
    pluginYaml(fixturePlugin('does-not-exist.mjs')),
    pluginYaml(fixturePlugin('ts-plugin.ts')),
  ]);
  try {
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
    d.api.ingest([{ type: 'node.created' }], 'http');
    await waitFor('ts-plugin to see the event', async () => (await d.api.invokeAction('heimdall.ts-plugin.last', {}, op)).data?.count === 1);
    const actions = d.api.actions().map((a) => a.name);
    assert.ok(actions.includes('heimdall.recorder.seen'));
    assert.ok(!actions.some((a) => a.startsWith('heimdall.init-fails.')));
  } finally {
    await d.stop();
  }
});

test('state survives from event to event and events arrive in order, each exactly once', async () => {
  const d = await startTestDaemon([pluginYaml(fixturePlugin('recorder.mjs'), 'queue:\n  capacity: 8000')]);
  try {
    const ids: string[] = [];
    for (let batch = 0; batch < 20; batch++) {
      const items = Array.from({ length: 250 }, (_, i) => ({ id: `e-${batch}-${i}`, type: 'node.updated' }));
      ids.push(...items.map((i) => i.id));
      assert.equal(d.api.ingest(items, 'http').accepted, 250);
    }
    await waitFor('all 5000 events delivered', () => d.api.plugins()[0]!.counters.delivered === 5000);
    const r = await d.api.invokeAction('heimdall.recorder.seen', {}, op);
    const seen = (r.data!.events as Array<{ id: string }>).map((e) => e.id);
    assert.deepEqual(seen, ids);
  } finally {
    await d.stop();
  }
});

test('subscriptions filter before enqueueing: only node.* and query.failed reach the filtered plugin', async () => {
  const d = await startTestDaemon([pluginYaml(fixturePlugin('filtered.mjs')), pluginYaml(fixturePlugin('recorder.mjs'))]);
  try {
    d.api.ingest(
      [{ type: 'node.created' }, { type: 'relationship.created' }, { type: 'query.failed' }, { type: 'query.executed' }, { type: 'node.deleted' }, { type: 'transaction.commit' }],
      'http',
    );
    await waitFor('recorder to get all 6', () => d.api.plugins().find((p) => p.name === 'recorder')!.counters.delivered === 6);
    await waitFor('filtered to get 3', () => d.api.plugins().find((p) => p.name === 'filtered')!.counters.delivered === 3);
    const filtered = d.api.plugins().find((p) => p.name === 'filtered')!;
    assert.equal(filtered.counters.received, 3, 'events outside the subscription are not even received');
    const r = await d.api.invokeAction('heimdall.filtered.seen', {}, op);
    assert.deepEqual(r.data!.types, ['node.created', 'node.deleted', 'query.failed']);
  } finally {
    await d.stop();
  }
});

test('a plugin awaiting its own action from onDatabaseEvent does not deadlock', async () => {
  const d = await startTestDaemon([pluginYaml(fixturePlugin('self-invoke.mjs'), 'handlerTimeoutMs: 5000')]);
  try {
    d.api.ingest(Array.from({ length: 20 }, () => ({ type: 'node.created' })), 'http');
    await waitFor('20 self-invoking events handled', () => d.api.plugins()[0]!.counters.delivered === 20, 5000);
    const r = await d.api.invokeAction('heimdall.self-invoke.results', {}, op);
    assert.deepEqual(r.data!.results, Array.from({ length: 20 }, (_, i) => (i + 1) * 2));
    assert.equal(d.api.plugins()[0]!.counters.failed, 0);
  } finally {
    await d.stop();
  }
});

test('ctx services from inside a worker: typed errors for unknown actions, bad params, handler errors; no database; no model', async () => {
  const d = await startTestDaemon([pluginYaml(fixturePlugin('ctx-probe.mjs'))]);
  try {
    const r = await d.api.invokeAction('heimdall.ctx-probe.probe', {}, op);
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
    await waitFor('async result on Bifrost', () => d.internals.bus.since(0).some((m) => m.data?.invocationId === data.asyncId));
    const note = d.internals.bus.since(0).find((m) => m.title === 'Probe')!;
    assert.equal(note.level, 'warning');
    assert.equal(note.origin.plugin, 'ctx-probe');
    assert.equal(typeof note.origin.invocationId, 'string', 'a notification sent from an action carries its invocation id');
    await assert.rejects(d.api.invokeAction('heimdall.ctx-probe.sleepy', {}, op), (e: Error & { code?: string }) => e.code === 'HMD_ERR_ACTION_TIMEOUT');
  } finally {
    await d.stop();
  }
});

test('a plugin config that does not match the plugin configSchema marks the plugin failed with the reason', async () => {
  const d = await startTestDaemon([pluginYaml(fixturePlugin('slow.mjs'), 'config:\n  delayMs: "fast"'), pluginYaml(fixturePlugin('recorder.mjs'))]);
  try {
    const slow = d.api.plugins().find((p) => p.path.endsWith('slow.mjs'))!;
    assert.equal(slow.state, 'failed');
    assert.match(slow.reason!, /config of plugin slow does not match its configSchema: config\.delayMs must be number/);
    assert.equal(d.api.plugins().find((p) => p.name === 'recorder')!.state, 'running');
  } finally {
    await d.stop();
  }
});

test('a plugin that crashes while waiting for a confirmation has its pending request cancelled', async () => {
  const d = await startTestDaemon([pluginYaml(fixturePlugin('confirm-then-crash.mjs'), 'restart:\n  backoffMs: 50')]);
  try {
    await d.api.invokeAction('heimdall.confirm-then-crash.ask', {}, op);
    await waitFor('the pending request', () => d.internals.bifrost.confirmations.list().some((c) => c.state === 'pending'));
    const id = d.internals.bifrost.confirmations.list()[0]!.id;
    await waitFor('the crash and restart', () => d.api.plugins()[0]!.restarts === 1);
    const c = d.internals.bifrost.confirmations.get(id)!;
    assert.equal(c.state, 'cancelled');
    assert.match(c.reason!, /confirm-then-crash crashed/);
  } finally {
    await d.stop();
  }
});
