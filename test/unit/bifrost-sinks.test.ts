/** Bifrost sinks: file (JSONL, rotation, filters), webhook (retries against a real local HTTP server, Slack text, bounds), log. */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, describe, it } from 'node:test';
import { pino } from 'pino';
import type { BifrostSinkConfig, WebhookSinkConfig } from '../../config/types.js';
import { BifrostBus, type BifrostInput, type BifrostMessage } from '../../daemon/bifrost/bus.js';
import { SinkSet } from '../../daemon/bifrost/sinks/index.js';
import { waitFor } from '../helpers/in-process-daemon.js';

const silent = pino({ level: 'silent' });
const note = (i: number, extra: Partial<BifrostInput> = {}): BifrostInput => ({
  kind: 'notification', level: 'info', title: `T${i}`, message: `message number ${i}`, origin: { kind: 'plugin', plugin: 'p' }, ...extra,
});
const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'heimdall-bifrost-sinks-'));
  dirs.push(d);
  return d;
}
const readLines = (f: string): BifrostMessage[] => readFileSync(f, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as BifrostMessage);

describe('file sink', () => {
  it('appends JSON lines and rotates by size, keeping maxFiles old files, none past maxBytes, the newest messages in order', async () => {
    const dir = tempDir();
    const bus = new BifrostBus(10, silent);
    const sinks = new SinkSet(bus, [{ type: 'file', path: 'logs/bifrost.jsonl', maxBytes: 2000, maxFiles: 2 }], dir, silent);
    for (let i = 0; i < 60; i++) {
      bus.publish(note(i));
      if (i % 7 === 0) await new Promise((r) => setImmediate(r));
    }
    await sinks.close(Date.now() + 1000);
    const base = join(dir, 'logs/bifrost.jsonl');
    for (const f of [base, `${base}.1`, `${base}.2`]) {
      assert.ok(existsSync(f), `${f} exists`);
      assert.ok(statSync(f).size <= 2000, `${f} is ${statSync(f).size} bytes, over maxBytes`);
    }
    assert.ok(!existsSync(`${base}.3`), 'no more than maxFiles rotated files');
    const all = [...readLines(`${base}.2`), ...readLines(`${base}.1`), ...readLines(base)].map((m) => m.id);
    assert.ok(all.length > 10);
    assert.deepEqual(all, Array.from({ length: all.length }, (_, k) => 61 - all.length + k), 'contiguous and ending with the newest');
    const st = sinks.stats()[0]!;
    assert.equal(st.written, 60);
    assert.ok((st.rotations ?? 0) >= 3);
    assert.equal(st.failed, 0);
  });

  it('applies its filters (level, plugins, kinds)', async () => {
    const dir = tempDir();
    const bus = new BifrostBus(10, silent);
    const cfg: BifrostSinkConfig[] = [
      { type: 'file', name: 'warnings', path: 'w.jsonl', maxBytes: 1e6, maxFiles: 1, level: 'warning' },
      { type: 'file', path: 'daemon.jsonl', maxBytes: 1e6, maxFiles: 1, plugins: ['daemon'], kinds: ['notification'] },
    ];
    const sinks = new SinkSet(bus, cfg, dir, silent);
    bus.publish(note(1, { level: 'error' }));
    bus.publish(note(2, { level: 'success' }));
    bus.publish(note(3, { origin: { kind: 'daemon' } }));
    bus.publish({ kind: 'message', message: 'plain', origin: { kind: 'daemon' } });
    await sinks.close(Date.now() + 1000);
    assert.deepEqual(readLines(join(dir, 'w.jsonl')).map((m) => m.id), [1]);
    assert.deepEqual(readLines(join(dir, 'daemon.jsonl')).map((m) => m.id), [3]);
    assert.deepEqual(sinks.stats().map((s) => s.name), ['warnings', 'file#1']);
  });

  it('counts and reports a path it cannot write instead of throwing into the bus', async () => {
    const dir = tempDir();
    const lines: string[] = [];
    const log = pino({ level: 'error' }, new Writable({ write: (c, _e, cb) => { lines.push(String(c)); cb(); } }));
    const bus = new BifrostBus(10, log);
    // A path under a regular file cannot be created.
    const sinks = new SinkSet(bus, [{ type: 'file', path: 'w.jsonl/inner.jsonl', maxBytes: 1e6, maxFiles: 1 }], dir, log);
    const blocker = new SinkSet(bus, [{ type: 'file', path: 'w.jsonl', maxBytes: 1e6, maxFiles: 1 }], dir, silent);
    bus.publish(note(1));
    await blocker.close(Date.now() + 1000);
    await sinks.close(Date.now() + 1000);
    const st = sinks.stats()[0]!;
    assert.equal(st.failed, 1);
    assert.ok(st.lastError);
    assert.ok(lines.some((l) => /could not write to .*inner\.jsonl .*1 messages were lost\. Check that the folder exists/.test(l)), lines.join('\n'));
  });
});

interface Received { body: string; headers: IncomingMessage['headers'] }

async function webhookServer(answer: (n: number, body: string) => number): Promise<{ server: Server; url: string; got: Received[]; ok: Received[] }> {
  const got: Received[] = [];
  const ok: Received[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8').on('data', (c: string) => (body += c)).on('end', () => {
      const r = { body, headers: req.headers };
      got.push(r);
      const status = answer(got.length, body);
      if (status < 300) ok.push(r);
      res.writeHead(status, { 'content-type': 'text/plain' }).end(status < 300 ? 'ok' : 'no');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook/secret-token`, got, ok };
}

const hook = (url: string, extra: Partial<WebhookSinkConfig> = {}): WebhookSinkConfig => ({
  type: 'webhook', url, format: 'json', timeoutMs: 2000, maxRetries: 5, backoffMs: 20, maxBackoffMs: 100, queueSize: 100, ...extra,
});

describe('webhook sink', () => {
  it('retries with backoff while the endpoint fails, then delivers every message once, in order', async () => {
    const w = await webhookServer((n) => (n <= 3 ? 503 : 200));
    try {
      const bus = new BifrostBus(10, silent);
      const sinks = new SinkSet(bus, [hook(w.url, { headers: { authorization: 'Bearer s3cret' } })], tempDir(), silent);
      const t0 = Date.now();
      for (let i = 0; i < 3; i++) bus.publish(note(i));
      // The server counts a delivery when it answers; the sink when it has read the answer.
      await waitFor('three deliveries', () => w.ok.length === 3 && sinks.stats()[0]!.written === 3, 5000);
      assert.ok(Date.now() - t0 >= 20 + 40 + 80 - 10, 'the retries waited with exponential backoff');
      assert.deepEqual(w.ok.map((r) => (JSON.parse(r.body) as BifrostMessage).id), [1, 2, 3]);
      assert.equal(w.got.length, 6, 'three failed attempts then three deliveries');
      assert.equal(w.ok[0]!.headers['authorization'], 'Bearer s3cret');
      assert.equal(w.ok[0]!.headers['content-type'], 'application/json');
      const st = sinks.stats()[0]!;
      assert.deepEqual({ written: st.written, failed: st.failed, retries: st.retries, dropped: st.dropped, queued: st.queued }, { written: 3, failed: 0, retries: 3, dropped: 0, queued: 0 });
      await sinks.close(Date.now() + 500);
    } finally {
      w.server.close();
    }
  });

  it('sends Slack-compatible { text } when format is slack, does not retry a 400, and gives up after maxRetries', async () => {
    const w = await webhookServer((_n, body) => (body.includes('refuse') ? 400 : body.includes('broken') ? 500 : 200));
    const lines: string[] = [];
    const log = pino({ level: 'warn' }, new Writable({ write: (c, _e, cb) => { lines.push(String(c)); cb(); } }));
    try {
      const bus = new BifrostBus(10, silent);
      const sinks = new SinkSet(bus, [hook(w.url, { format: 'slack', maxRetries: 2 })], tempDir(), log);
      bus.publish(note(1, { title: 'Hello', message: 'refuse me' }));
      bus.publish(note(2, { message: 'broken' }));
      bus.publish(note(3, { level: 'error', title: 'Disk', message: 'full' }));
      await waitFor('the last message', () => w.ok.length === 1 && sinks.stats()[0]!.written === 1 && sinks.stats()[0]!.failed === 2, 5000);
      assert.deepEqual(JSON.parse(w.ok[0]!.body), { text: ':rotating_light: *Disk* full _(p, notification #3)_' });
      assert.equal(w.got.length, 1 + 3 + 1, 'one try for the 400, 1 + maxRetries for the 500, one delivery');
      const st = sinks.stats()[0]!;
      assert.equal(st.failed, 2);
      assert.equal(st.written, 1);
      const text = lines.join('\n');
      assert.match(text, /refused message 1 with HTTP 400 Bad Request, which is not retried/);
      assert.match(text, /gave up on message 2 after 3 attempts/);
      assert.ok(!text.includes('secret-token'), 'the URL path (often a secret) is not logged');
      await sinks.close(Date.now() + 500);
    } finally {
      w.server.close();
    }
  });

  it('never blocks the bus: while the endpoint is down its queue stays bounded and drops are counted', async () => {
    const w = await webhookServer(() => 200);
    const url = w.url;
    await new Promise<void>((r) => w.server.close(() => r()));
    const bus = new BifrostBus(10, silent);
    const sinks = new SinkSet(bus, [hook(url, { queueSize: 5, maxRetries: 100, backoffMs: 1000, maxBackoffMs: 1000 })], tempDir(), silent);
    const t0 = performance.now();
    for (let i = 0; i < 50; i++) bus.publish(note(i));
    assert.ok(performance.now() - t0 < 50, 'publishing does not wait for the webhook');
    const st = sinks.stats()[0]!;
    assert.equal(st.queued, 6, 'five waiting plus the one being tried');
    assert.equal(st.dropped, 44);
    await sinks.close(Date.now() + 100);
    const end = sinks.stats()[0]!;
    assert.equal(end.received, 50);
    assert.equal(end.written + end.failed + end.dropped, 50, 'every message is accounted for at close');
  });
});

describe('log sink', () => {
  it('writes each message as a log line with the level mapped and the fields attached', async () => {
    const lines: Record<string, unknown>[] = [];
    const log = pino({ level: 'info' }, new Writable({ write: (c, _e, cb) => { lines.push(JSON.parse(String(c)) as Record<string, unknown>); cb(); } }));
    const bus = new BifrostBus(10, silent);
    const sinks = new SinkSet(bus, [{ type: 'log', level: 'success' }], '/', log);
    bus.publish(note(1, { level: 'info' }));
    bus.publish(note(2, { level: 'warning', data: { a: 1 } }));
    bus.publish(note(3, { level: 'error' }));
    await sinks.close(Date.now());
    assert.deepEqual(lines.map((l) => l['level']), [40, 50]);
    assert.equal(lines[0]!['msg'], 'Bifrost notification "T2": message number 2');
    assert.deepEqual(lines[0]!['data'], { a: 1 });
    assert.equal(lines[0]!['bifrostId'], 2);
  });
});
