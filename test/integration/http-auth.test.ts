/**
 * Admin API authentication against a real daemon (real HTTP on loopback): bearer token on /v1 when
 * server.token is set (here from the environment, through the config's interpolation), open
 * probes and metrics, auth off without a token, and the refusal of a non-loopback bind without a
 * token (by `heimdall start` in a child process, exit 2, and by startDaemon itself).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { defaultConfig } from '../../config/loader.js';
import type { HeimdallConfig } from '../../config/types.js';
import { startDaemon } from '../../daemon/daemon.js';
import { runCli, writeConfig } from '../helpers/daemon-process.js';
import { pluginYaml, startTestDaemon, type TestDaemon } from '../helpers/in-process-daemon.js';
import { fixturePlugin } from '../helpers/paths.js';
import { call } from '../helpers/public-api.js';

const TOKEN = 's3cret-token-for-tests';

async function errorOf(res: Response): Promise<{ code: string; message: string; details?: unknown }> {
  assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
  const body = (await res.json()) as { error: { code: string; message: string; details?: unknown } };
  assert.equal(typeof body.error.message, 'string');
  return body.error;
}

/** fetch with the daemon's token, or without any (`auth: false`). */
const get = (d: TestDaemon, path: string, init: RequestInit & { auth?: boolean } = {}): Promise<Response> => {
  const { auth = true, ...rest } = init;
  return call(auth ? d : { url: d.url }, path, rest);
};

describe('admin API with server.token set', () => {
  let d: TestDaemon;
  before(async () => {
    d = await startTestDaemon([pluginYaml(fixturePlugin('http-actions.mjs'))], '  token: ${TEST_TOKEN}\n', { env: { TEST_TOKEN: TOKEN } });
    assert.equal(d.token, TOKEN);
  });
  after(async () => {
    await d.stop();
  });

  it('answers /v1 routes without a token with 401, a JSON error and WWW-Authenticate: Bearer', async () => {
    for (const path of ['/v1/status', '/v1/plugins', '/v1/actions']) {
      const res = await get(d, path, { auth: false });
      assert.equal(res.status, 401, path);
      assert.match(res.headers.get('www-authenticate') ?? '', /^Bearer/);
      const err = await errorOf(res);
      assert.equal(err.code, 'HMD_ERR_UNAUTHORIZED');
      assert.match(err.message, /Authorization: Bearer/);
    }
  });

  it('answers POST routes without a token with 401 before reading the body', async () => {
    const res = await get(d, '/v1/events', { auth: false, method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"type":"node.created"}' });
    assert.equal(res.status, 401);
    const res2 = await get(d, '/v1/actions/heimdall.http-actions.ok/invoke', { auth: false, method: 'POST' });
    assert.equal(res2.status, 401);
  });

  it('refuses a wrong token and a header that is not a bearer token with 401', async () => {
    const wrong = await get(d, '/v1/status', { headers: { authorization: `Bearer ${TOKEN}x` } });
    assert.equal(wrong.status, 401);
    assert.match(wrong.headers.get('www-authenticate') ?? '', /invalid_token/);
    assert.equal((await errorOf(wrong)).code, 'HMD_ERR_UNAUTHORIZED');
    const shorter = await get(d, '/v1/status', { headers: { authorization: 'Bearer s3' } });
    assert.equal(shorter.status, 401);
    const basic = await get(d, '/v1/status', { headers: { authorization: `Basic ${Buffer.from(`u:${TOKEN}`).toString('base64')}` } });
    assert.equal(basic.status, 401);
    assert.match((await errorOf(basic)).message, /not a bearer token/);
  });

  it('answers 200 with the right token (scheme is case-insensitive)', async () => {
    const res = await get(d, '/v1/status');
    assert.equal(res.status, 200);
    const status = (await res.json()) as { state: string; plugins: { name: string }[] };
    assert.equal(status.state, 'running');
    assert.deepEqual(status.plugins.map((p) => p.name), ['http-actions']);
    const lower = await get(d, '/v1/plugins', { headers: { authorization: `bearer ${TOKEN}` } });
    assert.equal(lower.status, 200);
  });

  it('protects a percent-encoded spelling of a /v1 path too', async () => {
    const res = await get(d, '/v1/%73tatus', { auth: false });
    assert.notEqual(res.status, 200);
    assert.ok(res.status === 401 || res.status === 404, `got ${res.status}`);
  });

  it('keeps /healthz, /readyz and /metrics open without a token', async () => {
    const health = await get(d, '/healthz', { auth: false });
    assert.equal(health.status, 200);
    const h = (await health.json()) as { status: string; uptimeS: number };
    assert.equal(h.status, 'ok');
    assert.equal(typeof h.uptimeS, 'number');
    const ready = await get(d, '/readyz', { auth: false });
    assert.equal(ready.status, 200);
    assert.deepEqual(await ready.json(), { status: 'ready', reasons: [] });
    const metrics = await get(d, '/metrics', { auth: false });
    assert.equal(metrics.status, 200);
    assert.match(metrics.headers.get('content-type') ?? '', /^text\/plain/);
    assert.match(await metrics.text(), /# (HELP|TYPE) /);
  });

  it('asks for the token on unknown /v1 paths too, and answers 404 JSON with it', async () => {
    assert.equal((await get(d, '/v1/nope', { auth: false })).status, 401);
    const res = await get(d, '/v1/nope');
    assert.equal(res.status, 404);
    assert.equal((await errorOf(res)).code, 'HMD_ERR_NOT_FOUND');
  });
});

describe('admin API without a token', () => {
  let d: TestDaemon;
  before(async () => {
    d = await startTestDaemon([], '  host: 127.0.0.1\n');
    assert.equal(d.token, undefined);
  });
  after(async () => {
    await d.stop();
  });

  it('serves /v1 routes with no Authorization header', async () => {
    for (const path of ['/v1/status', '/v1/plugins', '/v1/actions']) {
      const res = await get(d, path);
      assert.equal(res.status, 200, path);
    }
    const body = (await (await get(d, '/v1/plugins')).json()) as { plugins: unknown[] };
    assert.deepEqual(body.plugins, []);
  });

  it('ignores an Authorization header when auth is off', async () => {
    const res = await get(d, '/v1/status', { headers: { authorization: 'Bearer anything' } });
    assert.equal(res.status, 200);
  });
});

describe('non-loopback bind without a token', () => {
  it('is refused by `heimdall start` with exit code 2 and a message naming server.token', async () => {
    const { dir, file } = writeConfig('server:\n  host: 0.0.0.0\n  port: 0\n  token: ""\n', process.env);
    const r = await runCli(['start', '--config', file], { cwd: dir });
    assert.equal(r.code, 2, `stdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
    assert.match(r.stderr + r.stdout, /server\.token/);
    assert.doesNotMatch(r.stdout, /Heimdall is listening on/);
  });

  it('is refused by startDaemon even when the config did not go through the loader', async () => {
    const base = defaultConfig();
    const config = { ...base, server: { ...base.server, host: '0.0.0.0', port: 0, token: '' } } as HeimdallConfig;
    await assert.rejects(startDaemon({ config, logger: pino({ level: 'silent' }) }), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'HMD_ERR_CONFIG');
      assert.match(err.message, /0\.0\.0\.0/);
      assert.match(err.message, /server\.token/);
      return true;
    });
  });
});
