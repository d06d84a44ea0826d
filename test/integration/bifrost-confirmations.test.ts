/**
 * Confirmations end to end: a plugin in a worker calls ctx.bifrost.requestConfirmation, an operator
 * answers over HTTP (POST /v1/confirmations/{id}); approved, denied, timed out, answered twice,
 * unknown ids and bad bodies; the request and result messages on the stream. Bifrost runs on a
 * fake clock, so a deadline passes when the test moves the time, not after a real wait.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { BifrostMessage } from '../../daemon/bifrost/bus.js';
import type { ConfirmationInfo } from '../../daemon/bifrost/confirmations.js';
import { connectSse, type SseConnection } from '../../daemon/bifrost/sse-client.js';
import { FakeClock } from '../helpers/fake-clock.js';
import { pluginYaml, startTestDaemon, waitFor, type TestDaemon } from '../helpers/in-process-daemon.js';
import { confirmation } from '../helpers/public-api.js';
import { fixturePlugin } from '../helpers/paths.js';

type Result = { success: boolean; message: string; data?: { approved?: boolean } };

describe('Bifrost confirmations over HTTP', () => {
  let d: TestDaemon;
  let stream: SseConnection;
  const seen: BifrostMessage[] = [];
  const clock = new FakeClock();

  before(async () => {
    d = await startTestDaemon([pluginYaml(fixturePlugin('bifrost-confirm.mjs'))], 'bifrost:\n  sinks: []\n', { clock });
    stream = await connectSse(`${d.url}/v1/bifrost/stream?kind=confirmation_request,confirmation_result`, {
      onEvent: (e) => {
        if (e.hasId) seen.push(JSON.parse(e.data) as BifrostMessage);
      },
    });
  });
  after(async () => {
    stream?.close();
    await d?.stop();
  });

  const ask = (params: Record<string, unknown>): Promise<Result> =>
    fetch(`${d.url}/v1/actions/heimdall.bifrost-confirm.ask/invoke`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ params }),
    }).then(async (r) => {
      assert.equal(r.status, 200);
      return (await r.json()) as Result;
    });

  const answer = (id: string, body: unknown) =>
    fetch(`${d.url}/v1/confirmations/${id}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

  async function pendingFor(action: string): Promise<ConfirmationInfo> {
    let found: ConfirmationInfo | undefined;
    await waitFor(`the confirmation request for ${action}`, async () => {
      const body = (await (await fetch(`${d.url}/v1/confirmations`)).json()) as { confirmations: ConfirmationInfo[] };
      found = body.confirmations.find((c) => c.action === action);
      return found !== undefined;
    });
    return found!;
  }

  it('lists a pending request and resolves the plugin with true when an operator approves it', async () => {
    const result = ask({ action: 'drop index idx_people', timeoutMs: 30_000, details: { index: 'idx_people' } });
    const c = await pendingFor('drop index idx_people');
    assert.equal(c.state, 'pending');
    assert.equal(c.requestedBy, 'bifrost-confirm');
    assert.deepEqual(c.details, { index: 'idx_people' });
    assert.ok(c.invocationId, 'the invocation that asks is named');
    assert.equal(Date.parse(c.deadline), clock.now() + 30_000, 'the deadline is timeoutMs from the request, on the clock of Bifrost');
    const res = await answer(c.id, { approve: true, reason: 'planned maintenance' });
    assert.equal(res.status, 200);
    const info = (await res.json()) as ConfirmationInfo;
    assert.equal(info.state, 'approved');
    assert.equal(info.reason, 'planned maintenance');
    assert.deepEqual((await result).data, { approved: true });
    await waitFor('the request and the result on the stream', () => seen.filter((m) => m.data?.['confirmationId'] === c.id).length === 2);
    const [req, out] = seen.filter((m) => m.data?.['confirmationId'] === c.id);
    assert.equal(req!.kind, 'confirmation_request');
    assert.equal(req!.origin.plugin, 'bifrost-confirm');
    assert.equal(out!.kind, 'confirmation_result');
    assert.equal(out!.data?.['approved'], true);
    const one = (await (await fetch(`${d.url}/v1/confirmations/${c.id}`)).json()) as ConfirmationInfo;
    assert.equal(one.state, 'approved', 'a settled request can still be looked up');
  });

  it('resolves false when denied, and answering again is a 409 that says it was already denied', async () => {
    const result = ask({ action: 'delete 12 orphan nodes' });
    const c = await pendingFor('delete 12 orphan nodes');
    assert.equal((await answer(c.id, { approve: false, reason: 'not during business hours' })).status, 200);
    assert.deepEqual((await result).data, { approved: false });
    const again = await answer(c.id, { approve: true });
    assert.equal(again.status, 409);
    const body = (await again.json()) as { error: { code: string; message: string; details: { confirmation: ConfirmationInfo } } };
    assert.equal(body.error.code, 'HMD_ERR_CONFLICT');
    assert.match(body.error.message, /cannot be approved: it was already denied at .*Nothing was changed\./);
    assert.equal(body.error.details.confirmation.state, 'denied');
  });

  it('resolves false at the deadline, publishes the result, and a late answer is a 409 saying it expired', async () => {
    let settled = false;
    const result = ask({ action: 'rebuild constraint', timeoutMs: 300 }).finally(() => (settled = true));
    const c = await pendingFor('rebuild constraint');
    clock.advance(299);
    assert.equal((await confirmation(d, c.id)).state, 'pending', 'still pending 1 ms before the deadline');
    assert.equal(settled, false, 'the plugin is still waiting 1 ms before the deadline');
    clock.advance(1);
    assert.deepEqual((await result).data, { approved: false });
    const late = await answer(c.id, { approve: true });
    assert.equal(late.status, 409);
    assert.match(((await late.json()) as { error: { message: string } }).error.message, /it expired at .* without an answer and was denied/);
    await waitFor('the expiry on the stream', () => seen.some((m) => m.kind === 'confirmation_result' && m.data?.['confirmationId'] === c.id && m.data?.['state'] === 'expired'));
  });

  it('answers an unknown id with 404 and a malformed answer with 400, leaving the request pending', async () => {
    const unknown = await answer('0badc0de', { approve: true });
    assert.equal(unknown.status, 404);
    assert.match(((await unknown.json()) as { error: { message: string } }).error.message, /There is no confirmation request with id 0badc0de/);
    const result = ask({ action: 'vacuum audit log' });
    const c = await pendingFor('vacuum audit log');
    for (const [body, re] of [
      [{}, /"approve" must be true or false and is missing/],
      [{ approve: 'yes' }, /"approve" must be true or false, not "yes"/],
      [{ approve: true, by: 'me' }, /unexpected field "by"/],
      [[true], /must be a JSON object/],
    ] as const) {
      const res = await answer(c.id, body);
      assert.equal(res.status, 400, JSON.stringify(body));
      assert.match(((await res.json()) as { error: { message: string } }).error.message, re);
    }
    assert.equal((await confirmation(d, c.id)).state, 'pending');
    assert.equal((await answer(c.id, { approve: true })).status, 200);
    assert.deepEqual((await result).data, { approved: true });
  });
});
