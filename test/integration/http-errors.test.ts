/**
 * Every error status of the admin API against a real daemon (real HTTP on loopback; one daemon
 * for the file): 404/405 JSON, 413 with the limit, 415 with the accepted types, 400 for bad JSON
 * and bad bodies, the mapping of action outcomes (200 for success:false, 400, 404 with
 * suggestions, 500, 504, 503), and /readyz while a plugin is failed.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestDaemon, waitFor, type TestDaemon } from '../helpers/in-process-daemon.js';
import { fixturePlugin } from '../helpers/paths.js';
import { call } from '../helpers/public-api.js';

interface ErrorBody { error: { code: string; message: string; details?: Record<string, unknown> } }

const LIMIT = 64 * 1024;

async function expectError(res: Response, status: number, code: string): Promise<ErrorBody['error']> {
  const text = await res.text();
  assert.equal(res.status, status, text);
  assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
  const body = JSON.parse(text) as ErrorBody;
  assert.equal(body.error.code, code, text);
  assert.ok(body.error.message.length > 10, 'the message is a sentence');
  return body.error;
}

const json = (body: unknown): RequestInit => ({ method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

let d: TestDaemon;
const get = (path: string, init?: RequestInit): Promise<Response> => call(d, path, init);
before(async () => {
  d = await startTestDaemon(
    [
      `  - path: ${JSON.stringify(fixturePlugin('http-actions.mjs'))}`,
      '    restart: { backoffMs: 50, maxBackoffMs: 100 }',
      `  - path: ${JSON.stringify(fixturePlugin('http-init-fails.mjs'))}`,
      '    restart: { maxRestarts: 0 }',
    ],
    [
      '  token: tok',
      `  bodyLimitBytes: ${LIMIT}`,
      // A worker that dies mid-call must be noticed long before this deadline.
      'actions:',
      '  timeoutMs: 5000',
    ].join('\n'),
  );
});
after(async () => {
  await d.stop();
});

describe('admin API errors', () => {
  it('answers an unknown route with 404 JSON naming the method and path', async () => {
    const err = await expectError(await get('/nope?x=1'), 404, 'HMD_ERR_NOT_FOUND');
    assert.match(err.message, /GET \/nope\b/);
    assert.doesNotMatch(err.message, /x=1/);
    const post = await expectError(await get('/v1/nothing', json({})), 404, 'HMD_ERR_NOT_FOUND');
    assert.match(post.message, /POST \/v1\/nothing/);
  });

  it('answers a known path with the wrong method with 405 and Allow', async () => {
    const res = await get('/v1/events');
    assert.equal(res.headers.get('allow'), 'POST');
    const err = await expectError(res, 405, 'HMD_ERR_METHOD_NOT_ALLOWED');
    assert.match(err.message, /use POST/);
  });

  it('answers a body over server.bodyLimitBytes with 413 naming the limit and the setting', async () => {
    const big = JSON.stringify({ type: 'node.created', properties: { blob: 'x'.repeat(LIMIT) } });
    const err = await expectError(await get('/v1/events', { method: 'POST', headers: { 'content-type': 'application/json' }, body: big }), 413, 'HMD_ERR_BODY_TOO_LARGE');
    assert.match(err.message, /64 KiB/);
    assert.match(err.message, /server\.bodyLimitBytes/);
    assert.equal(err.details?.['limitBytes'], LIMIT);
    // NDJSON has the same limit, also when the body is streamed without a Content-Length.
    const lines = Array.from({ length: 2000 }, (_, i) => JSON.stringify({ type: 'node.created', nodeId: String(i) })).join('\n');
    const stream = new Blob([lines]).stream();
    const res = await get('/v1/events', { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body: stream, duplex: 'half' } as RequestInit);
    await expectError(res, 413, 'HMD_ERR_BODY_TOO_LARGE');
  });

  it('answers a wrong Content-Type with 415 listing the accepted types', async () => {
    const events = await expectError(await get('/v1/events', { method: 'POST', headers: { 'content-type': 'text/plain' }, body: '{"type":"node.created"}' }), 415, 'HMD_ERR_UNSUPPORTED_MEDIA_TYPE');
    assert.match(events.message, /text\/plain/);
    assert.deepEqual(events.details?.['accepted'], ['application/json', 'application/x-ndjson', 'application/ndjson']);
    // NDJSON is only for /v1/events.
    const prompt = await expectError(await get('/v1/prompt', { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body: '{"prompt":"x"}' }), 415, 'HMD_ERR_UNSUPPORTED_MEDIA_TYPE');
    assert.deepEqual(prompt.details?.['accepted'], ['application/json']);
  });

  it('answers a body that is not JSON with 400 HMD_ERR_BAD_REQUEST', async () => {
    for (const path of ['/v1/events', '/v1/prompt', '/v1/actions/heimdall.http-actions.ok/invoke']) {
      const err = await expectError(await get(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"type":' }), 400, 'HMD_ERR_BAD_REQUEST');
      assert.match(err.message, /not valid JSON/, path);
    }
    await expectError(await get('/v1/events', json(42)), 400, 'HMD_ERR_BAD_REQUEST');
    await expectError(await get('/v1/events', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '' }), 400, 'HMD_ERR_BAD_REQUEST');
  });

  it('refuses a JSON body that would set __proto__', async () => {
    const body = '{"prompt":"x","context":{"__proto__":{"polluted":true}}}';
    const err = await expectError(await get('/v1/prompt', { method: 'POST', headers: { 'content-type': 'application/json' }, body }), 400, 'HMD_ERR_BAD_REQUEST');
    assert.match(err.message, /__proto__/);
  });

  it('answers a successful invocation with 200 and the ActionResult', async () => {
    const res = await get('/v1/actions/heimdall.http-actions.ok/invoke', json({ params: { text: 'hi' } }));
    assert.equal(res.status, 200);
    const result = (await res.json()) as { success: boolean; message: string; data: { trigger: { kind: string } } };
    assert.equal(result.success, true);
    assert.equal(result.message, 'ok: hi');
    assert.equal(result.data.trigger.kind, 'operator');
  });

  it('answers an ActionResult with success:false with 200', async () => {
    const res = await get('/v1/actions/heimdall.http-actions.refuse/invoke', { method: 'POST' });
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { success: false, message: 'Refused on purpose.' });
  });

  it('answers an unknown action with 404 and suggestions in details', async () => {
    const err = await expectError(await get('/v1/actions/heimdall.http-actions.okk/invoke', json({})), 404, 'HMD_ERR_ACTION_NOT_FOUND');
    const suggestions = err.details?.['suggestions'] as string[];
    assert.ok(Array.isArray(suggestions));
    assert.ok(suggestions.includes('heimdall.http-actions.ok'), JSON.stringify(err));
  });

  it('answers invalid params with 400 HMD_ERR_INVALID_PARAMS, and a malformed body with 400 HMD_ERR_BAD_REQUEST', async () => {
    const err = await expectError(await get('/v1/actions/heimdall.http-actions.ok/invoke', json({ params: { text: 5 } })), 400, 'HMD_ERR_INVALID_PARAMS');
    assert.match(err.message, /text/);
    const flat = await expectError(await get('/v1/actions/heimdall.http-actions.ok/invoke', json({ text: 'hi' })), 400, 'HMD_ERR_BAD_REQUEST');
    assert.match(flat.message, /"text"/);
    assert.match(flat.message, /params/);
    await expectError(await get('/v1/actions/heimdall.http-actions.ok/invoke', json({ params: [1] })), 400, 'HMD_ERR_BAD_REQUEST');
  });

  it('answers an action that throws with 500 HMD_ERR_ACTION_FAILED carrying its message', async () => {
    const err = await expectError(await get('/v1/actions/heimdall.http-actions.boom/invoke', json({})), 500, 'HMD_ERR_ACTION_FAILED');
    assert.match(err.message, /planned failure/);
  });

  it('answers an action past its deadline with 504 HMD_ERR_ACTION_TIMEOUT', async () => {
    const err = await expectError(await get('/v1/actions/heimdall.http-actions.slow/invoke', json({})), 504, 'HMD_ERR_ACTION_TIMEOUT');
    assert.match(err.message, /200 ms/);
  });

  it('validates the prompt body: 400 for a missing prompt or an unknown field', async () => {
    await expectError(await get('/v1/prompt', json({})), 400, 'HMD_ERR_BAD_REQUEST');
    await expectError(await get('/v1/prompt', json({ prompt: '  ' })), 400, 'HMD_ERR_BAD_REQUEST');
    const extra = await expectError(await get('/v1/prompt', json({ prompt: 'x', temprature: 1 })), 400, 'HMD_ERR_BAD_REQUEST');
    assert.match(extra.message, /temprature/);
  });

  it('answers a prompt with no model configured with an ActionResult or a 503, never a crash', async () => {
    const res = await get('/v1/prompt', json({ prompt: 'How many nodes were deleted?' }));
    const body = (await res.json()) as { success?: boolean; message?: string; error?: { code: string } };
    if (res.status === 200) {
      assert.equal(body.success, false);
      assert.match(body.message ?? '', /model/i);
    } else {
      assert.equal(res.status, 503);
      assert.equal(body.error?.code, 'HMD_ERR_NO_MODEL');
    }
  });

  it('answers an action whose worker dies mid-call with 503 HMD_ERR_PLUGIN_UNAVAILABLE, and the daemon keeps serving', async () => {
    const err = await expectError(await get('/v1/actions/heimdall.http-actions.crash/invoke', json({})), 503, 'HMD_ERR_PLUGIN_UNAVAILABLE');
    assert.match(err.message, /http-actions/);
    assert.equal((await get('/healthz')).status, 200);
  });
});

describe('/readyz when a plugin failed', () => {
  it('answers 200 with the failed plugin in the reasons (failed for good does not hold readiness back), while /healthz stays 200', async () => {
    // The crash test above restarts http-actions, and a plugin that is restarting does hold readiness back.
    await waitFor('http-actions to run again', async () =>
      ((await (await get('/v1/status')).json()) as { plugins: Array<{ name: string; state: string }> }).plugins.find((p) => p.name === 'http-actions')?.state === 'running');
    const res = await get('/readyz');
    const text = await res.text();
    assert.equal(res.status, 200, text);
    const body = JSON.parse(text) as { status: string; reasons: string[] };
    assert.equal(body.status, 'ready');
    assert.ok(body.reasons.some((r) => /http-init-fails/.test(r) && /refuses to start/.test(r)), JSON.stringify(body.reasons));
    assert.equal((await get('/healthz')).status, 200);
  });
});
