/**
 * The capture watchdog's parts that need no Neo4j: `inspect` (what is in place against what the source expects, a
 * table of cases) and the timer loop (one check per interval, never two at once, none after stop).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { CaptureSnapshot } from '../../daemon/sources/neo4j-apoc/outbox-store-types.js';
import { triggerStatement } from '../../daemon/sources/neo4j-apoc/outbox-trigger.js';
import { CaptureWatchdog, inspect, type Expectation } from '../../daemon/sources/neo4j-apoc/watchdog.js';
import { FakeClock } from '../helpers/fake-clock.js';

const strict = triggerStatement('strict');
const ok = (): CaptureSnapshot => ({
  loaded: { query: strict, paused: false, ordering: 'strict', keyed: true },
  stored: { query: strict, paused: false, keyed: true },
  counter: { value: 10, epoch: '100' },
  seqIndex: true,
  counterConstraint: true,
});
const expect = (over: Partial<Expectation> = {}): Expectation => ({ database: 'neo4j', ordering: 'strict', epoch: '100', delivered: new Map([['100', 10]]), ...over });
const kinds = (snap: CaptureSnapshot, exp = expect()): string[] => inspect(snap, exp).map((f) => f.kind);

describe('inspect', () => {
  const cases: Array<[string, (s: CaptureSnapshot) => void, Partial<Expectation>, string[]]> = [
    ['everything in place', () => {}, {}, []],
    ['the system database may not be read (stored: null)', (s) => void (s.stored = null), {}, []],
    ['dropped and unloaded', (s) => { s.loaded = undefined; s.stored = undefined; }, {}, ['removed']],
    ['dropped, still loaded until the next refresh', (s) => void (s.stored = undefined), {}, ['removed']],
    ['paused in the database', (s) => void (s.loaded!.paused = true), {}, ['paused']],
    ['paused in the system database only', (s) => void (s.stored!.paused = true), {}, ['paused']],
    ['the other ordering', (s) => { s.loaded = { query: triggerStatement('relaxed'), paused: false, ordering: 'relaxed', keyed: true }; }, {}, ['replaced']],
    ['an edited statement', (s) => void (s.stored!.query = `${strict} `), {}, ['replaced']],
    ['no internal key', (s) => void (s.loaded!.keyed = false), {}, ['replaced']],
    ['index dropped', (s) => void (s.seqIndex = false), {}, ['schema']],
    ['counter deleted', (s) => void (s.counter = undefined), {}, ['counter-missing']],
    ['another epoch (reset elsewhere)', (s) => void (s.counter = { value: 3, epoch: '200' }), {}, ['reset']],
    ['first look (install: false): any epoch', (s) => void (s.counter = { value: 3, epoch: '200' }), { epoch: undefined, delivered: new Map() }, []],
    ['below what was delivered in the same epoch', (s) => void (s.counter = { value: 4, epoch: '100' }), {}, ['backwards']],
    ['relaxed: the counter value does not count', (s) => { s.loaded = { query: triggerStatement('relaxed'), paused: false, ordering: 'relaxed', keyed: true }; s.stored = { query: triggerStatement('relaxed'), paused: false, keyed: true }; s.counter = { value: 0, epoch: '100' }; }, { ordering: 'relaxed' }, []],
    ['uninstalled: trigger, schema and counter gone', (s) => { s.loaded = undefined; s.stored = undefined; s.seqIndex = false; s.counterConstraint = false; s.counter = undefined; }, {}, ['removed', 'schema', 'counter-missing']],
  ];
  for (const [name, change, exp, want] of cases) {
    it(name, () => {
      const snap = ok();
      change(snap);
      assert.deepEqual(kinds(snap, expect(exp)), want);
    });
  }

  it('says what happened, to which database, in sentences', () => {
    const snap = ok();
    snap.counter = { value: 2, epoch: '200' };
    const [f] = inspect(snap, expect());
    assert.equal(f!.message, 'The outbox sequence of the database neo4j was reset or reinstalled by something other than this daemon: its epoch changed from 100 to 200, and the counter (2) is below seq 10, which was already delivered. Event ids carry the new epoch, so none repeats; changes committed while capture was off, if it was, are lost.');
  });
});

describe('CaptureWatchdog', () => {
  it('checks once per interval, never two at once, and not after stop', async () => {
    const clock = new FakeClock();
    let running = 0;
    let checks = 0;
    let release!: () => void;
    const w = new CaptureWatchdog({
      intervalMs: 1000,
      timer: clock,
      check: async () => {
        running++;
        checks++;
        assert.equal(running, 1, 'one check at a time');
        await new Promise<void>((r) => (release = r));
        running--;
      },
    });
    w.start();
    clock.advance(999);
    assert.equal(checks, 0);
    clock.advance(1);
    assert.equal(checks, 1);
    clock.advance(5000);
    assert.equal(checks, 1, 'the next check is planned only when this one has finished');
    release();
    await w.current?.catch(() => undefined);
    await new Promise((r) => setImmediate(r));
    assert.equal(clock.pending, 1);
    clock.advance(1000);
    assert.equal(checks, 2);
    const stopped = w.stop();
    release();
    await stopped;
    clock.advance(10_000);
    assert.equal(checks, 2, 'no check after stop');
    assert.equal(clock.pending, 0);
  });
});
