/**
 * The rules plugin in real workers of a real daemon: a local HTTP server as the webhook that fails
 * the first attempts (retry delays measured), a dead letter that survives a daemon restart and is
 * retried, the security scenario end to end with the anomaly plugin, and a broken rule reported
 * while the others run. The plugin is counted like any other.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parse } from 'yaml';
import type { RunningDaemon } from '../../daemon/daemon.js';
import type { ActionResult } from '../../sdk/index.js';
import { pluginYaml, startTestDaemon, waitFor } from '../helpers/in-process-daemon.js';
import { REPO_ROOT } from '../helpers/paths.js';

const RULES = resolve(REPO_ROOT, 'plugins/rules');
const ANOMALY = resolve(REPO_ROOT, 'plugins/anomaly');

interface Hit {
  at: number;
  headers: IncomingMessage['headers'];
  body: unknown;
}

/** A webhook receiver on a free loopback port that answers `fail` (500) for the first `failFirst` requests. */
async function webhookServer(failFirst: number): Promise<{ url: string; hits: Hit[]; setFailFirst(n: number): void; close(): Promise<void> }> {
  const hits: Hit[] = [];
  let failing = failFirst;
  const server: Server = createServer((req, res) => {
    let data = '';
    req.on('data', (c: Buffer) => (data += c.toString()));
    req.on('end', () => {
      hits.push({ at: performance.now(), headers: req.headers, body: data ? JSON.parse(data) : undefined });
      if (hits.length <= failing) {
        res.writeHead(500, { 'content-type': 'text/plain' }).end(`not yet (${hits.length})`);
      } else res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    hits,
    setFailFirst: (n) => (failing = n),
    close: () => new Promise((r) => server.close(() => r())),
  };
}

function rulesPlugin(config: Record<string, unknown>): string {
  return pluginYaml(RULES, `config: ${JSON.stringify(config)}`);
}

const invoke = (d: RunningDaemon, action: string, params: Record<string, unknown> = {}): Promise<ActionResult> => d.api.invokeAction(`heimdall.rules.${action}`, params, { kind: 'operator' });

test('a webhook that fails twice is retried with exponential backoff and succeeds on the third attempt, in a real worker', async () => {
  const hook = await webhookServer(2);
  const dir = mkdtempSync(join(tmpdir(), 'heimdall-rules-it-'));
  const rule = {
    name: 'big-order',
    on: 'node.created',
    match: { labels: 'Order' },
    when: 'event.properties.total > 1000',
    actions: [{ webhook: { url: hook.url, headers: { 'x-rule': '{{ rule.name }}' }, body: { id: '{{ event.properties.id }}', total: '{{ event.properties.total }}' } }, retry: { maxAttempts: 3, initialDelayMs: 200, backoff: 'exponential' } }],
  };
  const d = await startTestDaemon([rulesPlugin({ baseDir: dir, rules: [rule] })]);
  try {
    assert.deepEqual(d.api.plugins().map((p) => [p.name, p.state]), [['rules', 'running']]);
    d.api.ingest(
      [
        { type: 'node.created', nodeLabels: ['Order'], properties: { id: 'o-1', total: 1500 } },
        { type: 'query.failed', error: 'no rule wants this' },
        { type: 'node.created', nodeLabels: ['Order'], properties: { id: 'o-2', total: 10 } },
      ],
      'http',
    );
    await waitFor('three webhook attempts', () => hook.hits.length >= 3, 10_000);
    await waitFor('the firing in the history', async () => ((await invoke(d, 'history', { name: 'big-order' })).data!.firings as unknown[]).length === 1);
    const gaps = [hook.hits[1]!.at - hook.hits[0]!.at, hook.hits[2]!.at - hook.hits[1]!.at];
    assert.ok(gaps[0]! >= 190 && gaps[0]! < 600, `first retry after ~200 ms, got ${gaps[0]} ms`);
    assert.ok(gaps[1]! >= 390 && gaps[1]! < 800, `second retry after ~400 ms, got ${gaps[1]} ms`);
    for (const h of hook.hits) assert.deepEqual(h.body, { id: 'o-1', total: 1500 });
    assert.equal(hook.hits[0]!.headers['x-rule'], 'big-order');
    assert.equal(hook.hits[0]!.headers['content-type'], 'application/json');
    const f = ((await invoke(d, 'history', { name: 'big-order' })).data!.firings as Array<{ status: string; actions: Array<{ attempts: number; result: unknown }> }>)[0]!;
    assert.equal(f.status, 'succeeded');
    assert.equal(f.actions[0]!.attempts, 3);
    assert.deepEqual(f.actions[0]!.result, { status: 200, body: '{"ok":true}' });
    const show = await invoke(d, 'show', { name: 'big-order' });
    const stats = show.data!.statistics as { matched: number; fired: number; actions: Record<string, number> };
    assert.equal(stats.matched, 1);
    assert.equal(stats.fired, 1);
    assert.deepEqual(stats.actions, { succeeded: 1, failed: 0, retries: 2, deadLettered: 0 });
    // the engine is a plugin like any other: its queue counts every event, and it subscribes
    // only to the types its rules name (the query.failed never reached it)
    const c = d.api.plugins().find((p) => p.name === 'rules')!.counters;
    assert.equal(c.received, 2);
    assert.equal(c.delivered, 2);
  } finally {
    await d.stop();
    await hook.close();
  }
});

test('a dead letter survives a daemon restart and is retried; a broken rule is reported while the others run', async () => {
  const hook = await webhookServer(1000);
  const dir = mkdtempSync(join(tmpdir(), 'heimdall-rules-it-'));
  const rules = [
    { name: 'broken', on: 'node.created', when: 'event.properties.total >>> 3', actions: [{ log: { message: 'never' } }] },
    { name: 'notify-finance', on: 'node.created', actions: [{ webhook: { url: hook.url, body: { id: '{{ event.properties.id }}' } }, retry: { maxAttempts: 2, initialDelayMs: 50 } }] },
  ];
  const cfg = { baseDir: dir, rules };
  let d = await startTestDaemon([rulesPlugin(cfg)]);
  let id: string;
  try {
    const st = await invoke(d, 'status');
    assert.match(st.message, /^1 rule loaded \(1 active, 0 paused, 0 disabled\); 1 invalid;/);
    const inv = st.data!.invalid as Array<{ name: string; errors: Array<{ path: string; message: string }> }>;
    assert.equal(inv[0]!.name, 'broken');
    assert.match(inv[0]!.errors[0]!.message, /^The rule "broken" is invalid at when \(line 1, column \d+\)/);
    d.api.ingest([{ type: 'node.created', id: 'ev-42', properties: { id: 'o-9' } }], 'http');
    await waitFor('the dead letter', async () => (await invoke(d, 'deadLetters')).data!.count === 1, 10_000);
    assert.equal(hook.hits.length, 2);
    const entry = ((await invoke(d, 'deadLetters')).data!.entries as Array<{ id: string; eventId: string; attempts: number; lastError: string }>)[0]!;
    id = entry.id;
    assert.equal(entry.eventId, 'ev-42');
    assert.equal(entry.attempts, 2);
    assert.match(entry.lastError, /answered HTTP 500: not yet \(2\)/);
  } finally {
    await d.stop();
  }
  const lines = readFileSync(join(dir, '.heimdall/rules-dead-letters.jsonl'), 'utf8').trim().split('\n');
  assert.equal(lines.length, 1);
  assert.equal(parse(lines[0]!).entry.id, id);

  d = await startTestDaemon([rulesPlugin(cfg)]);
  try {
    const listed = (await invoke(d, 'deadLetters')).data!.entries as Array<{ id: string }>;
    assert.deepEqual(listed.map((e) => e.id), [id]);
    hook.setFailFirst(0);
    const r = await invoke(d, 'retryDeadLetter', { id });
    assert.equal(r.success, true, r.message);
    assert.deepEqual(hook.hits.at(-1)!.body, { id: 'o-9' });
    assert.equal((await invoke(d, 'deadLetters')).data!.count, 0);
  } finally {
    await d.stop();
    await hook.close();
  }
});

test('the security example in real workers: five query.failed make the rules plugin queue anomaly.detect and a prompt; results reach Bifrost', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'heimdall-rules-it-'));
  const rule = parse(readFileSync(join(RULES, 'examples/security-query-failures.yaml'), 'utf8')) as Record<string, unknown>;
  const d = await startTestDaemon([rulesPlugin({ baseDir: dir, rules: [rule] }), pluginYaml(ANOMALY)]);
  try {
    d.api.ingest(Array.from({ length: 5 }, (_, i) => ({ type: 'query.failed', query: 'MATCH (n) RETURN n.x', error: `failure ${i}` })), 'http');
    await waitFor('the anomaly notification and both async results', () => {
      const m = d.internals.bus.since(0);
      return m.some((x) => x.title === 'Anomaly detected') && m.some((x) => x.data?.name === 'heimdall.anomaly.detect') && m.some((x) => x.data?.kind === 'prompt');
    });
    const msgs = d.internals.bus.since(0);
    const detect = msgs.find((x) => x.data?.name === 'heimdall.anomaly.detect')!;
    assert.equal(detect.level, 'success');
    assert.equal(detect.origin.plugin, 'rules');
    assert.match(detect.message, /Detected 5 events of kind query_failures/);
    const show = await invoke(d, 'show', { name: 'query-failures' });
    assert.equal((show.data!.statistics as { fired: number }).fired, 1);
  } finally {
    await d.stop();
  }
});
