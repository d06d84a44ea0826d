/**
 * The neo4j-apoc source's events against the run's real Neo4j, driven directly (a Database and an emit
 * that collects): every change kind with its old and new values and order, one transaction.commit per
 * transaction, nothing for rolled-back transactions, metadata.origin on the daemon's own writes, the
 * outbox's own nodes left out, value conversion, and the status. Delivery (redelivery, dead letters,
 * backlog, checkpoints, large transactions, relaxed ordering) is in neo4j-source-delivery.test.ts.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { DatabaseEvent } from '../../sdk/index.js';
import { Collector, clean, closeSourceFixture, count, db, drained, driver, marker, openSourceFixture, startSource, write } from '../helpers/source-fixture.js';
import type { Neo4jApocSource } from '../../daemon/sources/neo4j-apoc/index.js';

before(openSourceFixture);
after(closeSourceFixture);

describe('neo4j-apoc source (strict ordering)', () => {
  const c = new Collector();
  let src: Neo4jApocSource;
  before(async () => {
    src = await startSource(c);
  });
  after(async () => {
    await src.stop();
    await clean();
    await drained();
  });
  const reset = async (): Promise<void> => {
    await drained();
    c.events = [];
  };

  it('turns each change kind into exactly the expected events, with old and new values, in order', async () => {
    await reset();
    await write("CREATE (a:Person:Test {name: 'Ada', age: 36})-[r:KNOWS {since: 2020}]->(b:Person:Test {name: 'Bob'})");
    const ids = (await driver.executeQuery("MATCH (a:Person {name: 'Ada'})-[r:KNOWS]->(b:Person {name: 'Bob'}) RETURN elementId(a) AS a, elementId(b) AS b, elementId(r) AS r")).records[0]!;
    const [ada, bob, rel] = [ids.get('a') as string, ids.get('b') as string, ids.get('r') as string];
    await write("MATCH (a:Person {name: 'Ada'}) SET a.age = 37, a.city = 'London', a:Admin REMOVE a:Test");
    await write("MATCH (b:Person {name: 'Bob'}) REMOVE b.nothing"); // no change: no outbox entry, no events
    await write("MATCH (b:Person {name: 'Bob'}) REMOVE b.name");
    await write('MATCH ()-[r:KNOWS]->() SET r.since = 2021, r.weight = 0.5');
    await write('MATCH ()-[r:KNOWS]->() DELETE r');
    await write("MATCH (a:Person {name: 'Ada'}) DELETE a");
    await c.waitFor('six transactions', () => c.commits() === 6);
    await drained();
    const got = c.events.map((e) => ({ type: e.type, nodeId: e.nodeId, relationshipId: e.relationshipId }));
    assert.deepEqual(got, [
      { type: 'node.created', nodeId: ada, relationshipId: undefined },
      { type: 'node.created', nodeId: bob, relationshipId: undefined },
      { type: 'relationship.created', nodeId: undefined, relationshipId: rel },
      { type: 'transaction.commit', nodeId: undefined, relationshipId: undefined },
      { type: 'node.updated', nodeId: ada, relationshipId: undefined },
      { type: 'transaction.commit', nodeId: undefined, relationshipId: undefined },
      { type: 'node.updated', nodeId: bob, relationshipId: undefined },
      { type: 'transaction.commit', nodeId: undefined, relationshipId: undefined },
      { type: 'relationship.updated', nodeId: undefined, relationshipId: rel },
      { type: 'transaction.commit', nodeId: undefined, relationshipId: undefined },
      { type: 'relationship.deleted', nodeId: undefined, relationshipId: rel },
      { type: 'transaction.commit', nodeId: undefined, relationshipId: undefined },
      { type: 'node.deleted', nodeId: ada, relationshipId: undefined },
      { type: 'transaction.commit', nodeId: undefined, relationshipId: undefined },
    ]);
    const [adaCreated, bobCreated, relCreated, , adaUpdated, , bobUpdated, , relUpdated, , relDeleted, , adaDeleted] = c.events as [DatabaseEvent, ...DatabaseEvent[]];
    assert.deepEqual(adaCreated!.nodeLabels!.slice().sort(), ['Person', 'Test']); // labels(n) lists them in label-token order
    assert.deepEqual(adaCreated!.properties, { name: 'Ada', age: 36 });
    assert.deepEqual(bobCreated!.properties, { name: 'Bob' });
    assert.equal(relCreated!.relationshipType, 'KNOWS');
    assert.equal(relCreated!.sourceNodeId, ada);
    assert.equal(relCreated!.targetNodeId, bob);
    assert.deepEqual(relCreated!.properties, { since: 2020 });

    assert.deepEqual(adaUpdated!.nodeLabels!.slice().sort(), ['Admin', 'Person']);
    assert.deepEqual(adaUpdated!.properties, { name: 'Ada', age: 37, city: 'London' });
    assert.deepEqual(adaUpdated!.oldProperties, { name: 'Ada', age: 36 });
    assert.deepEqual(adaUpdated!.metadata?.['labelsAdded'], ['Admin']);
    assert.deepEqual(adaUpdated!.metadata?.['labelsRemoved'], ['Test']);
    assert.deepEqual(bobUpdated!.properties, {});
    assert.deepEqual(bobUpdated!.oldProperties, { name: 'Bob' });

    assert.deepEqual(relUpdated!.properties, { since: 2021, weight: 0.5 });
    assert.deepEqual(relUpdated!.oldProperties, { since: 2020 });
    assert.equal(relUpdated!.relationshipType, 'KNOWS');
    assert.equal(relUpdated!.sourceNodeId, ada);

    assert.equal(relDeleted!.relationshipType, 'KNOWS');
    assert.equal(relDeleted!.sourceNodeId, ada);
    assert.equal(relDeleted!.targetNodeId, bob);
    assert.deepEqual(relDeleted!.oldProperties, { since: 2021, weight: 0.5 });

    assert.deepEqual(adaDeleted!.nodeLabels!.slice().sort(), ['Admin', 'Person']);
    assert.deepEqual(adaDeleted!.oldProperties, { name: 'Ada', age: 37, city: 'London' });
    assert.equal(adaDeleted!.properties, undefined);

    // Common fields; ids are <database>:<epoch>:<seq>:<index>, the commit's <database>:<epoch>:<seq>:commit; txId is
    // <epoch>:<seq>; seqs increase by one within the epoch, which is the counter's.
    const epoch = String(src.status().details?.['epoch']);
    assert.match(epoch, /^\d{13,}$/, 'the epoch is the install time in ms (or later)');
    const seqs = [...new Set(c.events.map((e) => Number(e.metadata?.['seq'])))];
    assert.equal(seqs.length, 6);
    for (let i = 1; i < seqs.length; i++) assert.equal(seqs[i], seqs[0]! + i, 'strict sequence numbers have no gaps');
    for (const e of c.events) {
      assert.equal(e.source, 'neo4j-apoc');
      assert.equal(e.database, 'neo4j');
      assert.ok(!Number.isNaN(Date.parse(e.timestamp)));
      assert.match(e.id, e.type === 'transaction.commit' ? /^neo4j:\d+:\d+:commit$/ : /^neo4j:\d+:\d+:\d+$/);
      assert.equal(e.txId, `${epoch}:${e.metadata?.['seq']}`);
      assert.equal(e.metadata?.['epoch'], epoch);
      assert.ok(e.id.startsWith(`neo4j:${e.txId}:`));
      assert.deepEqual(e.metadata?.tx, {});
      assert.equal(e.metadata?.origin, undefined);
    }
    assert.equal(new Set(c.events.map((e) => e.id)).size, c.events.length, 'ids are unique');
    await clean();
  });

  it('gives a multi-statement transaction one transaction.commit with per-kind counts and metadata.tx', async () => {
    await write("CREATE (:Test {k: 'keep'}), (:Test {k: 'drop'})");
    await reset();
    const session = driver.session({ database: 'neo4j' });
    const tx = session.beginTransaction({ metadata: { app: 'billing', requestId: 'r-42' } });
    try {
      await tx.run("CREATE (:Test {k: 'n1'}), (:Test {k: 'n2'}), (:Test {k: 'n3'})");
      await tx.run("MATCH (a:Test {k: 'n1'}), (b:Test {k: 'n2'}) CREATE (a)-[:LINK]->(b)");
      await tx.run("MATCH (k:Test {k: 'keep'}) SET k.touched = true");
      await tx.run("MATCH (d:Test {k: 'drop'}) DELETE d");
      await tx.commit();
    } finally {
      await session.close();
    }
    await c.waitFor('the commit', () => c.commits() === 1);
    await drained();
    const commits = c.events.filter((e) => e.type === 'transaction.commit');
    assert.equal(commits.length, 1);
    const commit = commits[0]!;
    assert.deepEqual(commit.metadata?.['counts'], { nodesCreated: 3, nodesUpdated: 1, nodesDeleted: 1, relationshipsCreated: 1, relationshipsUpdated: 0, relationshipsDeleted: 0 });
    assert.equal(commit.rowsAffected, 6);
    assert.deepEqual(commit.metadata?.tx, { app: 'billing', requestId: 'r-42' });
    assert.equal(commit, c.events[c.events.length - 1], 'the commit comes after the changes');
    assert.deepEqual(c.events.map((e) => e.type), ['node.created', 'node.created', 'node.created', 'relationship.created', 'node.updated', 'node.deleted', 'transaction.commit']);
    for (const e of c.events) assert.equal(e.txId, commit.txId);
    await clean();
  });

  it('produces nothing for rolled-back transactions', async () => {
    await reset();
    const session = driver.session({ database: 'neo4j' });
    try {
      const tx = session.beginTransaction();
      await tx.run("CREATE (:Test {k: 'rolled-back'})");
      await tx.rollback();
      await assert.rejects(session.executeWrite(async (t) => {
        await t.run("CREATE (:Test {k: 'fails'})");
        await t.run('RETURN 1 / 0');
      }));
    } finally {
      await session.close();
    }
    await write("CREATE (:Test {k: 'marker'})");
    await c.waitFor('the marker', () => c.commits() === 1);
    await drained();
    assert.deepEqual(c.events.map((e) => [e.type, e.properties?.['k']]), [['node.created', 'marker'], ['transaction.commit', undefined]]);
    assert.equal(await count("MATCH (t:Test) WHERE t.k IN ['rolled-back', 'fails'] RETURN count(t)"), 0);
    await clean();
  });

  it("puts metadata.origin on events of the daemon's own writes (transaction metadata app: 'heimdall')", async () => {
    await reset();
    await db.run("CREATE (:Test {k: 'by-plugin'})", {}, { mode: 'write', metadata: { plugin: 'fixer', action: 'heimdall.fixer.repair', invocationId: 'inv-7' } });
    await db.run("CREATE (:Test {k: 'by-daemon'})", {}, { mode: 'write' });
    await write("CREATE (:Test {k: 'by-user'})", {}, { app: 'someone-else', plugin: 'fixer' });
    await c.waitFor('three commits', () => c.commits() === 3);
    const byKey = (k: string) => c.events.find((e) => e.properties?.['k'] === k)!;
    assert.deepEqual(byKey('by-plugin').metadata?.origin, { plugin: 'fixer', action: 'heimdall.fixer.repair', invocationId: 'inv-7' });
    assert.equal(byKey('by-plugin').metadata?.tx?.['app'], 'heimdall');
    const commitOfPlugin = c.events.find((e) => e.type === 'transaction.commit' && e.txId === byKey('by-plugin').txId)!;
    assert.deepEqual(commitOfPlugin.metadata?.origin, { plugin: 'fixer', action: 'heimdall.fixer.repair', invocationId: 'inv-7' });
    assert.deepEqual(byKey('by-daemon').metadata?.origin, { plugin: 'heimdall' });
    assert.equal(byKey('by-user').metadata?.origin, undefined);
    await clean();
  });

  it("leaves the outbox's own nodes out: acknowledgements produce no phantom events, and a wipe that would hit them is refused", async () => {
    await reset();
    await write("CREATE (:Test {k: 'w1'}), (:Test {k: 'w2'})");
    await c.waitFor('the create', () => c.commits() === 1);
    await drained();
    // A wipe of everything would delete the counter (and any entry not yet read): the trigger refuses the whole
    // transaction, nothing is deleted and no entry is written; the sequence continues without a gap.
    const before = Number((await driver.executeQuery('MATCH (c:HeimdallOutboxSeq) RETURN c.value AS v')).records[0]!.get('v'));
    await assert.rejects(write('MATCH (n) DETACH DELETE n'), /Heimdall refuses this transaction: it would delete or change Heimdall's own nodes \(:HeimdallOutboxSeq\)/);
    assert.equal(await count('MATCH (t:Test) RETURN count(t)'), 2, 'the refused wipe deleted nothing');
    // The wipe the refusal suggests leaves Heimdall's nodes alone and is captured like any other delete.
    await write("MATCH (n) WHERE NOT any(l IN labels(n) WHERE l STARTS WITH 'Heimdall') DETACH DELETE n");
    await c.waitFor('the wipe', () => c.commits() === 2);
    await drained();
    const wipe = c.events.slice(3);
    assert.deepEqual(wipe.map((e) => e.type), ['node.deleted', 'node.deleted', 'transaction.commit']);
    assert.deepEqual(wipe.map((e) => e.oldProperties?.['k']).slice(0, 2).sort(), ['w1', 'w2']);
    const after = Number((await driver.executeQuery('MATCH (c:HeimdallOutboxSeq) RETURN c.value AS v')).records[0]!.get('v'));
    assert.equal(after, before + 1);
    assert.equal(wipe[0]!.metadata?.['seq'], String(after));
    // Quiescence: entries are delivered in seq order, so once a later marker arrives, anything the deletes of
    // processed entries had written would have arrived before it.
    await marker(c);
    assert.equal(c.commits() - 1, 2, 'deleting processed entries produced no events');
    await clean();
  });

  it('converts values: temporal as ISO strings, integers beyond 2^53 as strings, lists, points, floats', async () => {
    await reset();
    await write(
      "CREATE (:Test {k: 'values', d: date('2024-02-29'), dt: datetime('2024-02-29T10:11:12.345+01:00'), ldt: localdatetime('2024-02-29T10:11:12'), " +
        "dur: duration('P1DT2H'), big: 9007199254740993, neg: -9223372036854775808, safe: 9007199254740991, f: 1.5, list: [1, 2, 3], words: ['a', 'b'], " +
        "p: point({x: 1.5, y: 2.5}), ok: true, s: 'x\"y 12345678901234567890'})",
    );
    await c.waitFor('the create', () => c.commits() === 1);
    const p = c.events[0]!.properties!;
    assert.equal(p['d'], '2024-02-29');
    assert.equal(p['dt'], '2024-02-29T10:11:12.345+01:00');
    assert.equal(p['ldt'], '2024-02-29T10:11:12');
    assert.equal(p['dur'], 'P1DT2H');
    assert.equal(p['big'], '9007199254740993');
    assert.equal(p['neg'], '-9223372036854775808');
    assert.equal(p['safe'], 9007199254740991);
    assert.equal(p['f'], 1.5);
    assert.deepEqual(p['list'], [1, 2, 3]);
    assert.deepEqual(p['words'], ['a', 'b']);
    assert.deepEqual(p['p'], { crs: 'cartesian', x: 1.5, y: 2.5, z: null });
    assert.equal(p['ok'], true);
    assert.equal(p['s'], 'x"y 12345678901234567890');
    assert.doesNotThrow(() => structuredClone(c.events), 'events are plain data');
    await clean();
  });

  it('status reports the ordering, the last sequence number and the backlog', async () => {
    await drained();
    const st = src.status();
    assert.equal(st.name, 'neo4j-apoc');
    assert.equal(st.type, 'neo4j-apoc');
    assert.equal(st.state, 'running');
    assert.ok(st.emitted > 0);
    assert.equal(st.details?.['ordering'], 'strict');
    assert.equal(typeof st.details?.['lastSeq'], 'number');
    assert.equal(st.details?.['backlog'], src.backlog());
  });
});
