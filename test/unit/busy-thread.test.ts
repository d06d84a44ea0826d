/**
 * The busy-thread watch (daemon/workers/busy-thread.ts): a plugin thread is lowered to nice 10 only
 * after BUSY_SAMPLES samples in a row at BUSY_SHARE of a core or more, once, with one log line; a
 * thread that rests between busy spells, one that is gone, or one the OS will not lower keeps its
 * priority and nothing is logged. The clock and the CPU readings are the test's; the last test
 * reads this thread's real CPU time from /proc.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BUSY_SAMPLES, BUSY_SHARE, BusyThreadWatch, PLUGIN_THREAD_NICENESS, currentThreadId, threadCpuMs } from '../../daemon/workers/busy-thread.js';

function rig(shares: number[], opts: { gone?: number; refuse?: boolean } = {}) {
  let at = 0;
  let cpu = 0;
  let k = 0;
  const lowered: Array<[number, number]> = [];
  const warned: string[] = [];
  const w = new BusyThreadWatch({
    tid: 4242,
    plugin: 'hog',
    log: { warn: ((m: string) => void warned.push(m)) as never },
    now: () => at,
    cpuMs: () => (opts.gone !== undefined && k > opts.gone ? undefined : cpu),
    lower: (tid, n) => {
      if (opts.refuse) throw Object.assign(new Error('EACCES'), { code: 'EACCES' });
      lowered.push([tid, n]);
    },
  });
  const step = () => {
    const share = shares[k++]!;
    at += 1000;
    cpu += 1000 * share;
    w.sample();
  };
  return { w, step, lowered, warned, steps: shares.length };
}

describe('busy-thread watch', () => {
  it(`lowers a thread to nice ${PLUGIN_THREAD_NICENESS} after ${BUSY_SAMPLES} busy samples in a row, once, and says so`, () => {
    const r = rig([0.95, 1.0, 1.0, 1.0]);
    r.step();
    assert.equal(r.w.lowered, false, 'one busy second is not enough');
    r.step();
    assert.equal(r.w.lowered, true);
    r.step();
    r.step();
    assert.deepEqual(r.lowered, [[4242, PLUGIN_THREAD_NICENESS]], 'lowered once');
    assert.equal(r.warned.length, 1);
    assert.match(r.warned[0]!, /^The plugin hog kept its worker thread busy \(100% of a core for 2 s\), so its thread now runs at a lower CPU priority \(nice 10\)/);
    assert.match(r.warned[0]!, /until the plugin restarts\.$/);
  });

  it('leaves a thread that rests between busy spells, or works just under the threshold', () => {
    const r = rig([1, BUSY_SHARE - 0.01, 1, 0.2, 1, BUSY_SHARE - 0.05, 1]);
    for (let i = 0; i < r.steps; i++) r.step();
    assert.equal(r.w.lowered, false);
    assert.deepEqual(r.lowered, []);
    assert.deepEqual(r.warned, []);
    const again = rig([1, 0.1, BUSY_SHARE, BUSY_SHARE]);
    for (let i = 0; i < again.steps; i++) again.step();
    assert.equal(again.w.lowered, true, 'a new busy streak counts from its start');
  });

  it('stops watching a thread that is gone, and logs nothing when the OS refuses', () => {
    const gone = rig([1, 1, 1], { gone: 0 });
    for (let i = 0; i < gone.steps; i++) gone.step();
    assert.equal(gone.w.lowered, false);
    assert.deepEqual(gone.lowered, []);
    const refused = rig([1, 1], { refuse: true });
    refused.step();
    refused.step();
    assert.equal(refused.w.lowered, false);
    assert.deepEqual(refused.warned, []);
  });

  it('reads the CPU time of a real thread of this process', { skip: process.platform !== 'linux' }, () => {
    const tid = currentThreadId();
    assert.equal(typeof tid, 'number');
    const before = threadCpuMs(tid!)!;
    const end = performance.now() + 120;
    while (performance.now() < end) { /* busy */ }
    const after = threadCpuMs(tid!)!;
    assert.ok(after - before >= 50, `${after - before} ms of CPU for 120 ms of busy work`);
    assert.equal(threadCpuMs(2 ** 30), undefined, 'no such thread');
  });
});
