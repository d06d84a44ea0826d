/**
 * `heimdall dev` as a child process, with its plugins in a temp folder: editing one plugin's file
 * restarts that plugin alone with fresh state (its new code runs, its counters and queue go on),
 * while the other plugin keeps its module instance and its counters; a broken edit leaves the
 * plugin failed until the next save fixes it; an edit of the config file reloads it, and the
 * plugin it adds (a folder, whose module lives in a subfolder) is watched too.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDaemonProcess, type LogLine } from '../helpers/daemon-process.js';
import { waitFor } from '../helpers/in-process-daemon.js';
import { entryYaml, gatedPluginSource, numbered, writeGatedPlugin, type Seen } from '../helpers/plugin-files.js';

interface Plugin {
  name: string;
  state: string;
  restarts: number;
  counters: { received: number; delivered: number; droppedTotal: number; failed: number; queued: number };
}

const msg = (l: LogLine) => String(l.json?.msg ?? '');

test('heimdall dev restarts only the plugin whose file changed, with fresh state, and reloads on a config change', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'heimdall-dev-plugins-'));
  const edited = writeGatedPlugin(dir, 'edited');
  const steady = writeGatedPlugin(dir, 'steady');
  const yaml = (plugins: string) => `server:\n  port: 0\nsources:\n  - type: http\nplugins:\n${plugins}`;
  const dp = await startDaemonProcess({ command: 'dev', configYaml: yaml(entryYaml(edited) + entryYaml(steady)) });
  const plugins = async () => ((await (await dp.fetch('/v1/plugins')).json()) as { plugins: Plugin[] }).plugins;
  const one = async (name: string) => (await plugins()).find((p) => p.name === name);
  const post = (events: unknown[]) => dp.fetch('/v1/events', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(events) });
  const seen = async (name: string) => ((await (await dp.fetch(`/v1/actions/heimdall.${name}.seen/invoke`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })).json()) as { data: Seen }).data;
  const restartedLog = (name: string, after: number, file = `${name}\\.mjs`) =>
    dp.waitForLog((l) => dp.lines.indexOf(l) >= after && new RegExp(`^The plugin ${name} was restarted with fresh state because .*${file} changed; its \\d+ queued events stayed and the other plugins kept running\\.$`).test(msg(l)), 20_000);
  try {
    await dp.waitForLog((l) => /^heimdall dev is watching the files of 2 plugins and .*heimdall\.config\.yaml/.test(msg(l)));
    await post(numbered(1, 5));
    await waitFor('both plugins to handle the first events', async () => (await one('edited'))?.counters.delivered === 5 && (await one('steady'))?.counters.delivered === 5);
    const editedBefore = await seen('edited');
    const steadyBefore = await seen('steady');
    assert.equal(editedBefore.version, 'v1');

    let mark = dp.lines.length;
    writeFileSync(edited, gatedPluginSource('edited', 'v2'));
    const line = await restartedLog('edited', mark);
    assert.deepEqual(line.json!.files, [edited]);
    const editedAfter = await seen('edited');
    assert.equal(editedAfter.version, 'v2', 'the new code runs');
    assert.notEqual(editedAfter.instance, editedBefore.instance);
    assert.deepEqual(editedAfter.seen, [], 'with fresh state');
    assert.equal((await one('edited'))?.restarts, 1);

    await post(numbered(6, 3));
    await waitFor('both plugins to handle the events after the edit', async () => (await one('edited'))?.counters.delivered === 8 && (await one('steady'))?.counters.delivered === 8);
    assert.deepEqual((await seen('edited')).seen.map((x) => x.n), [6, 7, 8]);
    const s = await one('steady');
    assert.deepEqual([s?.state, s?.restarts, s?.counters.received, s?.counters.droppedTotal], ['running', 0, 8, 0], 'the other plugin kept running and counting');
    const steadyAfter = await seen('steady');
    assert.equal(steadyAfter.instance, steadyBefore.instance, 'the other plugin kept its module state');
    assert.deepEqual(steadyAfter.seen.map((x) => x.n), [1, 2, 3, 4, 5, 6, 7, 8]);
    const e = (await one('edited'))!.counters;
    assert.deepEqual([e.received, e.delivered, e.droppedTotal], [8, 8, 0], 'the restarted plugin kept its counters');

    // a broken save: the plugin is failed and says why; the next save brings it back
    mark = dp.lines.length;
    writeFileSync(edited, 'export default {\n');
    await dp.waitForLog((l) => dp.lines.indexOf(l) >= mark && /^The plugin edited could not be restarted after .*edited\.mjs changed, and is failed: .* Fix it and save again; the next change restarts it\.$/.test(msg(l)), 20_000);
    assert.equal((await one('edited'))?.state, 'failed');
    mark = dp.lines.length;
    writeFileSync(edited, gatedPluginSource('edited', 'v3'));
    await restartedLog('edited', mark);
    assert.deepEqual([(await one('edited'))?.state, (await seen('edited')).version], ['running', 'v3']);

    // the config file: a reload, and the added plugin (a folder) is watched as well
    const late = join(dir, 'late');
    mkdirSync(join(late, 'lib'), { recursive: true });
    writeFileSync(join(late, 'index.mjs'), "export { default } from './lib/plugin.mjs';\n");
    writeFileSync(join(late, 'lib', 'plugin.mjs'), gatedPluginSource('late', 'v1'));
    mark = dp.lines.length;
    writeFileSync(dp.configFile, yaml(entryYaml(edited) + entryYaml(steady) + entryYaml(late)));
    const reloaded = await dp.waitForLog((l) => dp.lines.indexOf(l) >= mark && msg(l).startsWith('Reloaded '), 20_000);
    assert.match(msg(reloaded), /Plugins: 1 added \(late\), 0 removed, 0 restarted, 2 unchanged\.$/);
    assert.equal((await one('late'))?.state, 'running');
    mark = dp.lines.length;
    writeFileSync(join(late, 'lib', 'plugin.mjs'), gatedPluginSource('late', 'v2'));
    await restartedLog('late', mark, 'late/lib/plugin\\.mjs');
    assert.equal((await seen('late')).version, 'v2');
    assert.equal((await one('steady'))?.restarts, 0);
    assert.equal(await dp.stop('SIGTERM'), 0);
  } finally {
    if (dp.proc.exitCode === null) await dp.stop('SIGKILL').catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
});
