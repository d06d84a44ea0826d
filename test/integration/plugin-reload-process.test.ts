/**
 * Plugin reload in a `heimdall start` child process: SIGHUP adds a plugin, `heimdall reload`
 * removes one and restarts a changed one, and an invalid config sent with SIGHUP is refused and
 * logged while the running plugins go on; the kept plugin's counters continue across all of it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli, startDaemonProcess } from '../helpers/daemon-process.js';
import { waitFor } from '../helpers/in-process-daemon.js';
import { entryYaml, numbered, writeGatedPlugin } from '../helpers/plugin-files.js';

interface Plugin {
  name: string;
  state: string;
  restarts: number;
  counters: { received: number; delivered: number; droppedTotal: number; queued: number };
}

test('SIGHUP and `heimdall reload` add, remove and restart plugins of a running daemon; an invalid config is refused and the plugins stay', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'heimdall-plugin-hup-'));
  const alpha = writeGatedPlugin(dir, 'alpha');
  const beta = writeGatedPlugin(dir, 'beta');
  const yaml = (plugins: string) => `server:\n  port: 0\nsources:\n  - type: http\nplugins:\n${plugins}`;
  const dp = await startDaemonProcess({ configYaml: yaml(entryYaml(alpha)) });
  const plugins = async () => ((await (await dp.fetch('/v1/plugins')).json()) as { plugins: Plugin[] }).plugins;
  const one = async (name: string) => (await plugins()).find((p) => p.name === name);
  const post = (events: unknown[]) => dp.fetch('/v1/events', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(events) });
  try {
    await post(numbered(1, 5));
    await waitFor('alpha to handle the first events', async () => (await one('alpha'))?.counters.delivered === 5);

    writeFileSync(dp.configFile, yaml(entryYaml(alpha) + entryYaml(beta, { tag: 'b1' })));
    dp.proc.kill('SIGHUP');
    const first = await dp.waitForLog((l) => String(l.json?.msg ?? '').startsWith('Reloaded '), 20_000);
    assert.match(String(first.json!.msg), /Plugins: 1 added \(beta\), 0 removed, 0 restarted, 1 unchanged\.$/);
    assert.deepEqual(first.json!.plugins, { added: ['beta'], removed: [], restarted: [], unchanged: ['alpha'] });
    assert.deepEqual((await plugins()).map((p) => [p.name, p.state]), [['alpha', 'running'], ['beta', 'running']]);
    await post(numbered(6, 5));
    await waitFor('both to handle the events after the reload', async () => (await one('alpha'))?.counters.delivered === 10 && (await one('beta'))?.counters.delivered === 5);

    writeFileSync(dp.configFile, yaml(entryYaml(beta, { tag: 'b2' })));
    const cli = await runCli(['reload', '--url', dp.url]);
    assert.equal(cli.code, 0, cli.stderr);
    assert.match(cli.stdout, /^Reloaded .*heimdall\.config\.yaml\. Plugins: 0 added, 1 removed \(alpha\), 1 restarted \(beta\), 0 unchanged\.\n$/);
    const removed = await dp.waitForLog((l) => /^The plugin alpha was removed from the config and stopped after delivering 10 events\.$/.test(String(l.json?.msg ?? '')));
    assert.equal((removed.json!.counters as Plugin['counters']).droppedTotal, 0);
    const b = await one('beta');
    assert.deepEqual([b?.restarts, b?.counters.received, (await plugins()).length], [1, 5, 1]);
    const tag = await (await dp.fetch('/v1/actions/heimdall.beta.seen/invoke', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })).json() as { data: { tag: string } };
    assert.equal(tag.data.tag, 'b2', 'the restarted plugin runs with its new config');

    // a plugin config its schema refuses: logged, refused, nothing changes
    writeFileSync(dp.configFile, yaml(entryYaml(beta, { tag: 'b3', nope: true })));
    dp.proc.kill('SIGHUP');
    const refused = await dp.waitForLog((l) => /^The reload \(SIGHUP\) was refused: the config has a problem, and the running config stays\./.test(String(l.json?.msg ?? '')), 20_000);
    assert.match(String(refused.json!.msg), /plugins\[0\]\.config\.nope: The plugin beta has no config key nope/);
    await post(numbered(11, 3));
    await waitFor('beta to go on counting', async () => (await one('beta'))?.counters.delivered === 8);
    const end = await one('beta');
    assert.deepEqual([end?.restarts, end?.counters.received, end?.counters.droppedTotal], [1, 8, 0]);
    assert.equal(await dp.stop('SIGTERM'), 0);
  } finally {
    if (dp.proc.exitCode === null) await dp.stop('SIGKILL').catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
});
