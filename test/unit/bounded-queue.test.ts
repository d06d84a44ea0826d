/**
 * BoundedQueue alone, against a plain-array model, under random operation sequences: after every
 * step received = delivered + dropped + queued, nothing exceeds the capacity, the queue holds
 * exactly what the model holds in the same order, and events leave in the order they arrived.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BoundedQueue, type DropReason } from '../../daemon/queue/bounded-queue.js';

/** A small seeded generator (mulberry32), so a failing sequence can be replayed from its seed. */
function prng(seed: number): (n: number) => number {
  let a = seed >>> 0;
  return (n) => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return Math.floor((((t ^ (t >>> 14)) >>> 0) / 4294967296) * n);
  };
}

/** What the queue should hold, kept with plain arrays. */
class Model {
  waiting: number[] = [];
  inFlight: number[] = [];
  received = 0;
  delivered: number[] = [];
  failed = 0;
  dropped = new Map<string, number>();
  constructor(readonly capacity: number, readonly whenFull: 'drop_newest' | 'drop_oldest') {}
  drop(reason: string, n: number): void {
    if (n > 0) this.dropped.set(reason, (this.dropped.get(reason) ?? 0) + n);
  }
  push(x: number): void {
    this.received++;
    if (this.waiting.length + this.inFlight.length < this.capacity) this.waiting.push(x);
    else if (this.whenFull === 'drop_oldest' && this.waiting.length > 0) {
      this.waiting.shift();
      this.drop('queue_full', 1);
      this.waiting.push(x);
    } else this.drop('queue_full', 1);
  }
  get droppedTotal(): number {
    return [...this.dropped.values()].reduce((a, b) => a + b, 0);
  }
}

function run(seed: number, whenFull: 'drop_newest' | 'drop_oldest', steps: number): { delivered: number; dropped: number } {
  const rand = prng(seed);
  const capacity = 1 + rand(12);
  const q = new BoundedQueue<number>(capacity, whenFull);
  const m = new Model(capacity, whenFull);
  let next = 0;
  let summarised = 0;
  const where = (step: number, op: string) => `seed ${seed}, ${whenFull}, capacity ${capacity}, step ${step} (${op})`;
  for (let step = 0; step < steps; step++) {
    const r = rand(100);
    let op: string;
    if (r < 45) {
      op = 'push';
      const x = next++;
      const kept = q.push(x);
      const before = m.droppedTotal;
      m.push(x);
      assert.equal(kept, m.droppedTotal === before, `${where(step, op)}: push answers whether nothing was dropped`);
    } else if (r < 65) {
      const k = 1 + rand(5);
      op = `take ${k}`;
      const got = q.take(k);
      const want = m.waiting.splice(0, Math.min(k, m.waiting.length));
      m.inFlight.push(...want);
      assert.deepEqual(got, want, `${where(step, op)}: take hands out the oldest waiting events`);
    } else if (r < 85) {
      // the worker answers the oldest batch: some delivered, some of those failed
      const n = rand(m.inFlight.length + 1);
      const f = rand(n + 1);
      op = `settle ${n} (${f} failed)`;
      q.settle(n, f);
      m.delivered.push(...m.inFlight.splice(0, n));
      m.failed += f;
    } else if (r < 93) {
      // a crash: the first few in flight finished, the rest goes back to the head
      const n = rand(m.inFlight.length + 1);
      op = `crash after ${n}`;
      q.settle(n, 0);
      m.delivered.push(...m.inFlight.splice(0, n));
      const back = m.inFlight.splice(0);
      q.requeueFront(back);
      m.waiting.unshift(...back);
    } else if (r < 96) {
      const reason: DropReason = rand(2) ? 'plugin_failed' : 'shutdown';
      const withInFlight = reason === 'shutdown' && rand(2) === 1;
      op = `dropAll ${reason}${withInFlight ? ' with in-flight' : ''}`;
      const n = q.dropAll(reason, withInFlight);
      const want = m.waiting.length + (withInFlight ? m.inFlight.length : 0);
      assert.equal(n, want, `${where(step, op)}: dropAll answers how many it dropped`);
      m.drop(reason, want);
      m.waiting = [];
      if (withInFlight) m.inFlight = [];
    } else if (r < 98) {
      op = 'refuse';
      q.refuse('plugin_stopped');
      m.received++;
      m.drop('plugin_stopped', 1);
    } else {
      op = 'summary';
      const d = q.takeDropsSinceLastSummary();
      summarised += d ? Object.values(d).reduce((a, b) => a + b, 0) : 0;
      assert.equal(q.takeDropsSinceLastSummary(), undefined, `${where(step, op)}: a summary resets the drops since the last one`);
    }

    const c = q.counters();
    const at = where(step, op);
    assert.equal(c.received, c.delivered + c.droppedTotal + c.queued, `${at}: received = delivered + dropped + queued (${JSON.stringify(c)})`);
    assert.ok(c.queued <= capacity, `${at}: queued ${c.queued} is within the capacity`);
    assert.equal(c.received, m.received, `${at}: received`);
    assert.equal(c.delivered, m.delivered.length, `${at}: delivered`);
    assert.equal(c.failed, m.failed, `${at}: failed`);
    assert.deepEqual(c.dropped, Object.fromEntries(m.dropped), `${at}: dropped by reason`);
    assert.equal(c.droppedTotal, m.droppedTotal, `${at}: dropped in all`);
    assert.equal(q.waiting, m.waiting.length, `${at}: waiting`);
    assert.equal(q.inFlight, m.inFlight.length, `${at}: in flight`);
    assert.ok(c.highWaterMark <= capacity, `${at}: high-water mark within the capacity`);
    // what the queue holds (in flight, then waiting) is in arrival order
    const held = [...m.inFlight, ...m.waiting];
    for (let i = 1; i < held.length; i++) assert.ok(held[i - 1]! < held[i]!, `${at}: held events stay in arrival order`);
  }
  // drain what waits and check the whole delivered sequence and what the queue really hands out
  const rest = q.take(Number.MAX_SAFE_INTEGER);
  assert.deepEqual(rest, m.waiting, `seed ${seed}: the events still waiting are the model's, in order`);
  const out = m.delivered;
  for (let i = 1; i < out.length; i++) assert.ok(out[i - 1]! < out[i]!, `seed ${seed}: delivered in arrival order (${out[i - 1]} before ${out[i]})`);
  const leftInSummary = q.takeDropsSinceLastSummary();
  summarised += leftInSummary ? Object.values(leftInSummary).reduce((a, b) => a + b, 0) : 0;
  assert.equal(summarised, m.droppedTotal, `seed ${seed}: the drop summaries add up to the dropped counter`);
  return { delivered: out.length, dropped: m.droppedTotal };
}

describe('BoundedQueue', () => {
  for (const whenFull of ['drop_newest', 'drop_oldest'] as const) {
    it(`keeps exact accounting and order under 300 random sequences (${whenFull})`, () => {
      let delivered = 0;
      let dropped = 0;
      for (let seed = 1; seed <= 300; seed++) {
        const r = run(seed, whenFull, 400);
        delivered += r.delivered;
        dropped += r.dropped;
      }
      // the sequences really exercise both paths
      assert.ok(delivered > 10_000, `delivered ${delivered}`);
      assert.ok(dropped > 1000, `dropped ${dropped}`);
    });
  }

  it('drop_newest refuses the incoming event and keeps the oldest ones', () => {
    const q = new BoundedQueue<number>(3, 'drop_newest');
    const kept = [1, 2, 3, 4, 5].map((x) => q.push(x));
    assert.deepEqual(kept, [true, true, true, false, false]);
    assert.deepEqual(q.take(10), [1, 2, 3]);
    assert.deepEqual(q.counters().dropped, { queue_full: 2 });
  });

  it('drop_oldest evicts the oldest waiting event, never one in flight; with nothing waiting the incoming one is dropped', () => {
    const q = new BoundedQueue<number>(3, 'drop_oldest');
    for (const x of [1, 2, 3]) q.push(x);
    assert.deepEqual(q.take(1), [1]);
    assert.equal(q.push(4), false, 'the oldest waiting (2) was evicted');
    assert.deepEqual(q.take(10), [3, 4]);
    assert.equal(q.push(5), false, 'all three in flight: the incoming event is dropped');
    assert.equal(q.waiting, 0);
    assert.equal(q.inFlight, 3);
    assert.deepEqual(q.counters().dropped, { queue_full: 2 });
  });

  it('puts requeued events back ahead of the waiting ones, in their order, and refuses impossible settles', () => {
    const q = new BoundedQueue<number>(10, 'drop_newest');
    for (const x of [1, 2, 3, 4, 5]) q.push(x);
    const batch = q.take(3);
    q.settle(1, 1);
    q.requeueFront(batch.slice(1));
    assert.deepEqual(q.take(10), [2, 3, 4, 5]);
    assert.throws(() => q.settle(5, 0), RangeError);
    assert.throws(() => q.requeueFront([1, 2, 3, 4, 5]), RangeError);
    assert.throws(() => new BoundedQueue(0, 'drop_newest'), RangeError);
  });

  it('resize keeps the events in order and the counters; shrinking below what waits drops the newest (drop_newest) or the oldest (drop_oldest), never one in flight', () => {
    const grow = new BoundedQueue<number>(3, 'drop_newest');
    for (const x of [1, 2, 3]) grow.push(x);
    assert.deepEqual(grow.take(1), [1]);
    assert.equal(grow.resize(6, 'drop_oldest'), 0);
    assert.deepEqual([grow.capacity, grow.whenFull, grow.counters().capacity, grow.counters().whenFull], [6, 'drop_oldest', 6, 'drop_oldest']);
    for (const x of [4, 5, 6]) assert.equal(grow.push(x), true);
    assert.equal(grow.push(7), false, 'full at the new capacity (one in flight, five waiting): the oldest waiting (2) goes');
    grow.settle(1, 0);
    assert.deepEqual(grow.take(10), [3, 4, 5, 6, 7]);
    assert.deepEqual([grow.counters().received, grow.counters().delivered, grow.counters().droppedTotal], [7, 1, 1]);

    for (const [policy, kept] of [['drop_newest', [2, 3]], ['drop_oldest', [4, 5]]] as const) {
      const q = new BoundedQueue<number>(10, 'drop_newest');
      for (const x of [1, 2, 3, 4, 5]) q.push(x);
      assert.deepEqual(q.take(1), [1]);
      assert.equal(q.resize(3, policy), 2, policy);
      assert.deepEqual(q.counters().dropped, { queue_full: 2 });
      q.settle(1, 0);
      assert.deepEqual(q.take(10), kept, policy);
      const c = q.counters();
      assert.equal(c.received, c.delivered + c.droppedTotal + c.queued);
    }
    assert.throws(() => new BoundedQueue(2, 'drop_newest').resize(0, 'drop_newest'), RangeError);
  });

  it('counts what a full queue drops under the reason it is given (paused, for a paused plugin)', () => {
    const q = new BoundedQueue<number>(2, 'drop_newest');
    for (const x of [1, 2, 3]) q.push(x, 'paused');
    q.push(4);
    assert.deepEqual(q.counters().dropped, { paused: 1, queue_full: 1 });
  });
});
