/**
 * `heimdall validate` checks the plugins of a valid config: every path and package resolves, each
 * module loads in a worker (with the daemon's heimdall/sdk), its definition and `events` names are
 * valid, and its config matches its configSchema (the key that is wrong or unknown is named, with
 * the config file and line). Exit 2 with every problem listed; 0 when all is well.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, describe, it } from 'node:test';
import { runCli } from '../helpers/daemon-process.js';

const tmp = mkdtempSync(join(tmpdir(), 'heimdall-validate-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

function write(rel: string, text: string): string {
  const p = join(tmp, rel);
  mkdirSync(dirname(p), { recursive: true });
  writeFileSync(p, text);
  return p;
}

const GOOD = `import { definePlugin } from 'heimdall/sdk';
export default definePlugin({
  name: 'good',
  version: '1.0.0',
  events: ['node.*', 'query.failed'],
  configSchema: { type: 'object', additionalProperties: false, properties: { threshold: { type: 'integer', default: 5 }, label: { type: 'string' } } },
  onDatabaseEvent() {},
});
`;

describe('heimdall validate: plugins', () => {
  write('plugins/good.mjs', GOOD);
  write('plugins/bad-def.mjs', "export default { name: 'Bad_Name', version: '1.0.0', events: ['node.made', 'node.*'] };\n");
  write('plugins/dup/index.mjs', GOOD);
  write('plugins/broken.mjs', "import x from 'not-installed-pkg';\nexport default { name: 'broken', version: '1', x };\n");

  it('lists every plugin problem with the config file and line, and exits 2', async () => {
    const file = write('bad.yaml', [
      'server:',
      '  port: 0',
      'plugins:',
      '  - path: plugins/good.mjs',
      '    config:',
      '      threshold: lots',
      '      treshold: 3',
      '  - path: plugins/missing.mjs',
      '  - package: heimdall-plugin-not-installed',
      '  - path: plugins/bad-def.mjs',
      '  - path: plugins/dup',
      '  - path: plugins/broken.mjs',
      '  - path: plugins/missing-but-disabled.mjs',
      '    enabled: false',
      '',
    ].join('\n'));
    const r = await runCli(['validate', '--config', file]);
    assert.equal(r.code, 2, r.stdout + r.stderr);
    const lines = r.stderr.split('\n');
    const line = (re: RegExp): string => lines.find((l) => re.test(l)) ?? assert.fail(`no line matches ${re}:\n${r.stderr}`);
    assert.match(line(/config\.threshold must be integer/), new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:6:\\d+ plugins\\[0\\]\\.config\\.threshold: `));
    assert.match(line(/has no config key treshold/), /:7:\d+ plugins\[0\]\.config\.treshold: The plugin good has no config key treshold.*Its configSchema knows threshold, label/);
    assert.match(line(/missing\.mjs does not exist/), /:8:\d+ plugins\[1\]\.path: /);
    assert.match(line(/heimdall-plugin-not-installed is not installed/), /:9:\d+ plugins\[2\]\.package: .*npm install heimdall-plugin-not-installed/);
    assert.match(line(/name must be a string matching/), /:10:\d+ plugins\[3\]\.path: /);
    assert.match(line(/events contains "node\.made"/), /:10:\d+ plugins\[3\]\.path: /);
    assert.match(line(/is also named good, like plugins\[0\]/), /:11:\d+ plugins\[4\]/);
    assert.match(line(/imports 'not-installed-pkg', which cannot be found/), /:12:\d+ plugins\[5\]\.path: /);
    assert.ok(!r.stderr.includes('missing-but-disabled'), 'disabled plugins are not loaded');
    assert.match(r.stderr, /has 8 problems/);
  });

  it('--json lists the same problems with path and line', async () => {
    const file = write('bad2.yaml', 'plugins:\n  - path: plugins/good.mjs\n    config: { label: 7 }\n');
    const r = await runCli(['validate', '--config', file, '--json']);
    assert.equal(r.code, 2);
    const j = JSON.parse(r.stdout) as { ok: boolean; errors: Array<{ path: string; line: number; message: string }> };
    assert.equal(j.ok, false);
    assert.deepEqual(j.errors.map((e) => [e.path, e.line]), [['plugins[0].config.label', 3]]);
    assert.match(j.errors[0]!.message, /config\.label must be string/);
  });

  it('exits 0 when every plugin loads and matches its schema; --no-plugins skips loading them', async () => {
    const file = write('ok.yaml', 'plugins:\n  - path: plugins/good.mjs\n    config: { threshold: 3 }\n');
    const r = await runCli(['validate', '--config', file]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), `OK: ${file} is valid, and its 1 plugin loads and matches its configSchema.`);
    const skip = write('skip.yaml', 'plugins:\n  - path: plugins/missing.mjs\n');
    const s = await runCli(['validate', '--config', skip, '--no-plugins']);
    assert.equal(s.code, 0, s.stderr);
    assert.equal(s.stdout.trim(), `OK: ${skip} is valid.`);
  });
});
