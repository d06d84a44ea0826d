/** Confirmations: approved, denied, timed out, answered twice, unknown, cancelled; and the messages they publish. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { HeimdallError } from '../../sdk/index.js';
import { BifrostBus, type BifrostMessage } from '../../daemon/bifrost/bus.js';
import { ConfirmationManager } from '../../daemon/bifrost/confirmations.js';

const silent = pino({ level: 'silent' });

function setup(opts: { defaultTimeoutMs?: number; maxTimeoutMs?: number } = {}) {
  const bus = new BifrostBus(100, silent);
  const seen: BifrostMessage[] = [];
  bus.subscribe((m) => seen.push(m));
  const c = new ConfirmationManager(bus, { defaultTimeoutMs: opts.defaultTimeoutMs ?? 60_000, maxTimeoutMs: opts.maxTimeoutMs ?? 120_000 }, silent);
  return { bus, seen, c };
}

function thrown(fn: () => unknown): HeimdallError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof HeimdallError, `expected a HeimdallError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected an error');
}

describe('ConfirmationManager', () => {
  it('publishes a request with id, action, details, who asks and deadline, and resolves true when approved', async () => {
    const { c, seen } = setup();
    const p = c.request('security', 'drop index idx_a', { timeoutMs: 30_000, details: { index: 'idx_a' } }, 'inv-1');
    const [pending] = c.list();
    assert.ok(pending);
    assert.match(pending.id, /^[0-9a-f]{8}$/);
    assert.equal(pending.state, 'pending');
    assert.equal(pending.requestedBy, 'security');
    assert.equal(pending.invocationId, 'inv-1');
    const req = seen[0]!;
    assert.equal(req.kind, 'confirmation_request');
    assert.equal(req.level, 'warning');
    assert.deepEqual(req.origin, { kind: 'plugin', plugin: 'security', invocationId: 'inv-1' });
    assert.equal(req.data?.['confirmationId'], pending.id);
    assert.equal(req.data?.['action'], 'drop index idx_a');
    assert.deepEqual(req.data?.['details'], { index: 'idx_a' });
    assert.ok(Math.abs(Date.parse(String(req.data?.['deadline'])) - (Date.now() + 30_000)) < 1000);
    assert.match(req.message, new RegExp(`heimdall approve ${pending.id}`));

    const answered = c.answer(pending.id, true, 'looks right');
    assert.equal(answered.state, 'approved');
    assert.equal(await p, true);
    const res = seen[1]!;
    assert.equal(res.kind, 'confirmation_result');
    assert.equal(res.data?.['approved'], true);
    assert.equal(res.data?.['reason'], 'looks right');
    assert.equal(res.origin.kind, 'operator');
    assert.deepEqual(c.list(), []);
  });

  it('resolves false when denied, and a second answer is a conflict that says what happened', async () => {
    const { c } = setup();
    const p = c.request('audit', 'delete 3 nodes');
    const id = c.list()[0]!.id;
    c.answer(id, false, 'not now');
    assert.equal(await p, false);
    const e = thrown(() => c.answer(id, true));
    assert.equal(e.code, 'HMD_ERR_CONFLICT');
    assert.match(e.message, new RegExp(`The confirmation request ${id} \\("delete 3 nodes" from audit\\) cannot be approved: it was already denied at `));
    assert.equal((e.details as { confirmation: { state: string } }).confirmation.state, 'denied');
    assert.equal(c.get(id)?.state, 'denied');
  });

  it('requestAnswer resolves with the state, the id and the operator\'s reason (denied, approved, expired, cancelled)', async () => {
    const { c } = setup();
    const denied = c.requestAnswer('audit', 'delete 3 nodes');
    const id = c.list()[0]!.id;
    c.answer(id, false, 'wrong database');
    assert.deepEqual(await denied, { approved: false, state: 'denied', id, reason: 'wrong database' });
    const approved = c.requestAnswer('audit', 'delete 1 node');
    const id2 = c.list()[0]!.id;
    c.answer(id2, true);
    assert.deepEqual(await approved, { approved: true, state: 'approved', id: id2 });
    const expired = c.requestAnswer('audit', 'wait', { timeoutMs: 20 });
    assert.deepEqual({ ...(await expired), id: '' }, { approved: false, state: 'expired', id: '' });
    const cancelled = c.requestAnswer('audit', 'later');
    c.cancelFor('audit', 'the plugin audit crashed');
    assert.deepEqual({ ...(await cancelled), id: '' }, { approved: false, state: 'cancelled', reason: 'the plugin audit crashed', id: '' });
  });

  it('resolves false at the deadline, publishes the result, and refuses a late answer with 409 wording', async () => {
    const { c, seen } = setup();
    const started = Date.now();
    const p = c.request('audit', 'merge duplicates', { timeoutMs: 80 });
    const id = c.list()[0]!.id;
    assert.equal(await p, false);
    assert.ok(Date.now() - started >= 75, 'not before the deadline');
    const res = seen.find((m) => m.kind === 'confirmation_result')!;
    assert.equal(res.data?.['state'], 'expired');
    assert.equal(res.origin.kind, 'daemon');
    assert.match(res.message, /was not answered within 80 ms and is denied/);
    const e = thrown(() => c.answer(id, true));
    assert.equal(e.code, 'HMD_ERR_CONFLICT');
    assert.match(e.message, /it expired at .* without an answer and was denied/);
  });

  it('answers an unknown id with HMD_ERR_NOT_FOUND, checks timeoutMs, caps it, and uses the default', async () => {
    const { c } = setup({ defaultTimeoutMs: 50, maxTimeoutMs: 1000 });
    assert.equal(thrown(() => c.answer('deadbeef', true)).code, 'HMD_ERR_NOT_FOUND');
    await assert.rejects(c.request('p', 'x', { timeoutMs: -5 }), (e: HeimdallError) => e.code === 'HMD_ERR_INVALID_PARAMS' && /positive number/.test(e.message));
    await assert.rejects(c.request('p', '  '), (e: HeimdallError) => e.code === 'HMD_ERR_INVALID_PARAMS');
    void c.request('p', 'long', { timeoutMs: 10_000_000 });
    assert.equal(c.list()[0]!.timeoutMs, 1000);
    c.cancelAll('test over');
    const t0 = Date.now();
    assert.equal(await c.request('p', 'default'), false);
    assert.ok(Date.now() - t0 >= 45 && Date.now() - t0 < 1000, 'the default deadline applies');
  });

  it('cancelAll denies every pending request and says why', async () => {
    const { c, seen } = setup();
    const a = c.request('p', 'one');
    const b = c.request('heimdall', 'two');
    assert.equal(seen[1]!.origin.kind, 'daemon', "the daemon's own requests have a daemon origin");
    assert.equal(c.cancelAll('the daemon is stopping'), 2);
    assert.deepEqual(await Promise.all([a, b]), [false, false]);
    assert.equal(c.counts.cancelled, 2);
    const last = seen[seen.length - 1]!;
    assert.match(last.message, /was cancelled \(the daemon is stopping\) and is denied/);
  });
});
