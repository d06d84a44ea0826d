/**
 * The neo4j-apoc source's parts that need no Neo4j: InFlight (batches emitted and not yet acked, acked
 * in order once settled, a failed ack kept and reported once, acks paced by a clock the test moves) and decodeEntries (an unreadable entry is
 * set aside, the others decode).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InFlight, type AckPacing } from '../../daemon/sources/neo4j-apoc/in-flight.js';
import { decodeEntries } from '../../daemon/sources/neo4j-apoc/outbox-events.js';
import type { StoredEntry } from '../../daemon/sources/neo4j-apoc/outbox-store.js';

const entry = (n: number, changes = '{"nc":[{"i":"4:x:1","l":["A"],"p":{}}]}'): StoredEntry => ({ elementId: `e${n}`, seq: String(n), epoch: '7', committedAt: 0, txMeta: '{}', changes, bytes: 10 * n });

/** A gate: a promise and the function that opens it. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((r) => (open = r));
  return { promise, open };
}

/** An ack that records what it deleted and fails while `failing` is set. */
function recordingAck(): { ack: (es: readonly StoredEntry[]) => Promise<number>; acked: string[][]; failing: { on: boolean } } {
  const acked: string[][] = [];
  const failing = { on: false };
  return {
    acked,
    failing,
    ack: async (es) => {
      if (failing.on) throw new Error('Neo4j is not reachable');
      acked.push(es.map((e) => e.elementId));
      return es.length;
    },
  };
}

describe('InFlight', () => {
  it('acks batches in emit order, each only once it has settled (the settled ones at the head together), and skips nothing it has not acked', async () => {
    const r = recordingAck();
    const f = new InFlight(r.ack);
    const a = gate();
    const b = gate();
    f.add([entry(1), entry(2)], a.promise);
    f.add([entry(3)], b.promise);
    assert.deepEqual([f.size, f.unsettled, [...f.keys], f.bytes], [2, 2, ['e1|1', 'e2|2', 'e3|3'], 60]);
    b.open();
    await b.promise;
    await new Promise((r) => setImmediate(r));
    assert.equal(f.unsettled, 1);
    f.kick(); // the second batch has settled, the first has not: it must not jump the queue
    await f.ackRunning;
    assert.deepEqual(r.acked, [], 'the second batch waits for the first');
    a.open();
    await f.oldest();
    f.kick();
    await f.ackRunning;
    assert.deepEqual(r.acked, [['e1', 'e2', 'e3']], 'settled batches at the head are acked in one call, in emit order');
    assert.deepEqual([f.size, f.keys.size, f.bytes], [0, 0, 0]);
  });

  it('keeps a batch whose ack failed, reports the failure once, and acks it on the next kick', async () => {
    const r = recordingAck();
    const f = new InFlight(r.ack);
    f.add([entry(1)]);
    r.failing.on = true;
    f.kick();
    await f.ackRunning;
    assert.throws(() => f.takeAckError(), /not reachable/);
    assert.doesNotThrow(() => f.takeAckError(), 'reported once');
    assert.deepEqual([f.size, [...f.keys]], [1, ['e1|1']]);
    r.failing.on = false;
    f.kick();
    await f.ackRunning;
    assert.deepEqual(r.acked, [['e1']]);
    assert.equal(f.size, 0);
  });

  it('drain acks what settled, answers how many entries are left, and empties itself', async () => {
    const r = recordingAck();
    const f = new InFlight(r.ack);
    f.add([entry(1)]);
    f.add([entry(2), entry(3)], new Promise(() => {})); // never settles
    const alive = setTimeout(() => {}, 10_000); // drain's own timer does not keep the process alive
    const res = await f.drain(20);
    clearTimeout(alive);
    assert.deepEqual(res, { unacked: 2 });
    assert.deepEqual(r.acked, [['e1']]);
    assert.deepEqual([f.size, f.keys.size, f.bytes], [0, 0, 0]);

    f.add([entry(4)]);
    r.failing.on = true;
    const failed = await f.drain(20);
    assert.equal(failed.unacked, 1);
    assert.match(failed.error?.message ?? '', /not reachable/);
  });
});

/** Pacing on a clock that moves only when the test says, with the timers it was asked for. */
function manualPacing(gapMs: number, flushAt: number): AckPacing & { t: number; timers: Array<{ at: number; fn: () => void; cancelled: boolean }>; advance(ms: number): void } {
  const p = {
    gapMs,
    flushAt,
    t: 1000,
    timers: [] as Array<{ at: number; fn: () => void; cancelled: boolean }>,
    now: () => p.t,
    later: (fn: () => void, ms: number) => {
      const timer = { at: p.t + ms, fn, cancelled: false };
      p.timers.push(timer);
      return { cancel: () => (timer.cancelled = true) };
    },
    advance: (ms: number) => {
      p.t += ms;
      for (const timer of p.timers.filter((x) => !x.cancelled && x.at <= p.t)) {
        timer.cancelled = true;
        timer.fn();
      }
    },
  };
  return p;
}

describe('InFlight ack pacing', () => {
  it('starts an ack at most once per gap, acks what settled meanwhile together, and at once when flushAt entries wait', async () => {
    const r = recordingAck();
    const pace = manualPacing(50, 5);
    const f = new InFlight(r.ack, pace);
    f.add([entry(1)]);
    f.kick();
    await f.ackRunning;
    assert.deepEqual(r.acked, [['e1']], 'the first ack starts at once');
    f.add([entry(2)]);
    f.kick();
    assert.equal(f.ackRunning, undefined, 'within the gap no ack starts');
    pace.advance(20);
    f.add([entry(3)]);
    f.kick();
    f.kick();
    assert.equal(pace.timers.filter((t) => !t.cancelled).length, 1, 'one timer for the rest of the gap, however often kicked');
    pace.advance(29);
    assert.deepEqual(r.acked, [['e1']], 'nothing before the gap is over');
    pace.advance(1);
    await f.ackRunning;
    assert.deepEqual(r.acked, [['e1'], ['e2', 'e3']], 'at the end of the gap, what settled meanwhile goes in one ack');
    f.add([entry(4), entry(5), entry(6)]);
    f.add([entry(7), entry(8)]);
    f.kick();
    await f.ackRunning;
    assert.deepEqual(r.acked[2], ['e4', 'e5', 'e6', 'e7', 'e8'], 'flushAt settled entries are acked without waiting for the gap');
    assert.equal(f.size, 0);
  });

  it('drain acks at once and cancels the paced ack', async () => {
    const r = recordingAck();
    const pace = manualPacing(50, 100);
    const f = new InFlight(r.ack, pace);
    f.add([entry(1)]);
    f.kick();
    await f.ackRunning;
    f.add([entry(2)]);
    f.kick();
    assert.deepEqual(await f.drain(0), { unacked: 0 });
    assert.deepEqual(r.acked, [['e1'], ['e2']]);
    assert.ok(pace.timers.every((t) => t.cancelled), 'no ack is left waiting for its gap');
  });
});

describe('decodeEntries', () => {
  it('decodes entry after entry and sets aside one whose JSON cannot be read', () => {
    const out = decodeEntries([entry(1), entry(2, '{"nc": [oops'), entry(3)], 'neo4j');
    assert.deepEqual(out.decoded.map((e) => e.elementId), ['e1', 'e3']);
    assert.deepEqual(out.failed.map((f) => f.entry.elementId), ['e2']);
    assert.match(out.failed[0]!.reason, /JSON/);
    assert.deepEqual(out.events.map((e) => e.id), ['neo4j:7:1:0', 'neo4j:7:1:commit', 'neo4j:7:3:0', 'neo4j:7:3:commit']);
  });
});
