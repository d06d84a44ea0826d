/**
 * Bounds on actions in the registry, without threads: a chain of actions deeper than
 * limits.actions.maxDepth fails with InvocationDepthError naming the chain (a loop is called a
 * loop), the chain follows work the action starts asynchronously, and a result larger than
 * maxResultBytes fails with ResultTooLargeError. Plus the per-plugin output limits on an injected
 * clock: token buckets, counted drops, and exactly one summary per interval.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ActionRegistry } from '../../daemon/invoker/action-registry.js';
import { currentChain } from '../../daemon/invoker/invocation-chain.js';
import { OutputLimiter, TokenBucket, describeOutputDrops, type OutputDropSummary } from '../../daemon/workers/output-limits.js';
import { InvocationDepthError, ResultTooLargeError, type ActionResult } from '../../sdk/index.js';

const op = { trigger: { kind: 'operator' as const } };

describe('limits.actions in the registry', () => {
  it('runs a chain up to maxDepth and refuses the next call with the chain named', async () => {
    const r = new ActionRegistry(1000, { maxDepth: 3 });
    const seen: number[] = [];
    r.registerBuiltin('heimdall.test.down', {
      description: 'Calls itself.',
      params: { type: 'object', properties: { n: { type: 'integer' } } },
      run: async (p) => {
        seen.push(currentChain().length);
        return r.invoke('heimdall.test.down', { n: Number(p['n'] ?? 0) + 1 }, op);
      },
    });
    await assert.rejects(r.invoke('heimdall.test.down', {}, op), (e: Error) => {
      assert.ok(e instanceof InvocationDepthError);
      assert.equal(e.code, 'HMD_ERR_INVOCATION_DEPTH');
      assert.match(e.message, /it would be call number 4 in the chain heimdall\.test\.down → heimdall\.test\.down → heimdall\.test\.down → heimdall\.test\.down, and limits\.actions\.maxDepth allows 3/);
      assert.match(e.message, /The chain loops/);
      assert.deepEqual((e.details as { chain: string[] }).chain.length, 3);
      return true;
    });
    assert.deepEqual(seen, [1, 2, 3]);
  });

  it('a chain without a loop says how to make it shorter; a fresh call starts at depth 0', async () => {
    const r = new ActionRegistry(1000, { maxDepth: 2 });
    r.registerBuiltin('heimdall.a.one', { description: 'a', run: () => r.invoke('heimdall.b.two', {}, op) });
    r.registerBuiltin('heimdall.b.two', { description: 'b', run: () => r.invoke('heimdall.c.three', {}, op) });
    r.registerBuiltin('heimdall.c.three', { description: 'c', run: () => ({ success: true, message: 'leaf' }) });
    await assert.rejects(r.invoke('heimdall.a.one', {}, op), /Make the actions call fewer actions in a row, or raise limits\.actions\.maxDepth/);
    assert.deepEqual(await r.invoke('heimdall.b.two', {}, { ...op, chain: [] }).catch((e: Error) => e.message), { success: true, message: 'leaf' });
  });

  it('refuses a result larger than maxResultBytes', async () => {
    const r = new ActionRegistry(1000, { maxResultBytes: 1000 });
    r.registerBuiltin('heimdall.test.big', { description: 'big', run: (): ActionResult => ({ success: true, message: 'x', data: { blob: 'y'.repeat(2000) } }) });
    r.registerBuiltin('heimdall.test.small', { description: 'small', run: (): ActionResult => ({ success: true, message: 'x', data: { blob: 'y'.repeat(100) } }) });
    await assert.rejects(r.invoke('heimdall.test.big', {}, op), (e: Error) => {
      assert.ok(e instanceof ResultTooLargeError);
      assert.match(e.message, /returned 20\d\d bytes of JSON, more than limits\.actions\.maxResultBytes \(1000\)/);
      return true;
    });
    assert.equal((await r.invoke('heimdall.test.small', {}, op)).success, true);
  });
});

describe('output limits', () => {
  it('a token bucket lets a burst through, then the rate', () => {
    let now = 0;
    const b = new TokenBucket(10, 5, () => now);
    let passed = 0;
    for (let i = 0; i < 100; i++) if (b.take()) passed++;
    assert.equal(passed, 5);
    now += 1000;
    for (let i = 0; i < 100; i++) if (b.take()) passed++;
    assert.equal(passed, 10, '10 per second, up to the burst of 5 at once');
    const unlimited = new TokenBucket(0, 1, () => now);
    for (let i = 0; i < 1000; i++) assert.equal(unlimited.take(), true);
  });

  it('a token bucket that refused once lets the next call through as soon as a token has refilled', () => {
    let now = 0;
    const b = new TokenBucket(1, 1, () => now);
    assert.equal(b.take(), true);
    assert.equal(b.take(), false);
    now += 999;
    assert.equal(b.take(), false, 'not before a whole token has refilled');
    now += 1;
    assert.equal(b.take(), true, 'a plugin that went over its limit once is not held back after it slowed down');
    now += 60_000;
    assert.equal(b.take(), true);
    assert.equal(b.take(), false, 'the bucket holds at most its burst');
  });

  it('counts drops (its own and the worker\'s) and writes exactly one summary per interval, on its clock', () => {
    let now = 0;
    const scheduled: Array<{ at: number; fn: () => void; cancelled: boolean }> = [];
    const summaries: OutputDropSummary[] = [];
    const limiter = new OutputLimiter({
      plugin: () => 'flood',
      limits: { logLinesPerSecond: 10, logLinesBurst: 10, notificationsPerSecond: 1, notificationsBurst: 1 },
      intervalMs: 1000,
      now: () => now,
      onSummary: (s) => void summaries.push(s),
      schedule: (fn, ms) => {
        const e = { at: now + ms, fn, cancelled: false };
        scheduled.push(e);
        return { cancel: () => void (e.cancelled = true) };
      },
    });
    const advance = (ms: number) => {
      now += ms;
      for (const e of scheduled.splice(0)) {
        if (e.cancelled) continue;
        if (e.at <= now) e.fn();
        else scheduled.push(e);
      }
    };
    // host buckets are twice the worker's: 20 log lines and 2 messages pass at once
    for (let i = 0; i < 1000; i++) limiter.allow('logLines');
    for (let i = 0; i < 100; i++) limiter.allow('notifications');
    limiter.countDropped('logLines', 500_000);
    assert.equal(summaries.length, 0, 'nothing is written before the interval ends');
    advance(999);
    assert.equal(summaries.length, 0);
    advance(1);
    assert.equal(summaries.length, 1);
    assert.deepEqual({ logLines: summaries[0]!.logLines, notifications: summaries[0]!.notifications }, { logLines: 980 + 500_000, notifications: 98 });
    assert.match(describeOutputDrops(summaries[0]!), /The plugin flood went over its output limits in the last 1 s: 500980 log lines .* and 98 Bifrost messages .* were dropped/);
    advance(5000);
    assert.equal(summaries.length, 1, 'no drops, no summary');
    limiter.allow('notifications');
    limiter.allow('notifications');
    limiter.allow('notifications');
    limiter.allow('notifications');
    limiter.allow('notifications');
    limiter.allow('notifications');
    advance(1000);
    assert.equal(summaries.length, 2);
    const s = limiter.stats();
    assert.equal(s.logLines.passed + s.logLines.dropped, 1000 + 500_000);
    assert.equal(s.notifications.passed + s.notifications.dropped, 106);
    assert.equal(s.summaries, 2);
    limiter.close();
  });
});
