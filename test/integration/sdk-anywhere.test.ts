/**
 * Plugins from anywhere: a plugin in a temporary folder outside the repository imports
 * `heimdall/sdk` and gets the daemon's own SDK (.mjs, .ts loaded as CommonJS, .ts in a
 * "type": "module" package), even when its folder has another `heimdall` installed; a
 * plugins[].package entry is found from the config's folder; an import that cannot be resolved
 * names the module, the importing file and what to do.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, test } from 'node:test';
import { pino } from 'pino';
import { parseConfig } from '../../config/loader.js';
import { startDaemon, type RunningDaemon } from '../../daemon/daemon.js';
import { waitFor } from '../helpers/in-process-daemon.js';
import { REPO_ROOT } from '../helpers/paths.js';

const tmp = mkdtempSync(join(tmpdir(), 'heimdall-outside-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
const op = { kind: 'operator' as const };

function write(rel: string, text: string): string {
  const p = join(tmp, rel);
  mkdirSync(dirname(p), { recursive: true });
  writeFileSync(p, text);
  return p;
}

/** A plugin body that proves which SDK it got: ErrorCode and EVENT_TYPES exist only in the real one. */
const body = (name: string) => `
export default definePlugin({
  name: '${name}',
  version: '1.0.0',
  events: ['node.created'],
  onDatabaseEvent(event) { seen.push(event.id); },
  actions() {
    return {
      probe: {
        description: 'Says which SDK the plugin was given.',
        handler: () => ({ success: true, message: 'ok', data: { fake: (definePlugin as any).fake === true, code: ErrorCode.HMD_ERR_READ_ONLY, types: EVENT_TYPES.length, seen } }),
      },
    };
  },
});
`;

/** A daemon whose config file lives in tmp/config (relative plugin paths and packages are found from there). */
async function start(pluginsYaml: string): Promise<RunningDaemon> {
  const text = `server:\n  port: 0\naudit:\n  path: ${JSON.stringify(join(tmp, 'audit.jsonl'))}\n${pluginsYaml}`;
  const file = write('config/heimdall.config.yaml', text);
  return startDaemon({ config: parseConfig(text, { file, env: {} }), logger: pino({ level: 'silent' }), listen: false });
}

test('plugins outside the repository import heimdall/sdk and get the daemon\'s own SDK', async () => {
  assert.ok(!tmp.startsWith(REPO_ROOT), 'the plugins live outside the repository');
  // a different "heimdall" in the plugin's own node_modules is not what the plugin gets
  write('mjs/node_modules/heimdall/package.json', JSON.stringify({ name: 'heimdall', type: 'module', exports: { './sdk': './fake.js' } }));
  write('mjs/node_modules/heimdall/fake.js', 'export function definePlugin(p) { return p; }\ndefinePlugin.fake = true;\n');
  write('mjs/plugin.mjs', `import { definePlugin, ErrorCode, EVENT_TYPES } from 'heimdall/sdk';\nconst seen = [];\n${body('outside-mjs').replace(' as any', '')}`);
  write('cjs-ts/plugin.ts', `import { definePlugin, ErrorCode, EVENT_TYPES } from 'heimdall/sdk';\nconst seen: string[] = [];\n${body('outside-cts')}`);
  write('esm-ts/package.json', JSON.stringify({ name: 'esm-ts', type: 'module' }));
  write('esm-ts/index.ts', `import { definePlugin, ErrorCode, EVENT_TYPES } from 'heimdall/sdk';\nimport type { DatabaseEvent } from 'heimdall/sdk';\nconst seen: DatabaseEvent['id'][] = [];\n${body('outside-esm-ts')}`);
  const d = await start(['plugins:', `  - path: ${JSON.stringify(join(tmp, 'mjs/plugin.mjs'))}`, '  - path: ../cjs-ts/plugin.ts', '  - path: ../esm-ts', ''].join('\n'));
  try {
    for (const p of d.api.plugins()) assert.equal(p.state, 'running', `${p.name}: ${p.reason ?? ''}`);
    d.api.ingest([{ id: 'ev-1', type: 'node.created' }], 'http');
    for (const name of ['outside-mjs', 'outside-cts', 'outside-esm-ts']) {
      await waitFor(`${name} to see the event`, async () => ((await d.api.invokeAction(`heimdall.${name}.probe`, {}, op)).data?.['seen'] as string[]).length === 1);
      const r = await d.api.invokeAction(`heimdall.${name}.probe`, {}, op);
      assert.deepEqual(r.data, { fake: false, code: 'HMD_ERR_READ_ONLY', types: 17, seen: ['ev-1'] }, name);
    }
  } finally {
    await d.stop();
  }
});

test('a plugins[].package entry is resolved from the config\'s folder like require', async () => {
  write('config/node_modules/@acme/heimdall-hello/package.json', JSON.stringify({ name: '@acme/heimdall-hello', type: 'module', exports: { '.': { import: './dist/main.mjs' } } }));
  write('config/node_modules/@acme/heimdall-hello/dist/main.mjs', `import { definePlugin, ErrorCode, EVENT_TYPES } from 'heimdall/sdk';\nconst seen = [];\n${body('hello').replace(' as any', '')}`);
  const d = await start('plugins:\n  - package: "@acme/heimdall-hello"\n  - package: not-installed-anywhere\n');
  try {
    const [hello, missing] = d.api.plugins();
    assert.equal(hello!.state, 'running', hello!.reason);
    assert.equal(hello!.name, 'hello');
    const r = await d.api.invokeAction('heimdall.hello.probe', {}, op);
    assert.equal(r.data?.['fake'], false);
    assert.equal(missing!.state, 'failed');
    assert.match(missing!.reason!, /The plugin package not-installed-anywhere is not installed/);
    assert.match(missing!.reason!, /npm install not-installed-anywhere/);
  } finally {
    await d.stop();
  }
});

test('an import that cannot be resolved names the module, the file that imports it and what to do', async () => {
  write('broken/helper.mjs', "import leftPad from 'left-pad-not-installed';\nexport const pad = leftPad;\n");
  write('broken/plugin.mjs', "import { definePlugin } from 'heimdall/sdk';\nimport { pad } from './helper.mjs';\nexport default definePlugin({ name: 'broken', version: '1.0.0', actions: () => ({}) , x: pad });\n");
  write('broken-ts/plugin.ts', "import { definePlugin } from 'heimdall/sdk';\nimport leftPad from 'left-pad-not-installed';\nexport default definePlugin({ name: 'broken-ts', version: '1.0.0', init() { leftPad(); } });\n");
  const d = await start(['plugins:', '  - path: ../broken/plugin.mjs', '  - path: ../broken-ts/plugin.ts', ''].join('\n'));
  try {
    const [mjs, ts] = d.api.plugins();
    assert.equal(mjs!.state, 'failed');
    assert.match(mjs!.reason!, new RegExp(`${join(tmp, 'broken/helper.mjs').replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} imports 'left-pad-not-installed', which cannot be found`));
    assert.match(mjs!.reason!, /npm install left-pad-not-installed/);
    assert.equal(ts!.state, 'failed');
    assert.match(ts!.reason!, /broken-ts\/plugin\.ts imports 'left-pad-not-installed', which cannot be found; install it/);
  } finally {
    await d.stop();
  }
});
