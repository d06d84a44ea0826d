/**
 * `heimdall plugins restart|pause|resume <name>` and POST /v1/plugins/{name}/restart|pause|resume
 * against a real daemon (real workers, real HTTP, the CLI as a child process): a paused plugin
 * shows `paused` in status, `heimdall plugins` and /metrics, its events wait in its queue (beyond
 * capacity they are dropped with reason paused) and resume delivers them in order; a restart gives
 * it a fresh module instance and keeps its queue; the other plugin is untouched throughout. Unknown
 * names are 404 (exit 1), pausing a failed plugin is 409, and a restart that cannot start is 500.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../helpers/daemon-process.js';
import { waitFor } from '../helpers/in-process-daemon.js';
import { entryYaml, numbered, writeGatedPlugin, type Seen } from '../helpers/plugin-files.js';
import { startFileDaemon, type FileDaemon } from '../helpers/rules-daemon.js';

const plugin = (f: FileDaemon, name: string) => {
  const p = f.d.api.plugins().find((x) => x.name === name);
  assert.ok(p, `the plugin ${name} is listed`);
  return p;
};
const seen = async (f: FileDaemon, name: string): Promise<Seen> => (await f.http('POST', `/v1/actions/heimdall.${name}.seen/invoke`, {})).body.data as Seen;
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

test('pause, resume and restart one plugin through the CLI and HTTP while the other keeps running', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'heimdall-plugin-control-'));
  const f = await startFileDaemon(`plugins:\n${entryYaml(writeGatedPlugin(dir, 'held'), {}, 'queue: { capacity: 8 }')}${entryYaml(writeGatedPlugin(dir, 'other'))}`);
  const cli = (...args: string[]) => runCli([...args, '--url', f.d.url]);
  try {
    const first = await seen(f, 'held');
    const paused = await cli('plugins', 'pause', 'held');
    assert.equal(paused.code, 0, paused.stderr);
    assert.equal(paused.stdout, 'The plugin held is paused: its events wait in its queue (up to 8; beyond that they are dropped with reason paused) until `heimdall plugins resume held`.\n');
    assert.equal(plugin(f, 'held').state, 'paused');
    assert.match((await cli('plugins')).stdout, /^held +1\.0\.0 +paused /m);
    assert.equal((await f.http('GET', '/v1/status')).body.plugins.find((p: { name: string }) => p.name === 'held').state, 'paused');
    assert.match((await f.d.api.metrics()).body, /heimdall_plugin_up\{plugin="held",state="paused"\} 0/);
    assert.equal((await f.http('GET', '/readyz')).status, 200, 'a paused plugin does not make the daemon unready');
    const again = await f.http('POST', '/v1/plugins/held/pause');
    assert.deepEqual([again.status, again.body.changed, again.body.state], [200, false, 'paused']);

    // ten events: eight wait in the paused queue, two are dropped (reason paused); the other plugin handles all ten
    await f.http('POST', '/v1/events', numbered(1, 10));
    await waitFor('the other plugin to handle the ten events', () => plugin(f, 'other').counters.delivered === 10);
    const c = plugin(f, 'held').counters;
    assert.deepEqual([c.received, c.queued, c.delivered, c.dropped], [10, 8, 0, { paused: 2 }]);

    // a restart while paused: a fresh module instance, the queue kept, still paused
    const restarted = await cli('plugins', 'restart', 'held', '--json');
    assert.equal(restarted.code, 0, restarted.stderr);
    const body = JSON.parse(restarted.stdout);
    assert.deepEqual([body.name, body.state, body.changed], ['held', 'paused', true]);
    assert.match(body.message, /^The plugin held was restarted with fresh state \(restart 1\); its queue stayed, with 8 events in it now\.$/);
    const second = await seen(f, 'held');
    assert.notEqual(second.instance, first.instance);
    assert.deepEqual(second.seen, [], 'fresh state: nothing handled yet');
    assert.deepEqual([plugin(f, 'held').counters.queued, plugin(f, 'held').restarts], [8, 1]);

    const resumed = await f.http('POST', '/v1/plugins/held/resume');
    assert.deepEqual([resumed.status, resumed.body.changed, resumed.body.state], [200, true, 'running']);
    assert.equal(resumed.body.message, 'The plugin held is resumed; the 8 events that waited are being delivered.');
    await waitFor('the held plugin to deliver what waited', () => plugin(f, 'held').counters.delivered === 8);
    assert.deepEqual((await seen(f, 'held')).seen.map((x) => x.n), range(1, 8), 'in the order they arrived');
    assert.equal((await cli('plugins', 'resume', 'held')).stdout, 'The plugin held was not paused; nothing changed.\n');

    // an HTTP restart while running: new events go on being delivered
    const r = await f.http('POST', '/v1/plugins/held/restart');
    assert.deepEqual([r.status, r.body.state], [200, 'running']);
    await f.http('POST', '/v1/events', numbered(11, 3));
    await waitFor('both plugins to handle the new events', () => plugin(f, 'held').counters.delivered === 11 && plugin(f, 'other').counters.delivered === 13);
    assert.deepEqual((await seen(f, 'held')).seen.map((x) => x.n), [11, 12, 13]);
    const o = plugin(f, 'other');
    assert.deepEqual([o.state, o.restarts, o.counters.received, o.counters.droppedTotal], ['running', 0, 13, 0], 'the other plugin was left alone');
    assert.deepEqual((await seen(f, 'other')).seen.map((x) => x.n), range(1, 13));

    // mistakes
    const unknown = await f.http('POST', '/v1/plugins/helt/pause');
    assert.deepEqual([unknown.status, unknown.body.error.code], [404, 'HMD_ERR_NOT_FOUND']);
    assert.match(unknown.body.error.message, /^No plugin is named helt; did you mean held\? The plugins are held, other/);
    const cliUnknown = await cli('plugins', 'restart', 'nope');
    assert.equal(cliUnknown.code, 1);
    assert.match(cliUnknown.stderr, /No plugin is named nope/);
    assert.equal((await f.http('POST', '/v1/plugins/held/pause', { now: true })).status, 400);
    assert.equal((await cli('plugins', 'pause')).code, 2, 'the name is required');
  } finally {
    await f.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a failed plugin cannot be paused (409); a restart that cannot start answers 500 and leaves it failed; once fixed, a restart brings it back', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'heimdall-plugin-control-'));
  const file = join(dir, 'flaky.mjs');
  const broken = `export default { name: 'flaky', version: '1.0.0', init() { throw new Error('not configured yet'); } };\n`;
  writeFileSync(file, broken);
  const f = await startFileDaemon(`plugins:\n${entryYaml(file)}`);
  try {
    assert.equal(plugin(f, 'flaky').state, 'failed');
    const pause = await f.http('POST', '/v1/plugins/flaky/pause');
    assert.deepEqual([pause.status, pause.body.error.code], [409, 'HMD_ERR_CONFLICT']);
    assert.match(pause.body.error.message, /^The plugin flaky is failed \(.*not configured yet\), so it cannot be paused; `heimdall plugins restart flaky` starts it again\.$/);
    const again = await f.http('POST', '/v1/plugins/flaky/restart');
    assert.deepEqual([again.status, again.body.error.code], [500, 'HMD_ERR_PLUGIN_INIT']);
    assert.equal(plugin(f, 'flaky').state, 'failed');

    writeGatedPlugin(dir, 'flaky');
    const fixed = await runCli(['plugins', 'restart', 'flaky', '--url', f.d.url]);
    assert.equal(fixed.code, 0, fixed.stderr);
    assert.equal(plugin(f, 'flaky').state, 'running');
    assert.ok(f.d.api.actions().some((a) => a.name === 'heimdall.flaky.seen'));
  } finally {
    await f.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
