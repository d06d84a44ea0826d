/**
 * The capture watchdog against the run's real Neo4j, driven by a clock the test advances (no waiting for
 * checkIntervalMs): the attacks on capture — the trigger dropped, stopped, removed or paused, the sequence
 * moved backwards or its counter deleted, the outbox uninstalled under the running source — each raise a Bifrost
 * error notice and a degraded status with the reason, are repaired (reinstall: true) and announced, and changes
 * committed after the repair are delivered. With reinstall: false the source only reports, until an operator
 * installs again. Across the whole file no event id is ever delivered for two different transactions.
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import type { Neo4jApocSource } from '../../daemon/sources/neo4j-apoc/index.js';
import type { DatabaseEvent } from '../../sdk/index.js';
import { FakeClock } from '../helpers/fake-clock.js';
import { waitForTrigger } from '../helpers/neo4j.js';
import { Collector, closeSourceFixture, drained, driver, internalWrite, openSourceFixture, startSource, store, write } from '../helpers/source-fixture.js';

const CHECK_MS = 5000;
before(openSourceFixture);
after(closeSourceFixture);

interface Notice {
  level: string;
  title: string;
  message: string;
  data?: Record<string, unknown>;
}

/** Every event id delivered in this file, with the transaction it belongs to (its entry's content). */
const deliveredIds = new Map<string, string>();
function recordIds(events: readonly DatabaseEvent[]): void {
  for (const e of events) {
    const content = JSON.stringify({ type: e.type, nodeId: e.nodeId, properties: e.properties, oldProperties: e.oldProperties, k: e.metadata?.['counts'] });
    const seen = deliveredIds.get(e.id);
    assert.ok(seen === undefined || seen === content, `the id ${e.id} was delivered for two different changes:\n${seen}\n${content}`);
    deliveredIds.set(e.id, content);
  }
}

async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}.`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

let n = 0;
/** Commits a node with a unique key and waits until its node.created arrives. */
async function delivered(c: Collector): Promise<string> {
  const k = `w-${++n}`;
  await write('CREATE (:Test {k: $k})', { k });
  await c.waitFor(`the write ${k}`, (evs) => evs.some((e) => e.properties?.['k'] === k));
  return k;
}

describe('the capture watchdog', () => {
  let clock: FakeClock;
  let notices: Notice[];
  let c: Collector;
  let src: Neo4jApocSource | undefined;

  const start = async (over: { reinstall?: boolean } = {}): Promise<Neo4jApocSource> => {
    clock = new FakeClock();
    notices = [];
    c = new Collector();
    src = await startSource(c, { checkIntervalMs: CHECK_MS, ...over }, undefined, false, {
      timer: clock,
      now: () => Date.now(),
      notify: (level, title, message, data) => void notices.push({ level, title, message, ...(data ? { data } : {}) }),
    });
    return src;
  };
  /** One check: the timer fires now. */
  const tick = (): void => clock.advance(CHECK_MS);
  const errors = (): Notice[] => notices.filter((x) => x.level === 'error');
  const state = (): string => `${src!.status().state}: ${src!.status().reason ?? ''}`;

  afterEach(async () => {
    if (c) recordIds(c.events);
    await src?.stop();
    src = undefined;
  });

  const attacks: Array<[string, string, Record<string, unknown>, 'system' | 'neo4j', RegExp]> = [
    ['apoc.trigger.drop', 'CALL apoc.trigger.drop($db, $name)', { db: 'neo4j', name: 'heimdall_outbox' }, 'system', /was removed \(apoc\.trigger\.drop/],
    ['apoc.trigger.stop', 'CALL apoc.trigger.stop($db, $name)', { db: 'neo4j', name: 'heimdall_outbox' }, 'system', /was paused \(apoc\.trigger\.stop/],
    ['apoc.trigger.remove (deprecated)', 'CALL apoc.trigger.remove($name)', { name: 'heimdall_outbox' }, 'neo4j', /was removed/],
    ['apoc.trigger.pause (deprecated)', 'CALL apoc.trigger.pause($name)', { name: 'heimdall_outbox' }, 'neo4j', /was paused/],
  ];
  for (const [name, cypher, params, database, finding] of attacks) {
    it(`${name} on the heimdall trigger: error notice, degraded with the reason, reinstalled, and later changes delivered`, async () => {
      await start();
      await delivered(c);
      await driver.executeQuery(cypher, params, { database });
      // Wait until the database runs without it (or paused), so the write below is really not captured.
      if (/drop|remove/.test(name)) await waitForTrigger(driver, 'heimdall_outbox', false);
      else await until('the database to pause the trigger', async () => (await store.loadedTrigger())?.paused === true);
      await write("CREATE (:Test {k: 'lost'})");

      tick();
      await until('the error notice', () => errors().length === 1);
      const [err] = errors();
      assert.equal(err!.title, 'Change capture switched off or tampered with');
      assert.match(err!.message, finding);
      assert.match(err!.message, /Heimdall is reinstalling it \(reinstall: true\)\./);
      assert.deepEqual(err!.data?.['database'], 'neo4j');
      assert.equal(src!.status().state, 'degraded', 'degraded as soon as it is found');
      assert.match(src!.status().reason!, finding);

      await until('the reinstall notice', () => notices.some((x) => x.title === 'Change capture reinstalled'));
      const re = notices.find((x) => x.title === 'Change capture reinstalled')!;
      assert.equal(re.level, 'warning');
      assert.match(re.message, /^Heimdall reinstalled the outbox trigger heimdall_outbox of the database neo4j \(strict ordering, trigger (created|unchanged), epoch \d+\); changes are captured again\./);
      assert.match(state(), /^degraded: .*Heimdall reinstalled it at \S+; changes committed since \S+ may not have been captured\. The next check \(every 5 s\) confirms capture is on\.$/);

      await delivered(c); // captured again
      tick();
      await until('running after the confirming check', () => src!.status().state === 'running');
      assert.equal(src!.status().reason, undefined);
      assert.equal(errors().length, 1, 'one error notice for one attack');
      assert.ok(!c.events.some((e) => e.properties?.['k'] === 'lost'), 'the write while capture was off was not captured (and the notice said so)');
    });
  }

  it('with reinstall: false only reports (not ready, how to fix it) until an operator installs again', async () => {
    await start({ reinstall: false });
    await driver.executeQuery('CALL apoc.trigger.drop($db, $name)', { db: 'neo4j', name: 'heimdall_outbox' }, { database: 'system' });
    await waitForTrigger(driver, 'heimdall_outbox', false);
    tick();
    await until('the error notice', () => errors().length === 1);
    assert.match(errors()[0]!.message, /Capture is off until someone runs `heimdall db install` \(this daemon does not reinstall it: its neo4j-apoc source has reinstall: false\)\.$/);
    tick();
    await until('the second check', () => clock.pending === 1 && src!.status().state === 'degraded');
    assert.equal((await store.loadedTrigger()), undefined, 'not reinstalled');
    assert.equal(errors().length, 1, 'reported once, not at every check');
    assert.match(state(), /^degraded: The outbox trigger heimdall_outbox of the database neo4j was removed/);

    const fix = await store.install({ ordering: 'strict' }); // the operator's `heimdall db install`
    assert.equal(fix.newEpoch, true);
    tick();
    await until('running again', () => src!.status().state === 'running');
    assert.equal(errors().length, 1, 'the fix (with its new epoch) is no new alarm');
    const back = notices.find((x) => x.title === 'Change capture is on again');
    assert.equal(back?.level, 'success');
    assert.equal(src!.status().details?.['epoch'], fix.epoch);
    await delivered(c);
  });

  it('notices a sequence moved backwards with the internal key: new epoch, no id delivered twice', async () => {
    await start();
    for (let i = 0; i < 3; i++) await delivered(c);
    const epoch = src!.status().details?.['epoch'];
    await internalWrite('MATCH (s:HeimdallOutboxSeq) SET s.value = 1'); // the trigger moves it to a new epoch in that transaction
    for (let i = 0; i < 3; i++) await delivered(c); // seqs 2, 3, 4 again
    tick();
    await until('the error notice', () => errors().length === 1);
    assert.match(errors()[0]!.message, new RegExp(`was reset or reinstalled by something other than this daemon: its epoch changed from ${epoch} to \\d+`));
    assert.match(errors()[0]!.message, /Event ids carry the new epoch, so none repeats/);
    assert.notEqual(src!.status().details?.['epoch'], epoch);
    tick();
    await until('running after the next check', () => src!.status().state === 'running');
    recordIds(c.events);
  });

  it('notices a counter put back lower in the same epoch and moves it to a new one before ids repeat', async () => {
    await start();
    for (let i = 0; i < 3; i++) await delivered(c);
    const epoch = String(src!.status().details?.['epoch']);
    // Deleted and created again in one transaction with the old epoch: nothing in the trigger can tell.
    await internalWrite("MATCH (s:HeimdallOutboxSeq) WITH s, s.epoch AS e DELETE s CREATE (:HeimdallOutboxSeq {name: 'outbox', value: 1, epoch: e})");
    tick();
    await until('the error notice', () => errors().length === 1);
    assert.match(errors()[0]!.message, new RegExp(`moved backwards, to 1, below seq \\d+ already delivered in epoch ${epoch}`));
    await until('the new epoch', () => src!.status().details?.['epoch'] !== epoch);
    for (let i = 0; i < 3; i++) await delivered(c);
    const after = c.events.slice(-2);
    assert.ok(after.every((e) => e.metadata?.['epoch'] !== epoch), 'entries after the bump carry the new epoch');
    tick();
    await until('running after the next check', () => src!.status().state === 'running');
    recordIds(c.events);
  });

  it('notices the counter deleted and puts it back above what was delivered', async () => {
    await start();
    for (let i = 0; i < 2; i++) await delivered(c);
    const last = Number(c.events.filter((e) => e.type === 'transaction.commit').at(-1)!.metadata?.['seq']);
    await internalWrite('MATCH (s:HeimdallOutboxSeq) DELETE s');
    tick();
    await until('the reinstall notice', () => notices.some((x) => x.title === 'Change capture reinstalled'));
    assert.match(errors()[0]!.message, /sequence counter \(:HeimdallOutboxSeq\) of the database neo4j was deleted/);
    await delivered(c);
    const seq = Number(c.events.at(-1)!.metadata?.['seq']);
    assert.equal(seq, last + 1, 'the sequence continues above what was delivered');
    tick();
    await until('running after the next check', () => src!.status().state === 'running');
  });

  it('notices `heimdall db uninstall` under the running source, says capture is off and puts it back', async () => {
    await start();
    await delivered(c);
    await drained();
    const res = await store.uninstall(); // what the CLI runs; no check comes while it waits (the clock stands still)
    assert.deepEqual([res.triggerDropped, res.unloaded, res.schemaDropped, res.reinstalled], [true, true, true, false]);
    tick();
    await until('the error notice', () => errors().length === 1);
    const msg = errors()[0]!.message;
    assert.match(msg, /was removed \(apoc\.trigger\.drop or apoc\.trigger\.remove, or `heimdall db uninstall`\)/);
    assert.match(msg, /lost the index heimdall_outbox_seq and the constraint heimdall_outbox_counter/);
    assert.match(msg, /counter \(:HeimdallOutboxSeq\) of the database neo4j was deleted/);
    await until('the reinstall notice', () => notices.some((x) => x.title === 'Change capture reinstalled'));
    assert.equal((await store.status()).installed, true, 'trigger, counter, index and constraint are back');
    await delivered(c);
    tick();
    await until('running after the next check', () => src!.status().state === 'running');
  });

  it('delivered no id twice for different transactions in this whole file', () => {
    assert.ok(deliveredIds.size > 40, `${deliveredIds.size} ids checked`);
  });
});
