/**
 * The neo4j-apoc source's parts that need no Neo4j: InFlight (batches emitted and not yet acked, acked
 * in order once settled, a failed ack kept and reported once) and decodeEntries (an unreadable entry is
 * set aside, the others decode).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InFlight } from '../../daemon/sources/neo4j-apoc/in-flight.js';
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
    assert.deepEqual([f.size, f.unsettled, [...f.ids], f.bytes], [2, 2, ['e1', 'e2', 'e3'], 60]);
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
    assert.deepEqual([f.size, f.ids.size, f.bytes], [0, 0, 0]);
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
    assert.deepEqual([f.size, [...f.ids]], [1, ['e1']]);
    r.failing.on = false;
    f.kick();
    await f.ackRunning;
    assert.deepEqual(r.acked, [['e1']]);
    assert.equal(f.size, 0);
  });

  it('paces acks: what settles within minIntervalMs of the last ack waits for one ack at the end of it, unless maxPending entries wait', async () => {
    const r = recordingAck();
    let t = 1000;
    const f = new InFlight(r.ack, { minIntervalMs: 30, maxPending: 3, now: () => t });
    f.add([entry(1)]);
    f.kick();
    await f.ackRunning;
    assert.deepEqual(r.acked, [['e1']], 'the first ack starts at once');
    f.add([entry(2)]);
    f.kick();
    assert.equal(f.ackRunning, undefined, 'within the interval the ack is put off');
    f.add([entry(3)]);
    f.kick();
    assert.equal(f.ackRunning, undefined);
    t += 30; // the interval is over on the clock: the deferred kick (a real timer of the remaining 30 ms) acks both
    const deadline = Date.now() + 5000;
    while (r.acked.length < 2 && Date.now() < deadline) await new Promise((res) => setTimeout(res, 5));
    assert.deepEqual(r.acked, [['e1'], ['e2', 'e3']], 'one ack for everything that settled meanwhile');
    await f.ackRunning;
    f.add([entry(4), entry(5), entry(6)]);
    f.kick();
    assert.ok(f.ackRunning, 'with maxPending entries waiting the ack starts at once, within the interval');
    await f.ackRunning;
    assert.deepEqual(r.acked[2], ['e4', 'e5', 'e6']);
    f.add([entry(7)]);
    f.kick(); // deferred; drain must not leave that timer behind, and acks it itself
    const res = await f.drain(20);
    assert.deepEqual(res, { unacked: 0 });
    assert.deepEqual(r.acked[3], ['e7']);
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
    assert.deepEqual([f.size, f.ids.size, f.bytes], [0, 0, 0]);

    f.add([entry(4)]);
    r.failing.on = true;
    const failed = await f.drain(20);
    assert.equal(failed.unacked, 1);
    assert.match(failed.error?.message ?? '', /not reachable/);
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
