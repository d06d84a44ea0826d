/**
 * The neo4j-apoc source with capture: listener (Heimdall's Neo4j extension, neo4j/src/main/java/heimdall/capture)
 * against the run's real Neo4j: it installs the listener (no APOC trigger), delivers every committed change as the
 * trigger does (ids, txId, commit events, per-node order), switches from the trigger to the listener and back keeping
 * the internal key and never capturing nothing, its watchdog finds the listener uninstalled behind its back and puts it
 * back, the listener's refusal is the one the remediation executor recognises, and the CLI installs it.
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { isRefusal, refusedLabels } from '../../daemon/db/own-state.js';
import { OutboxStore, type Neo4jApocSource } from '../../daemon/sources/neo4j-apoc/index.js';
import { FakeClock } from '../helpers/fake-clock.js';
import { waitForTrigger } from '../helpers/neo4j.js';
import { Collector, closeSourceFixture, count, db, driver, openSourceFixture, startSource, store, write } from '../helpers/source-fixture.js';

const CHECK_MS = 5000;
let listenerStore: OutboxStore;

before(async () => {
  await openSourceFixture();
  listenerStore = new OutboxStore(db, { database: 'neo4j', capture: 'listener' });
});
after(async () => {
  await store.uninstall({ purge: true }); // the trigger and the listener both
  await closeSourceFixture();
});

const listenerState = async () => (await driver.executeQuery('CALL heimdall.capture.status()', {}, { database: 'neo4j' })).records[0]!.toObject();
/** Our outbox trigger's name when APOC stores it (other tests' daemons leave their heimdall_policy trigger). */
const apocStored = async () =>
  ((await driver.executeQuery('CALL apoc.trigger.show($db) YIELD name RETURN collect(name) AS names', { db: 'neo4j' }, { database: 'system' })).records[0]!.get('names') as string[]).filter((n) => n === 'heimdall_outbox');

async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}.`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('the neo4j-apoc source with capture: listener', () => {
  let src: Neo4jApocSource | undefined;
  afterEach(async () => {
    await src?.stop();
    src = undefined;
  });

  it('installs the listener instead of a trigger and delivers each change with the ids, txId and order of the trigger', async () => {
    const c = new Collector();
    src = await startSource(c, { capture: 'listener', ordering: 'relaxed' });
    const st = await listenerState();
    assert.equal(st['installed'], true);
    assert.equal(st['ordering'], 'relaxed');
    assert.deepEqual(await apocStored(), [], 'no APOC trigger of ours is stored');

    await write("CREATE (:Test {k: 'l1', n: 0})");
    for (let i = 1; i <= 5; i++) await write("MATCH (t:Test {k: 'l1'}) SET t.n = $i", { i });
    await write("MATCH (t:Test {k: 'l1'}) DELETE t");
    await c.waitFor('the delete', (evs) => evs.some((e) => e.type === 'node.deleted'));
    const node = c.events.filter((e) => e.type.startsWith('node.'));
    assert.deepEqual(node.map((e) => e.type), ['node.created', ...Array(5).fill('node.updated'), 'node.deleted']);
    assert.deepEqual(node.slice(1, 6).map((e) => e.properties?.['n']), [1, 2, 3, 4, 5], 'per-node commit order');
    for (const e of c.events) {
      assert.match(e.id, /^neo4j:\d+:\d{19}\.\d+:(\d+|commit)$/, 'the relaxed id form');
      assert.equal(e.source, 'neo4j-apoc');
    }
    assert.equal(c.commits(), 7);
    assert.equal(new Set(c.events.map((e) => e.id)).size, c.events.length, 'ids are unique');
    await until('the outbox to drain', async () => (await count('MATCH (o:HeimdallOutbox) RETURN count(o)')) === 0);
    assert.equal(src.status().details?.['ordering'], 'relaxed');
  });

  it('switches from the trigger to the listener and back: same key, and a change committed at any point is delivered', async () => {
    await store.install({ ordering: 'strict' });
    const key = (await store.internalMetadata())['heimdallKey'];
    assert.equal(typeof key, 'string');

    const c = new Collector();
    src = await startSource(c, { capture: 'listener', ordering: 'strict' });
    assert.deepEqual(await apocStored(), [], 'the APOC trigger was dropped');
    assert.equal((await listenerState())['key'], key, 'the listener took the trigger\'s key');
    await waitForTrigger(driver, 'heimdall_outbox', false);
    await write("CREATE (:Test {k: 'under-listener'})");
    await c.waitFor('the write under the listener', (evs) => evs.some((e) => e.properties?.['k'] === 'under-listener'));
    assert.match(c.events.find((e) => e.type === 'node.created')!.id, /^neo4j:\d+:\d+:0$/, 'strict ids');
    await src.stop();
    src = undefined;

    const back = new Collector();
    src = await startSource(back, { capture: 'trigger', ordering: 'strict' });
    assert.equal((await listenerState())['installed'], false, 'the listener is uninstalled once the trigger runs');
    assert.deepEqual(await apocStored(), ['heimdall_outbox']);
    await write("CREATE (:Test {k: 'under-trigger'})");
    await back.waitFor('the write under the trigger', (evs) => evs.some((e) => e.properties?.['k'] === 'under-trigger'));
    assert.equal(back.events.filter((e) => e.type === 'node.created').length, 1, 'captured once, not twice');
    assert.equal((await store.internalMetadata())['heimdallKey'], key, 'the key survived both switches');
  });

  it('its watchdog finds the listener uninstalled behind its back, reports it and puts it back', async () => {
    const clock = new FakeClock();
    const notices: Array<{ level: string; title: string; message: string }> = [];
    const c = new Collector();
    src = await startSource(c, { capture: 'listener', checkIntervalMs: CHECK_MS }, undefined, false, {
      timer: clock,
      now: () => Date.now(),
      notify: (level, title, message) => void notices.push({ level, title, message }),
    });
    await driver.executeQuery('CALL heimdall.capture.uninstall()', {}, { database: 'neo4j' });
    clock.advance(CHECK_MS);
    await until('the error notice', () => notices.some((x) => x.level === 'error'));
    const err = notices.find((x) => x.level === 'error')!;
    assert.match(err.message, /The outbox listener of the database neo4j was uninstalled/);
    await until('the reinstall notice', () => notices.some((x) => x.title === 'Change capture reinstalled'));
    assert.match(notices.find((x) => x.title === 'Change capture reinstalled')!.message, /^Heimdall reinstalled the outbox listener of the database neo4j \(strict ordering, listener created, epoch \d+\)/);
    assert.equal((await listenerState())['installed'], true);
    await write("CREATE (:Test {k: 'after-repair'})");
    await c.waitFor('the write after the repair', (evs) => evs.some((e) => e.properties?.['k'] === 'after-repair'));
    clock.advance(CHECK_MS);
    await until('running after the confirming check', () => src!.status().state === 'running');
  });

  it("refuses writes to Heimdall's nodes with the message the remediation executor recognises, and lets the daemon's own through", async () => {
    const c = new Collector();
    src = await startSource(c, { capture: 'listener' });
    await write("CREATE (:Test {k: 'entry-maker'})");
    await c.waitFor('the first write', (evs) => evs.some((e) => e.properties?.['k'] === 'entry-maker'));
    await src.stop();
    src = undefined;
    await write("CREATE (:Test {k: 'pending'})"); // an entry nobody deletes while the source is stopped
    const before = await count('MATCH (o:HeimdallOutbox) RETURN count(o)');
    assert.equal(before, 1);
    const err = await write('MATCH (o:HeimdallOutbox) SET o.seq = 0').then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(isRefusal(err), `refused: ${String(err)}`);
    assert.deepEqual(refusedLabels(err), ['HeimdallOutbox']);
    await assert.rejects(write('MATCH (o:HeimdallOutbox) DETACH DELETE o'), (e: unknown) => isRefusal(e));
    assert.equal(await count('MATCH (o:HeimdallOutbox) RETURN count(o)'), 1, 'nothing deleted');
    const deleted = await listenerStore.ack((await listenerStore.read({ limit: 10 })).entries);
    assert.equal(deleted, 1, "the daemon's own delete, with the key the listener knows, goes through");
  });

  it('the store installs the listener in force at once, says so in its status, changes nothing the second time and uninstalls it (what heimdall db install --capture listener runs)', async () => {
    await store.uninstall({ purge: true });
    const res = await listenerStore.install({ ordering: 'relaxed', waitMs: 0 });
    assert.equal(res.loaded, true, 'the listener is in force at once');
    assert.equal(res.trigger, 'created');
    const st = await listenerStore.status();
    assert.equal(st.installed, true);
    assert.equal(st.trigger.capture, 'listener');
    assert.equal(st.trigger.ordering, 'relaxed');
    const again = await listenerStore.install({ ordering: 'relaxed', waitMs: 0 });
    assert.equal(again.trigger, 'unchanged');
    assert.equal(again.newEpoch, false);
    const un = await listenerStore.uninstall({ purge: true, waitMs: 5000 });
    assert.equal(un.triggerDropped, true);
    assert.equal(un.unloaded, true);
    assert.equal((await listenerState())['installed'], false);
  });
});
