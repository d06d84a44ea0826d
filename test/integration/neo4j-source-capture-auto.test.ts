/**
 * capture: auto (the default of the neo4j-apoc source and of `heimdall db install`) against the run's real Neo4j,
 * which has Heimdall's extension: on a database where nothing captures yet it installs the listener and no APOC
 * trigger; where the APOC trigger is installed it keeps the trigger (switching would capture every transaction twice
 * until the trigger unloads) and installs no listener; where the listener is installed it keeps the listener. Each
 * time it says in one log line what it chose and why, the source's status names the capture, and every change is
 * delivered once. With install: false it looks again once `heimdall db install` has put a capture in place.
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { OutboxStore, type Neo4jApocSource } from '../../daemon/sources/neo4j-apoc/index.js';
import { TriggerGuard } from '../../daemon/sources/neo4j-apoc/trigger-guard.js';
import { Collector, clean, cleanAll, closeSourceFixture, db, driver, mem, openSourceFixture, startSource, store, write } from '../helpers/source-fixture.js';

let listenerStore: OutboxStore;

before(async () => {
  await openSourceFixture();
  listenerStore = new OutboxStore(db, { database: 'neo4j', capture: 'listener' });
});
after(async () => {
  await store.uninstall({ purge: true });
  await closeSourceFixture();
});

const listenerInstalled = async (): Promise<boolean> =>
  (await driver.executeQuery('CALL heimdall.capture.status() YIELD installed RETURN installed', {}, { database: 'neo4j' })).records[0]!.get('installed') as boolean;
const apocStored = async (): Promise<string[]> =>
  ((await driver.executeQuery('CALL apoc.trigger.show($db) YIELD name RETURN collect(name) AS names', { db: 'neo4j' }, { database: 'system' })).records[0]!.get('names') as string[]).filter((n) => n === 'heimdall_outbox');
const choiceLines = (since: number): string[] => mem.lines.slice(since).filter((l) => /\(capture: auto\)/.test(l.msg)).map((l) => l.msg);

/** Writes one node and waits for it; asserts that it arrived once. */
async function deliveredOnce(c: Collector, k: string): Promise<void> {
  await write('CREATE (:Test {k: $k})', { k });
  await c.waitFor(`the write ${k}`, (evs) => evs.some((e) => e.properties?.['k'] === k));
  await write("CREATE (:Test {k: 'after-' + $k})", { k }); // delivered in order: once it is there, a duplicate of k would be too
  await c.waitFor(`the write after ${k}`, (evs) => evs.some((e) => e.properties?.['k'] === `after-${k}`));
  assert.equal(c.events.filter((e) => e.type === 'node.created' && e.properties?.['k'] === k).length, 1, `${k} was delivered once`);
}

describe('the neo4j-apoc source with capture: auto', () => {
  let src: Neo4jApocSource | undefined;
  afterEach(async () => {
    await src?.stop();
    src = undefined;
  });

  it('installs the listener on a database where nothing captures yet, and no APOC trigger', async () => {
    await store.uninstall({ purge: true });
    assert.equal(await listenerInstalled(), false);
    const since = mem.lines.length;
    const c = new Collector();
    src = await startSource(c, { capture: 'auto', ordering: 'relaxed' });
    assert.equal(await listenerInstalled(), true, 'the listener is installed');
    assert.deepEqual(await apocStored(), [], 'no APOC trigger of ours is stored');
    assert.equal(src.status().details?.['capture'], 'listener');
    assert.deepEqual(choiceLines(since), [
      "The outbox of the database neo4j is written by the listener of Heimdall's Neo4j extension (capture: auto): nothing captured it yet and the server runs Heimdall's Neo4j extension.",
    ]);
    await deliveredOnce(c, 'auto-fresh');
  });

  it('keeps the APOC trigger where it is installed, and installs no listener beside it', async () => {
    await store.uninstall({ purge: true });
    await store.install({ ordering: 'relaxed' }); // what an earlier daemon, whose default was the trigger, left
    assert.deepEqual(await apocStored(), ['heimdall_outbox']);
    const since = mem.lines.length;
    const c = new Collector();
    src = await startSource(c, { capture: 'auto', ordering: 'relaxed' }, undefined, true);
    assert.equal(await listenerInstalled(), false, 'no listener: it would capture every transaction a second time');
    assert.deepEqual(await apocStored(), ['heimdall_outbox']);
    assert.equal(src.status().details?.['capture'], 'trigger');
    const [line] = choiceLines(since);
    assert.match(line ?? '', /^The outbox of the database neo4j is written by the APOC trigger \(capture: auto\): the APOC trigger heimdall_outbox is installed there \(set capture: listener to move to Heimdall's extension, while writes are quiet\)\.$/);
    await cleanAll();
    await deliveredOnce(c, 'auto-trigger');
  });

  it('keeps the listener where it is installed', async () => {
    await store.uninstall({ purge: true });
    await listenerStore.install({ ordering: 'relaxed' });
    await clean(); // test data only: the purge gave the outbox a new key, so the fixture's internal writes would be refused
    const since = mem.lines.length;
    const c = new Collector();
    src = await startSource(c, { capture: 'auto', ordering: 'relaxed' }, undefined, true);
    assert.equal(src.status().details?.['capture'], 'listener');
    assert.match(choiceLines(since)[0] ?? '', /written by the listener of Heimdall's Neo4j extension \(capture: auto\): the listener of Heimdall's Neo4j extension is installed there\.$/);
    assert.deepEqual(await apocStored(), []);
    await deliveredOnce(c, 'auto-listener');
  });

  it('with install: false, says what to install and then follows what `heimdall db install` put in place', async () => {
    await store.uninstall({ purge: true });
    const auto = new OutboxStore(db, { database: 'neo4j', capture: 'auto' });
    const guard = new TriggerGuard({ store: auto, ordering: 'relaxed', install: false, startWaitMs: 0, log: mem.logger, minSeq: () => 0, onInstalled: () => {} });
    const waiting = await guard.ensure(true);
    assert.equal(
      waiting?.reason,
      'The outbox listener is not installed in the database neo4j and sources[].install is false; run `heimdall db install`. Changes are not captured until then.',
    );
    assert.equal(guard.ready, false);
    await store.install({ ordering: 'relaxed' }); // the operator runs `heimdall db install --capture trigger`
    guard.recheck();
    assert.equal(await guard.ensure(false), undefined);
    assert.equal(guard.ready, true);
    assert.equal(auto.capture, 'trigger', 'it chose again and found the trigger');
  });
});
