/**
 * CLI commands find the daemon from --url, else $HEIMDALL_URL, else the server section (host,
 * port, token; interpolated) of --config / $HEIMDALL_CONFIG / ./heimdall.config.yaml, else the
 * default; the token from --token, else $HEIMDALL_TOKEN, else that server.token.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCli, startDaemonProcess, type DaemonProcess } from '../helpers/daemon-process.js';

const TOKEN = 'discovery-token-1';
const tmp = mkdtempSync(join(tmpdir(), 'heimdall-discovery-'));
let d: DaemonProcess;
let port: number;

before(async () => {
  d = await startDaemonProcess({ configYaml: `server:\n  token: ${TOKEN}\nplugins: []\n` });
  port = Number(new URL(d.url).port);
});
after(async () => {
  await d.stop();
  rmSync(tmp, { recursive: true, force: true });
});

function folder(name: string, configText?: string): string {
  const dir = join(tmp, name);
  mkdirSync(dir, { recursive: true });
  if (configText !== undefined) writeFileSync(join(dir, 'heimdall.config.yaml'), configText);
  return dir;
}

const ok = (r: { code: number | null; stdout: string; stderr: string }) => {
  assert.equal(r.code, 0, r.stderr);
  assert.equal((JSON.parse(r.stdout) as { state: string }).state, 'running');
};

describe('finding the daemon', () => {
  it('reads host, port and token from ./heimdall.config.yaml in the current folder', async () => {
    const cwd = folder('cwd', `server:\n  host: 127.0.0.1\n  port: ${port}\n  token: ${TOKEN}\n`);
    ok(await runCli(['status', '--json'], { cwd }));
  });

  it('interpolates ${VAR} in the server section, and a wildcard host is reached on loopback', async () => {
    const cwd = folder('interp', 'server:\n  host: 0.0.0.0\n  port: ${DISCOVERY_PORT:-1}\n  token: ${DISCOVERY_TOKEN}\n');
    ok(await runCli(['status', '--json'], { cwd, env: { DISCOVERY_PORT: String(port), DISCOVERY_TOKEN: TOKEN } }));
  });

  it('reads $HEIMDALL_CONFIG, and --config over it', async () => {
    const elsewhere = folder('elsewhere', `server:\n  port: ${port}\n  token: ${TOKEN}\n`);
    const cwd = folder('empty');
    ok(await runCli(['status', '--json'], { cwd, env: { HEIMDALL_CONFIG: join(elsewhere, 'heimdall.config.yaml') } }));
    const wrong = folder('wrong', 'server:\n  port: 1\n');
    ok(await runCli(['status', '--json', '--config', join(elsewhere, 'heimdall.config.yaml')], { cwd, env: { HEIMDALL_CONFIG: join(wrong, 'heimdall.config.yaml') } }));
  });

  it('--url wins over $HEIMDALL_URL and the config; $HEIMDALL_URL wins over the config; the token still comes from the config', async () => {
    const cwd = folder('url-wins', `server:\n  port: 1\n  token: ${TOKEN}\n`);
    ok(await runCli(['status', '--json', '--url', d.url], { cwd, env: { HEIMDALL_URL: 'http://127.0.0.1:1' } }));
    ok(await runCli(['status', '--json'], { cwd, env: { HEIMDALL_URL: d.url } }));
    const bad = await runCli(['status', '--json', '--url', d.url, '--token', 'wrong'], { cwd });
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /token/i);
  });

  it('says where a wrong address came from', async () => {
    const cwd = folder('says', 'server:\n  port: 1\n');
    const r = await runCli(['status'], { cwd });
    assert.equal(r.code, 1);
    assert.match(r.stderr, new RegExp(`Cannot reach the Heimdall daemon at http://127\\.0\\.0\\.1:1 \\(from the config ${join(cwd, 'heimdall.config.yaml').replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}\\)`));
    const zero = folder('zero', 'server:\n  port: 0\n');
    const z = await runCli(['status'], { cwd: zero });
    assert.equal(z.code, 2);
    assert.match(z.stderr, /server\.port .* is 0, which is not a port a running daemon listens on/);
    const missing = await runCli(['status', '--config', join(tmp, 'nope.yaml')], { cwd });
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /does not exist/);
  });

  it('tail finds the daemon and its token the same way', async () => {
    const cwd = folder('tail', `server:\n  port: ${port}\n  token: ${TOKEN}\n`);
    const r = await runCli(['tail', '--no-follow', '--json', '-n', '5'], { cwd });
    assert.equal(r.code, 0, r.stderr);
  });
});
