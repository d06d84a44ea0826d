/** Bifrost on an injected clock: confirmation deadlines and outage times move with the clock, not with the wall. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { BifrostBus, type BifrostMessage } from '../../daemon/bifrost/bus.js';
import { ConfirmationManager } from '../../daemon/bifrost/confirmations.js';
import { DaemonNotices } from '../../daemon/bifrost/notices.js';
import { FakeClock } from '../helpers/fake-clock.js';

const silent = pino({ level: 'silent' });

function setup() {
  const clock = new FakeClock(Date.parse('2024-05-01T12:00:00Z'));
  const bus = new BifrostBus(100, silent, clock);
  const seen: BifrostMessage[] = [];
  bus.subscribe((m) => seen.push(m));
  return { clock, bus, seen };
}

describe('Bifrost on an injected clock', () => {
  it('expires a confirmation exactly at its deadline on the bus clock, not a moment before', async () => {
    const { clock, bus, seen } = setup();
    const c = new ConfirmationManager(bus, { defaultTimeoutMs: 60_000, maxTimeoutMs: 120_000 }, silent);
    let answer: boolean | undefined;
    void c.request('audit', 'merge duplicates', { timeoutMs: 30_000 }).then((v) => (answer = v));
    const info = c.list()[0]!;
    assert.equal(info.requestedAt, '2024-05-01T12:00:00.000Z');
    assert.equal(info.deadline, '2024-05-01T12:00:30.000Z');
    clock.advance(29_999);
    await Promise.resolve();
    assert.equal(c.list().length, 1, 'still pending a millisecond before the deadline');
    assert.equal(answer, undefined);
    clock.advance(1);
    assert.equal(c.get(info.id)?.state, 'expired');
    assert.equal(c.get(info.id)?.answeredAt, '2024-05-01T12:00:30.000Z');
    await Promise.resolve();
    assert.equal(answer, false);
    assert.equal(seen.at(-1)!.timestamp, '2024-05-01T12:00:30.000Z');
    assert.equal(clock.pending, 0, 'no timer left behind');
  });

  it('an answer before the deadline clears its timer', () => {
    const { clock, bus } = setup();
    const c = new ConfirmationManager(bus, { defaultTimeoutMs: 60_000, maxTimeoutMs: 120_000 }, silent);
    void c.request('p', 'x');
    assert.equal(clock.pending, 1);
    c.answer(c.list()[0]!.id, true);
    assert.equal(clock.pending, 0);
  });

  it('reports how long a service was down by the bus clock', () => {
    const { clock, bus } = setup();
    const notices = new DaemonNotices(bus);
    notices.unavailable('database', 'connection refused', 'bolt://127.0.0.1:7687');
    clock.advance(42_000);
    const back = notices.available('database')!;
    assert.equal(back.data?.['downMs'], 42_000);
    assert.match(back.message, /after 42 s/);
  });
});
