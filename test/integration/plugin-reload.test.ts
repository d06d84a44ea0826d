/**
 * Reload applies plugins[] without a restart (an in-process daemon started from a config file,
 * real worker threads, real HTTP): an added plugin starts, a removed one drains and stops and
 * leaves the actions and metrics, a changed one restarts with fresh state and keeps its queue, and
 * an unchanged one keeps running with its queue (events held in its handler and waiting behind it
 * are all delivered, in order, after the reload). A new config whose plugins do not load or do not
 * match their configSchema is refused with its problems, and the running plugins stay.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../helpers/daemon-process.js';
import { waitFor } from '../helpers/in-process-daemon.js';
import { entryYaml, numbered, writeGatedPlugin, type Seen } from '../helpers/plugin-files.js';
import { startFileDaemon, type FileDaemon } from '../helpers/rules-daemon.js';

const counters = (f: FileDaemon, name: string) => {
  const p = f.d.api.plugins().find((x) => x.name === name);
  assert.ok(p, `the plugin ${name} is listed`);
  return p.counters;
};
const status = (f: FileDaemon, name: string) => f.d.api.plugins().find((x) => x.name === name);
const seen = async (f: FileDaemon, name: string): Promise<Seen> => {
  const r = await f.http('POST', `/v1/actions/heimdall.${name}.seen/invoke`, {});
  assert.equal(r.body.success, true, JSON.stringify(r.body));
  return r.body.data as Seen;
};
const ns = (s: Seen) => s.seen.map((x) => x.n);
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

test('a reload starts added plugins, stops removed ones, restarts changed ones with their queue and leaves unchanged ones running with theirs', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'heimdall-plugin-reload-'));
  const file = (name: string) => writeGatedPlugin(dir, name);
  const [keep, change, remove, add] = ['keep', 'change', 'remove', 'add'].map(file) as [string, string, string, string];
  const f = await startFileDaemon(`plugins:\n${entryYaml(keep, { hold: true, tag: 'k' })}${entryYaml(change, { tag: 'v1' })}${entryYaml(remove, { tag: 'r' })}`);
  try {
    // `change` is paused, so its events wait in its queue with none in flight
    assert.equal((await f.http('POST', '/v1/plugins/change/pause')).status, 200);
    const keepBefore = await seen(f, 'keep');
    const changeBefore = await seen(f, 'change');
    await f.http('POST', '/v1/events', numbered(1, 10));
    await waitFor('keep to hold its events, change to queue them and remove to handle them', () => {
      const k = counters(f, 'keep');
      const c = counters(f, 'change');
      return k.received === 10 && k.inFlight > 0 && c.queued === 10 && counters(f, 'remove').delivered === 10;
    });
    assert.equal(counters(f, 'keep').delivered, 0, 'keep holds the first event in its handler');

    f.write(`plugins:\n${entryYaml(keep, { hold: true, tag: 'k' })}${entryYaml(change, { tag: 'v2' })}${entryYaml(add, { tag: 'a' })}`);
    const r = await f.http('POST', '/v1/reload');
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.deepEqual(r.body.plugins, { added: ['add'], removed: ['remove'], restarted: ['change'], unchanged: ['keep'] });
    assert.deepEqual(r.body.applied, ['plugins']);
    assert.deepEqual(r.body.restartRequired, []);
    assert.match(r.body.message, /^Reloaded .*heimdall\.config\.yaml\. Plugins: 1 added \(add\), 1 removed \(remove\), 1 restarted \(change\), 1 unchanged\.$/);

    // the unchanged plugin's queue is as it was; the changed one kept its queue (and its pause)
    const k = counters(f, 'keep');
    assert.deepEqual([k.received, k.queued, k.delivered, k.droppedTotal], [10, 10, 0, 0]);
    assert.equal(status(f, 'keep')!.restarts, 0);
    const c = counters(f, 'change');
    assert.deepEqual([c.received, c.queued, c.delivered, c.droppedTotal], [10, 10, 0, 0]);
    assert.deepEqual([status(f, 'change')!.state, status(f, 'change')!.restarts], ['paused', 1]);
    assert.equal(status(f, 'remove'), undefined, 'the removed plugin is gone from status');
    assert.deepEqual(f.d.api.plugins().map((p) => p.name), ['keep', 'change', 'add']);
    const actions = f.d.api.actions().map((a) => a.name);
    assert.ok(actions.includes('heimdall.add.seen') && !actions.some((a) => a.startsWith('heimdall.remove.')), actions.join(', '));
    const metrics = (await f.d.api.metrics()).body;
    assert.match(metrics, /heimdall_plugin_up\{plugin="add",state="running"\} 1/);
    assert.match(metrics, /heimdall_plugin_up\{plugin="change",state="paused"\} 0/);
    assert.doesNotMatch(metrics, /plugin="remove"/);

    // the router sends to the new set: keep, change and add get these, the removed plugin does not
    await f.http('POST', '/v1/events', numbered(11, 5));
    await waitFor('add to handle the events sent after the reload', () => counters(f, 'add').delivered === 5);
    assert.deepEqual([counters(f, 'keep').received, counters(f, 'change').received], [15, 15]);

    await f.http('POST', '/v1/actions/heimdall.keep.release/invoke', {});
    assert.equal((await f.http('POST', '/v1/plugins/change/resume')).body.changed, true);
    await waitFor('keep and change to deliver everything', () => counters(f, 'keep').delivered === 15 && counters(f, 'change').delivered === 15);
    const keepAfter = await seen(f, 'keep');
    assert.equal(keepAfter.instance, keepBefore.instance, 'keep was not restarted');
    assert.deepEqual(ns(keepAfter), range(1, 15), 'held and queued events delivered in order');
    const changeAfter = await seen(f, 'change');
    assert.notEqual(changeAfter.instance, changeBefore.instance, 'change runs in a fresh module instance');
    assert.deepEqual(ns(changeAfter), range(1, 15), 'the queue kept across the restart is delivered in order');
    assert.ok(changeAfter.seen.every((x) => x.tag === 'v2'), 'with the new config');
    assert.deepEqual(ns(await seen(f, 'add')), range(11, 15));
    for (const name of ['keep', 'change', 'add']) {
      const x = counters(f, name);
      assert.deepEqual([x.droppedTotal, x.failed, x.queued], [0, 0, 0], name);
    }
  } finally {
    await f.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a reload whose plugins do not load or do not match their configSchema is refused with every problem, and the running plugins stay', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'heimdall-plugin-reload-'));
  const one = writeGatedPlugin(dir, 'one');
  const two = writeGatedPlugin(dir, 'two');
  const f = await startFileDaemon(`plugins:\n${entryYaml(one, { tag: 'x' })}`);
  try {
    const before = await seen(f, 'one');
    f.write(`plugins:\n${entryYaml(one, { tag: 'y', extra: 1 })}${entryYaml(two, { tag: 5 })}${entryYaml(join(dir, 'missing.mjs'))}`);
    const r = await f.http('POST', '/v1/reload');
    assert.equal(r.status, 400, JSON.stringify(r.body));
    assert.equal(r.body.error.code, 'HMD_ERR_CONFIG');
    const errors = r.body.error.details.errors as Array<{ path: string; line?: number; message: string }>;
    assert.deepEqual(errors.map((e) => e.path), ['plugins[0].config.extra', 'plugins[1].config.tag', 'plugins[2].path']);
    assert.match(errors[0]!.message, /^The plugin one has no config key extra/);
    assert.match(errors[1]!.message, /^The config of plugin two does not match its configSchema: .*tag/);
    assert.match(errors[2]!.message, /missing\.mjs does not exist/);
    assert.ok(errors.every((e) => typeof e.line === 'number'), 'each problem has its line');

    const cli = await runCli(['reload', '--url', f.d.url]);
    assert.equal(cli.code, 2);
    assert.match(cli.stderr, /The daemon refused the reload: .*heimdall\.config\.yaml has 3 problems, and the running config stays\./);

    assert.deepEqual(f.d.api.plugins().map((p) => [p.name, p.state, p.restarts]), [['one', 'running', 0]]);
    assert.equal((await seen(f, 'one')).instance, before.instance, 'the running plugin was left alone');
    assert.equal((await seen(f, 'one')).tag, 'x');

    // fixed, the same reload applies
    f.write(`plugins:\n${entryYaml(one, { tag: 'y' })}${entryYaml(two, { tag: 'z' })}`);
    const ok = await f.http('POST', '/v1/reload');
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    assert.deepEqual(ok.body.plugins, { added: ['two'], removed: [], restarted: ['one'], unchanged: [] });
    assert.equal((await seen(f, 'one')).tag, 'y');
    // nothing changed: nothing restarts
    const again = await f.http('POST', '/v1/reload');
    assert.deepEqual(again.body.plugins, { added: [], removed: [], restarted: [], unchanged: ['one', 'two'] });
    assert.deepEqual(again.body.applied, []);
    assert.match(again.body.message, /^Reloaded .*\. Nothing changed\.$/);
  } finally {
    await f.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
