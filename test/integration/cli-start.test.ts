/**
 * `heimdall start` and `heimdall validate` in child processes: config errors exit 2, SIGTERM and
 * SIGINT stop gracefully with exit 0, a second signal exits 1 at once, validate prints OK or
 * every problem with its line, and the built-in defaults are announced when there is no file.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { childEnv, runCli, startDaemonProcess, type DaemonProcess } from '../helpers/daemon-process.js';
import { CLI, fixturePlugin } from '../helpers/paths.js';

const tmp = mkdtempSync(join(tmpdir(), 'heimdall-start-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

function file(name: string, text: string): string {
  const p = join(tmp, name);
  writeFileSync(p, text);
  return p;
}

describe('heimdall validate', () => {
  it('prints "OK: FILE is valid." and exits 0 for a valid file', async () => {
    const f = file('ok.yaml', 'server:\n  port: 0\nplugins: []\n');
    const r = await runCli(['validate', '--config', f]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), `OK: ${f} is valid.`);
  });

  it('prints every problem with its line and exits 2', async () => {
    const f = file('bad.yaml', 'server:\n  hots: 127.0.0.1\n  port: many\nplugins:\n  - path: x.mjs\n    queue: { whenFull: drop }\n');
    const r = await runCli(['validate', '--config', f]);
    assert.equal(r.code, 2, r.stdout + r.stderr);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, new RegExp(`${f.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:2:\\d+ server\\.hots`));
    assert.match(r.stderr, /:3:\d+ server\.port/);
    assert.match(r.stderr, /:6:\d+ plugins\[0\]\.queue\.whenFull/);
    assert.match(r.stderr, /has 3 problems/);
  });

  it('--json prints { ok, file, errors }', async () => {
    const f = file('bad2.yaml', 'server:\n  port: -1\n');
    const r = await runCli(['validate', '--config', f, '--json']);
    assert.equal(r.code, 2);
    const j = JSON.parse(r.stdout) as { ok: boolean; errors: { path: string; line: number }[] };
    assert.equal(j.ok, false);
    assert.equal(j.errors[0]?.path, 'server.port');
    assert.equal(j.errors[0]?.line, 2);
  });

  it('exits 2 when the file does not exist or none is found', async () => {
    const missing = await runCli(['validate', '--config', join(tmp, 'missing.yaml')]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /does not exist/);
    const none = await runCli(['validate'], { cwd: tmp });
    assert.equal(none.code, 2);
    assert.match(none.stderr, /--config/);
  });

  it('reads $HEIMDALL_CONFIG', async () => {
    const f = file('env.yaml', 'plugins: []\n');
    const r = await runCli(['validate'], { env: { HEIMDALL_CONFIG: f } });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /is valid/);
  });
});

describe('heimdall start with --log-level debug and secrets in its config (one daemon)', () => {
  let d: DaemonProcess;
  before(async () => {
    const configYaml = [
      'server:',
      '  token: tok-SECRET-1',
      'llm:',
      '  baseURL: http://127.0.0.1:9/v1',
      '  model: test-model',
      '  apiKey: sk-SECRET-2',
      '  headers: { Authorization: "Bearer SECRET-3" }',
      'plugins:',
      `  - path: ${JSON.stringify(fixturePlugin('http-actions.mjs'))}`,
      '',
    ].join('\n');
    d = await startDaemonProcess({ configYaml, args: ['--log-level', 'debug'] });
  });
  after(async () => {
    await d?.stop('SIGKILL');
  });

  it('honours --log-level and masks secrets in the effective config it logs', async () => {
    assert.ok(d.lines.some((l) => l.json?.['level'] === 'debug'), 'a debug line is written');
    const effective = d.lines.find((l) => /effective config/.test(String(l.json?.['msg'])));
    assert.ok(effective, 'the effective config is logged at debug');
    assert.match(effective.raw, /"token":"\*\*\*"/);
    assert.equal((await d.fetch('/v1/status', { headers: { authorization: 'Bearer wrong-SECRET-4' } })).status, 401);
    assert.equal((await d.fetch('/healthz')).status, 200);
  });

  it('stops gracefully on SIGTERM and exits 0', async () => {
    assert.equal(await d.stop('SIGTERM'), 0);
    assert.ok(d.lines.some((l) => /Received SIGTERM; stopping Heimdall gracefully/.test(String(l.json?.['msg']))));
    assert.ok(d.lines.some((l) => /^Heimdall stopped/.test(String(l.json?.['msg']))));
  });

  it('never logged a secret, from start to exit', () => {
    assert.notEqual(d.proc.exitCode, null, 'the daemon has exited');
    const all = d.lines.map((l) => l.raw).join('\n') + d.stderr.join('');
    assert.doesNotMatch(all, /SECRET/);
  });
});

describe('heimdall start', () => {
  it('exits 2 and prints the problems when the config is invalid', async () => {
    const f = file('start-bad.yaml', 'server:\n  port: 0\nsources:\n  - type: kafka\n');
    const r = await runCli(['start', '--config', f]);
    assert.equal(r.code, 2, r.stdout + r.stderr);
    assert.match(r.stderr, /sources\[0\]/);
    assert.match(r.stderr, /heimdall validate/);
    const missing = await runCli(['start', '--config', join(tmp, 'nope.yaml')]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /does not exist/);
  });

  it('stops gracefully on SIGINT and exits 0', async () => {
    const d = await startDaemonProcess({ configYaml: 'plugins: []\n' });
    assert.equal(await d.stop('SIGINT'), 0);
  });

  it('exits 1 at once on a second signal while stopping', async () => {
    const d = await startDaemonProcess({ configYaml: `plugins:\n  - path: ${JSON.stringify(fixturePlugin('http-slow-stop.mjs'))}\n` });
    d.proc.kill('SIGTERM');
    await d.waitForLog((l) => /stopping slowly on purpose/.test(String(l.json?.['msg'])));
    // Until the second signal, the daemon is stopping: no new events, not ready, still alive.
    const res = await d.fetch('/v1/events', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"type":"node.created"}' });
    assert.equal(res.status, 503, await res.clone().text());
    assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'HMD_ERR_SHUTTING_DOWN');
    assert.equal((await d.fetch('/readyz')).status, 503);
    assert.equal((await d.fetch('/healthz')).status, 200);
    const started = Date.now();
    assert.equal(await d.stop('SIGTERM', 5000), 1);
    assert.ok(Date.now() - started < 3000, 'the second signal exits at once');
    assert.ok(d.lines.some((l) => /again while stopping/.test(String(l.json?.['msg']))));
  });

  it('honours --pretty', async () => {
    const f = file('pretty.yaml', 'server:\n  port: 0\n');
    const proc = spawn(process.execPath, [CLI, 'start', '--config', f, '--pretty'], { env: childEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no pretty listening line:\n${out}`)), 15_000);
      proc.stdout.setEncoding('utf8').on('data', (c: string) => {
        out += c;
        if (/INFO.*Heimdall is listening on http/.test(out)) {
          clearTimeout(t);
          resolve();
        }
      });
    });
    assert.doesNotMatch(out.split('\n')[0]!, /^\{/);
    proc.kill('SIGTERM');
    const code = await new Promise((r) => proc.on('exit', r));
    assert.equal(code, 0);
  });

  it('says so when it falls back to the built-in defaults', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'heimdall-nocfg-'));
    const proc = spawn(process.execPath, [CLI, 'start'], { cwd: empty, env: childEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    proc.stderr.setEncoding('utf8').on('data', (c: string) => (err += c));
    const exited = new Promise<number | null>((r) => proc.on('exit', r));
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no defaults line:\n${out}\n${err}`)), 15_000);
      proc.stdout.setEncoding('utf8').on('data', (c: string) => {
        out += c;
        // Port 8787 may be taken on this machine; either way the defaults line comes first.
        if (/built-in defaults/.test(out) && (/listening on|already in use/.test(out))) {
          clearTimeout(t);
          resolve();
        }
      });
    });
    proc.kill('SIGTERM');
    const code = await exited;
    rmSync(empty, { recursive: true, force: true });
    assert.match(out, /No config file was found .* built-in defaults/);
    if (/listening on/.test(out)) assert.equal(code, 0);
    else assert.equal(code, 1);
  });
});
