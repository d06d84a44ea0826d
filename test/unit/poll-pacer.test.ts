/**
 * The outbox source's waits between reads (daemon/sources/neo4j-apoc/poll-pacer.ts), on a clock the
 * test moves by hand: the idle backoff, and the hold at the shortest wait after a busy spell.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BUSY_HOLD_MAX_MS, MIN_POLL_MS, PollPacer } from '../../daemon/sources/neo4j-apoc/poll-pacer.js';

/** Empty reads from `from` on, each after the wait the pacer gave; the waits, until `until`. */
function emptyReadsFrom(p: PollPacer, from: number, until: number): number[] {
  const waits: number[] = [];
  for (let now = from; now < until; ) {
    const w = p.emptyWait(now);
    waits.push(w);
    now += w;
  }
  return waits;
}

test('against an empty outbox the wait doubles from 5 ms up to pollIntervalMs', () => {
  const p = new PollPacer(100);
  assert.deepEqual(emptyReadsFrom(p, 0, 600), [5, 10, 20, 40, 80, 100, 100, 100, 100, 100]);
});

test('a read that finds entries now and then makes no busy spell: the reads after it back off at once, as before', () => {
  const p = new PollPacer(100);
  p.found(0);
  p.found(1_000); // a second apart: two spells of one read each
  assert.deepEqual(emptyReadsFrom(p, 1_005, 1_200).slice(0, 5), [5, 10, 20, 40, 80]);
});

test('after a steady writer stops, reads stay 5 ms apart for BUSY_HOLD_MAX_MS, then back off', () => {
  const p = new PollPacer(100);
  for (let t = 0; t <= 3_000; t += 4) p.found(t); // 3 s of reads that each found entries
  const last = 3_000;
  const waits = emptyReadsFrom(p, last + 1, last + BUSY_HOLD_MAX_MS + 300);
  const held = waits.findIndex((w) => w !== MIN_POLL_MS);
  // every read in the hold is 5 ms after the last, and the backoff starts afresh once it has passed
  assert.ok(held * MIN_POLL_MS >= BUSY_HOLD_MAX_MS - MIN_POLL_MS && held * MIN_POLL_MS <= BUSY_HOLD_MAX_MS + MIN_POLL_MS, `held for ${held} reads`);
  assert.deepEqual(waits.slice(held - 1, held + 5), [5, 10, 20, 40, 80, 100]);
});

test('a short spell holds for as long as it lasted, and entries found within pollIntervalMs of it make it longer', () => {
  const p = new PollPacer(100);
  for (let t = 0; t <= 50; t += 5) p.found(t); // a 50 ms spell
  assert.equal(p.emptyWait(60), MIN_POLL_MS); // 10 ms after it: still held
  assert.equal(p.emptyWait(99), MIN_POLL_MS);
  assert.equal(p.emptyWait(101), MIN_POLL_MS); // the hold (50 ms) has passed: the backoff starts at 5
  assert.equal(p.emptyWait(106), 10);
  p.found(120); // within pollIntervalMs of the spell's last read: the same spell, now 120 ms long
  assert.equal(p.currentIdleMs, MIN_POLL_MS);
  assert.equal(p.emptyWait(230), MIN_POLL_MS);
  assert.equal(p.emptyWait(241), MIN_POLL_MS); // backoff afresh
  assert.equal(p.emptyWait(246), 10);
});

test('a pollIntervalMs below 5 ms is the only wait there is', () => {
  const p = new PollPacer(2);
  assert.deepEqual(emptyReadsFrom(p, 0, 10), [2, 2, 2, 2, 2]);
  p.found(10);
  assert.equal(p.currentIdleMs, 2);
});
