/**
 * The console as HTTP sees it: GET /console under its Content-Security-Policy with no inline
 * script or style, its assets (typed, gzipped, immutable), within the 150 KB budget, open without
 * a token while every /v1 route the page uses needs one; GET /v1/metrics/history; an unbuilt
 * console answers 503 with what to run.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import Fastify from 'fastify';
import type { RunningDaemon } from '../../daemon/daemon.js';
import { CONSOLE_CSP, DEFAULT_CONSOLE_DIR, registerConsoleRoutes } from '../../daemon/http/routes-console.js';
import type { MetricsHistoryResult } from '../../daemon/http/routes-history.js';
import { call, freePort, plugin, startConsoleDaemon } from '../helpers/console-daemon.js';
import { fixturePlugin } from '../helpers/paths.js';

const TOKEN = 'console-http-token';
const BUDGET = 150 * 1024;

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => (statSync(join(dir, n)).isDirectory() ? filesUnder(join(dir, n)) : [join(dir, n)]));
}

describe('GET /console and GET /v1/metrics/history', () => {
  let d: RunningDaemon;
  before(async () => {
    d = await startConsoleDaemon({ port: await freePort(), token: TOKEN, plugins: [plugin(fixturePlugin('recorder.mjs'))] });
  });
  after(async () => {
    await d?.stop();
  });

  it('serves the page without a token, under a strict CSP, with no inline script, style or data: URL', async () => {
    const res = await fetch(`${d.url}/console`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-security-policy'), CONSOLE_CSP);
    assert.match(CONSOLE_CSP, /default-src 'self'/);
    assert.doesNotMatch(CONSOLE_CSP, /unsafe-inline|unsafe-eval|\*/);
    assert.equal(res.headers.get('x-frame-options'), 'DENY');
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
    assert.match(res.headers.get('content-type') ?? '', /^text\/html/);
    const html = await res.text();
    assert.doesNotMatch(html, /<script\b(?![^>]*\bsrc=)[^>]*>/i, 'no inline script');
    assert.doesNotMatch(html, /<style\b|\sstyle=/i, 'no inline style');
    assert.doesNotMatch(html, /(src|href)="(data:|https?:)/i, 'nothing inlined, nothing from another origin');
    assert.equal((await fetch(`${d.url}/console/`)).status, 200);
  });

  it('serves every asset the page names, typed, gzipped on request and cached as immutable; an unknown one is a 404', async () => {
    const html = await (await fetch(`${d.url}/console`)).text();
    const refs = [...html.matchAll(/(?:src|href)="(\/console\/assets\/[^"]+)"/g)].map((m) => m[1]!);
    assert.ok(refs.some((r) => r.endsWith('.js')) && refs.some((r) => r.endsWith('.css')), `the page links its script and stylesheet: ${refs.join(', ')}`);
    for (const ref of refs) {
      const plain = await fetch(`${d.url}${ref}`, { headers: { 'accept-encoding': 'identity' } });
      assert.equal(plain.status, 200, ref);
      assert.equal(plain.headers.get('cache-control'), 'public, max-age=31536000, immutable');
      const type = plain.headers.get('content-type') ?? '';
      if (ref.endsWith('.js')) assert.match(type, /^text\/javascript/);
      if (ref.endsWith('.css')) assert.match(type, /^text\/css/);
      if (ref.endsWith('.svg')) assert.match(type, /^image\/svg\+xml/);
      const body = Buffer.from(await plain.arrayBuffer());
      // node's fetch decodes gzip itself; ask through a raw request to see the encoding.
      const raw = await new Promise<{ encoding: string | undefined; body: Buffer }>((resolve, reject) => {
        import('node:http').then(({ get }) => {
          get(`${d.url}${ref}`, { headers: { 'accept-encoding': 'gzip' } }, (r) => {
            const chunks: Buffer[] = [];
            r.on('data', (c: Buffer) => chunks.push(c));
            r.on('end', () => resolve({ encoding: r.headers['content-encoding'], body: Buffer.concat(chunks) }));
          }).on('error', reject);
        }, reject);
      });
      assert.equal(raw.encoding, 'gzip', ref);
      assert.deepEqual(gunzipSync(raw.body), body);
    }
    const missing = await fetch(`${d.url}/console/assets/nope.js`);
    assert.equal(missing.status, 404);
    assert.equal(((await missing.json()) as { error: { code: string } }).error.code, 'HMD_ERR_NOT_FOUND');
    assert.equal((await fetch(`${d.url}/console/assets/..%2F..%2Fpackage.json`)).status, 404);
  });

  it('keeps the built console within 150 KB gzipped in all', () => {
    const files = filesUnder(DEFAULT_CONSOLE_DIR);
    const total = files.reduce((n, f) => n + gzipSync(readFileSync(f), { level: 9 }).length, 0);
    assert.ok(files.length >= 3, `the build has its files: ${files.join(', ')}`);
    assert.ok(total <= BUDGET, `${total} bytes gzipped, over the budget of ${BUDGET}`);
  });

  it('keeps every /v1 route the page uses behind the token', async () => {
    for (const path of ['/v1/status', '/v1/bifrost/stream', '/v1/confirmations', '/v1/invocations', '/v1/actions', '/v1/metrics/history', '/v1/bifrost/status']) {
      assert.equal((await fetch(`${d.url}${path}`)).status, 401, path);
    }
  });

  it('GET /v1/metrics/history answers the sampled counters, only the newer ones with ?since=, and refuses a bad since', async () => {
    const all = await call<MetricsHistoryResult>(d.url, '/v1/metrics/history', undefined, TOKEN);
    assert.equal(all.status, 200);
    assert.equal(all.body.intervalMs, 5000);
    assert.equal(all.body.windowMs, 15 * 60_000);
    assert.equal(all.body.capacity, 180);
    assert.ok(all.body.samples.length >= 1, 'a sample is taken at start');
    const s = all.body.samples[0]!;
    assert.deepEqual(Object.keys(s.plugins), ['recorder']);
    assert.deepEqual(Object.keys(s.plugins['recorder']!).sort(), ['capacity', 'delivered', 'deliveredPerS', 'dropped', 'droppedPerS', 'failed', 'failedPerS', 'queued', 'received', 'receivedPerS']);
    const newer = await call<MetricsHistoryResult>(d.url, `/v1/metrics/history?since=${all.body.samples[all.body.samples.length - 1]!.t}`, undefined, TOKEN);
    assert.deepEqual(newer.body.samples, []);
    const bad = await call<{ error: { message: string } }>(d.url, '/v1/metrics/history?since=10m', undefined, TOKEN);
    assert.equal(bad.status, 400);
    assert.match(bad.body.error.message, /milliseconds since the epoch/);
    assert.equal((await call(d.url, '/v1/metrics/history?until=1', undefined, TOKEN)).status, 400);
  });

  it('answers 503 with what to run while the console is not built', async () => {
    const app = Fastify();
    registerConsoleRoutes(app, { dir: mkdtempSync(join(tmpdir(), 'heimdall-no-console-')) });
    const r = await app.inject({ method: 'GET', url: '/console' });
    assert.equal(r.statusCode, 503);
    assert.match(r.body, /npm run build/);
    await app.close();
  });
});
