/**
 * POST /v1/events against a real daemon (real HTTP on loopback, the plugin in its worker): one
 * event, an array, NDJSON (both media types, CRLF, blank lines), per-item rejection with indexes
 * and NDJSON line numbers, the all-rejected 400, delivery of the accepted events to the plugin,
 * and the 503 while the daemon stops.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { pluginYaml, startTestDaemon, type TestDaemon } from '../helpers/in-process-daemon.js';
import { fixturePlugin } from '../helpers/paths.js';
import { call, untilQueuesEmpty } from '../helpers/public-api.js';

interface Rejection { index: number; line?: number; id?: string; reason: string }
interface Answer { accepted: number; rejected: Rejection[]; rejectedCount: number; ids: string[] }

describe('POST /v1/events', () => {
  let d: TestDaemon;
  let sent = 0;

  const post = (body: string, type: string): Promise<Response> =>
    call(d, '/v1/events', { method: 'POST', headers: { 'content-type': type }, body });

  async function answer(res: Response, status = 200): Promise<Answer> {
    const text = await res.text();
    assert.equal(res.status, status, text);
    return JSON.parse(text) as Answer;
  }

  async function eventsSeen(): Promise<number> {
    const res = await call(d, '/v1/actions/heimdall.http-actions.count/invoke', { method: 'POST' });
    return ((await res.json()) as { data: { events: number } }).data.events;
  }

  /** The accepted events are routed when POST answers: once the queue is empty the plugin has had every one, and no more. */
  async function waitForSeen(n: number): Promise<void> {
    await untilQueuesEmpty(d);
    assert.equal(await eventsSeen(), n, 'events delivered to the plugin');
  }

  before(async () => {
    d = await startTestDaemon([pluginYaml(fixturePlugin('http-actions.mjs'), 'queue: { capacity: 100000 }')], '  token: tok\n');
  });
  after(async () => {
    await d.stop();
  });

  it('accepts one event object and fills in the id', async () => {
    const a = await answer(await post(JSON.stringify({ type: 'node.created', nodeId: '4:a:1', nodeLabels: ['Person'] }), 'application/json'));
    assert.equal(a.accepted, 1);
    assert.deepEqual(a.rejected, []);
    assert.equal(a.ids.length, 1);
    assert.ok(a.ids[0]!.length > 0);
    sent += 1;
    await waitForSeen(sent);
  });

  it('accepts an array and reports each rejected item with its index and id', async () => {
    const items = [
      { id: 'ok-1', type: 'node.deleted' },
      { id: 'bad-type', type: 'node.exploded' },
      { id: 'ok-2', type: 'query.failed', error: 'syntax' },
      { id: 'bad-field', type: 'node.created', colour: 'red' },
    ];
    const a = await answer(await post(JSON.stringify(items), 'application/json'));
    assert.equal(a.accepted, 2);
    assert.deepEqual(a.ids, ['ok-1', 'ok-2']);
    assert.equal(a.rejectedCount, 2);
    assert.deepEqual(a.rejected.map((r) => [r.index, r.id]), [[1, 'bad-type'], [3, 'bad-field']]);
    for (const r of a.rejected) assert.ok(r.reason.length > 10, r.reason);
    sent += 2;
    await waitForSeen(sent);
  });

  it('accepts NDJSON, skips blank lines, and rejects a line that is not JSON on its own with its line number', async () => {
    const body = [
      JSON.stringify({ type: 'node.created', nodeId: '1' }),
      '',
      '{"type": "node.created", "nodeId": ',
      JSON.stringify({ type: 'node.updated', nodeId: '1' }),
      '   ',
      JSON.stringify({ type: 'no.such.type' }),
      JSON.stringify({ type: 'node.deleted', nodeId: '1' }),
      '',
    ].join('\n');
    const a = await answer(await post(body, 'application/x-ndjson'));
    assert.equal(a.accepted, 3);
    assert.equal(a.ids.length, 3);
    assert.equal(a.rejectedCount, 2);
    assert.deepEqual(a.rejected.map((r) => [r.index, r.line]), [[1, 3], [3, 6]]);
    assert.match(a.rejected[0]!.reason, /Line 3 is not valid JSON/);
    sent += 3;
    await waitForSeen(sent);
  });

  it('accepts application/ndjson, a byte-order mark and CRLF line endings', async () => {
    const body = `\uFEFF${JSON.stringify({ type: 'transaction.commit', txId: '7' })}\r\n${JSON.stringify({ type: 'transaction.rollback', txId: '8' })}\r\n`;
    const a = await answer(await post(body, 'application/ndjson; charset=utf-8'));
    assert.equal(a.accepted, 2);
    assert.deepEqual(a.rejected, []);
    sent += 2;
    await waitForSeen(sent);
  });

  it('answers 400 HMD_ERR_INVALID_EVENT with the per-item answer in details when every event is rejected', async () => {
    const res = await post('not json\n{"type":"nope"}\n', 'application/x-ndjson');
    const text = await res.text();
    assert.equal(res.status, 400, text);
    const err = (JSON.parse(text) as { error: { code: string; message: string; details: Answer } }).error;
    assert.equal(err.code, 'HMD_ERR_INVALID_EVENT');
    assert.match(err.message, /None of the 2 events/);
    assert.equal(err.details.accepted, 0);
    assert.deepEqual(err.details.ids, []);
    assert.deepEqual(err.details.rejected.map((r) => r.line), [1, 2]);
    const single = await post(JSON.stringify({ nodeId: 'no type' }), 'application/json');
    assert.equal(single.status, 400);
    assert.equal(((await single.json()) as { error: { code: string } }).error.code, 'HMD_ERR_INVALID_EVENT');
  });

  it('answers an empty batch with 200 and nothing accepted', async () => {
    assert.deepEqual(await answer(await post('[]', 'application/json')), { accepted: 0, rejected: [], rejectedCount: 0, ids: [] });
    assert.deepEqual(await answer(await post('\n\n', 'application/x-ndjson')), { accepted: 0, rejected: [], rejectedCount: 0, ids: [] });
  });

  it('rejects an NDJSON line with a __proto__ key and keeps the others', async () => {
    const body = `{"type":"node.created","properties":{"__proto__":{"admin":true}}}\n${JSON.stringify({ type: 'node.created' })}\n`;
    const a = await answer(await post(body, 'application/x-ndjson'));
    assert.equal(a.accepted, 1);
    assert.deepEqual(a.rejected.map((r) => r.line), [1]);
    assert.match(a.rejected[0]!.reason, /__proto__/);
    sent += 1;
    await waitForSeen(sent);
  });

  it('ingests a large NDJSON batch in order and delivers every event', async () => {
    const n = 20_000;
    const body = Array.from({ length: n }, (_, i) => JSON.stringify({ id: `bulk-${i}`, type: 'node.created', nodeId: String(i) })).join('\n');
    const a = await answer(await post(body, 'application/x-ndjson'));
    assert.equal(a.accepted, n);
    assert.equal(a.rejectedCount, 0);
    assert.equal(a.ids[0], 'bulk-0');
    assert.equal(a.ids[n - 1], `bulk-${n - 1}`);
    sent += n;
    await waitForSeen(sent);
    const last = await call(d, '/v1/actions/heimdall.http-actions.count/invoke', { method: 'POST' });
    const data = ((await last.json()) as { data: { lastEvent: { id: string; source: string } } }).data;
    assert.equal(data.lastEvent.id, `bulk-${n - 1}`);
    assert.equal(data.lastEvent.source, 'http');
  });

  it('lists at most 1000 rejections but counts them all', async () => {
    const body = Array.from({ length: 1500 }, () => '{"type":"bad"}').concat([JSON.stringify({ type: 'node.read' })]).join('\n');
    const a = await answer(await post(body, 'application/x-ndjson'));
    assert.equal(a.accepted, 1);
    assert.equal(a.rejectedCount, 1500);
    assert.equal(a.rejected.length, 1000);
    sent += 1;
    await waitForSeen(sent);
  });
});

describe('POST /v1/events while the daemon stops', () => {
  // SIGTERM is one way into stop() (test/integration/cli-start.test.ts shows that it is); the
  // plugin's stop() holds the daemon in its drain until the stop deadline (1 s at least).
  it('answers 503 HMD_ERR_SHUTTING_DOWN, and /readyz 503, once the daemon is stopping', async () => {
    const d = await startTestDaemon([pluginYaml(fixturePlugin('http-slow-stop.mjs'))], 'shutdown:\n  drainTimeoutMs: 0\n');
    const stopping = d.stop('test');
    try {
      assert.equal(d.api.status().state, 'draining');
      const res = await call(d, '/v1/events', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"type":"node.created"}' });
      const text = await res.text();
      assert.equal(res.status, 503, text);
      const err = (JSON.parse(text) as { error: { code: string; message: string; details: Answer } }).error;
      assert.equal(err.code, 'HMD_ERR_SHUTTING_DOWN');
      assert.equal(err.details.rejectedCount, 1);
      assert.equal((await call(d, '/readyz')).status, 503);
      assert.equal((await call(d, '/healthz')).status, 200);
    } finally {
      await stopping;
    }
  });
});
