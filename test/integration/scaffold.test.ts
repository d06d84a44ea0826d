/**
 * `heimdall new plugin`: the folder it writes installs without a download (the SDK is a file:
 * dev dependency on this checkout), its own test passes with `npm test`, it type-checks under
 * strict, and the plugin runs in the daemon as generated; --js does the same in JavaScript.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { runCli } from '../helpers/daemon-process.js';
import { pluginYaml, startTestDaemon, waitFor } from '../helpers/in-process-daemon.js';
import { TSC, npmInstallOffline, run } from '../helpers/run-command.js';

const tmp = mkdtempSync(join(tmpdir(), 'heimdall-scaffold-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
describe('heimdall new plugin', () => {
  it('writes a TypeScript plugin whose own test passes with npm test, offline, and which type-checks under strict', async () => {
    const r = await runCli(['new', 'plugin', 'order-watch', '--dir', tmp]);
    assert.equal(r.code, 0, r.stderr);
    const dir = join(tmp, 'order-watch');
    for (const f of ['index.ts', 'package.json', 'tsconfig.json', 'README.md', 'test/order-watch.test.mjs']) assert.ok(existsSync(join(dir, f)), f);
    assert.match(readFileSync(join(dir, 'index.ts'), 'utf8'), /definePlugin<Config>\(/);
    assert.equal(JSON.parse(readFileSync(join(dir, 'tsconfig.json'), 'utf8')).compilerOptions.strict, true);
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { devDependencies: Record<string, string> };
    assert.match(pkg.devDependencies['heimdall']!, /^file:/);

    const install = await npmInstallOffline(dir);
    assert.equal(install.code, 0, install.out);
    const test = await run('npm', ['test'], dir);
    assert.equal(test.code, 0, test.out);
    assert.match(test.out, /# pass 3/);
    const tsc = await run(process.execPath, [TSC, '-p', 'tsconfig.json'], dir);
    assert.equal(tsc.code, 0, tsc.out);
    // the strict check is real: a misspelt config key is an error
    writeFileSync(join(dir, 'index.ts'), readFileSync(join(dir, 'index.ts'), 'utf8').replace('ctx.config.every === 0', 'ctx.config.evry === 0'));
    const bad = await run(process.execPath, [TSC, '-p', 'tsconfig.json'], dir);
    assert.notEqual(bad.code, 0);
    assert.match(bad.out, /Property 'evry' does not exist/);
  });

  it('writes a JavaScript plugin with --js whose test passes, and which runs in the daemon as generated', async () => {
    const r = await runCli(['new', 'plugin', 'js-watch', '--js'], { cwd: tmp });
    assert.equal(r.code, 0, r.stderr);
    const dir = join(tmp, 'js-watch');
    assert.ok(existsSync(join(dir, 'index.mjs')));
    assert.ok(!existsSync(join(dir, 'tsconfig.json')));
    assert.equal((await npmInstallOffline(dir)).code, 0);
    const test = await run('npm', ['test'], dir);
    assert.equal(test.code, 0, test.out);

    const d = await startTestDaemon([pluginYaml(dir, 'config: { every: 1 }')]);
    try {
      assert.equal(d.api.plugins()[0]!.state, 'running', d.api.plugins()[0]!.reason);
      d.api.ingest([{ type: 'node.created', nodeLabels: ['Person'] }], 'http');
      await waitFor('the count to reach 1', async () => (await d.api.invokeAction('heimdall.js-watch.count', {}, { kind: 'operator' })).data?.['created'] === 1);
    } finally {
      await d.stop();
    }
  });

  it('refuses a bad name (exit 2) and a folder that has files (exit 1)', async () => {
    const bad = await runCli(['new', 'plugin', 'Order_Watch', '--dir', tmp]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /is not a plugin name/);
    const again = await runCli(['new', 'plugin', 'order-watch', '--dir', tmp]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /already exists and is not empty/);
  });
});
