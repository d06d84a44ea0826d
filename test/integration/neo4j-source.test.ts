/**
 * The neo4j-apoc source against the run's real Neo4j, driven directly (a Database and an emit that
 * collects): every change kind with its old and new values and order, one transaction.commit per
 * transaction, nothing for rolled-back transactions, metadata.origin on the daemon's own writes,
 * the outbox's own nodes left out, value conversion, redelivery with the same ids, the backlog, and
 * the installer.
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import neo4j, { type Driver } from 'neo4j-driver';
import { pino, type Logger } from 'pino';
import type { Neo4jApocSourceConfig } from '../../config/types.js';
import { Database } from '../../daemon/db/database.js';
import { Neo4jApocSource, OutboxStore, triggerStatement } from '../../daemon/sources/neo4j-apoc/index.js';
import type { DatabaseEvent } from '../../sdk/index.js';
import { openTestDriver, testNeo4j } from '../helpers/neo4j.js';

/** Collects emitted events; `failNext` makes the next emit throw after recording (a crash before the delete). */
class Collector {
  events: DatabaseEvent[] = [];
  failNext = 0;
  emit = (evs: DatabaseEvent[]): void => {
    this.events.push(...evs);
    if (this.failNext > 0) {
      this.failNext--;
      throw new Error('simulated failure after emit');
    }
  };
  async waitFor(what: string, check: (evs: DatabaseEvent[]) => boolean, timeoutMs = 15_000): Promise<void> {
    const end = Date.now() + timeoutMs;
    while (!check(this.events)) {
      if (Date.now() > end) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}; got ${this.events.length} events:\n${this.events.map((e) => `${e.id} ${e.type}`).join('\n')}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }
  commits(): number {
    return this.events.filter((e) => e.type === 'transaction.commit').length;
  }
}

/** A logger whose lines are kept for assertions. */
function memoryLogger(): { logger: Logger; lines: Array<{ level: number; msg: string }> } {
  const lines: Array<{ level: number; msg: string }> = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString('utf8').split('\n').filter(Boolean)) lines.push(JSON.parse(l) as { level: number; msg: string });
      cb();
    },
  });
  return { logger: pino({ level: 'info' }, stream), lines };
}

const sourceConfig = (over: Partial<Neo4jApocSourceConfig> = {}): Neo4jApocSourceConfig => ({
  type: 'neo4j-apoc',
  pollIntervalMs: 20,
  batchSize: 1000,
  backlogWarning: 10_000,
  ordering: 'strict',
  install: true,
  ...over,
});

let driver: Driver;
let db: Database;
let store: OutboxStore;
const mem = memoryLogger();

async function count(cypher: string): Promise<number> {
  const { records } = await driver.executeQuery(cypher);
  return neo4j.integer.toNumber(records[0]!.get(0) as neo4j.Integer);
}

/** Waits until the outbox is empty (everything emitted and deleted). */
async function drained(timeoutMs = 15_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while ((await count('MATCH (o:HeimdallOutbox) RETURN count(o)')) > 0) {
    if (Date.now() > end) throw new Error(`The outbox was not drained within ${timeoutMs} ms.`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Deletes test data (not the outbox's nodes). */
async function clean(): Promise<void> {
  await driver.executeQuery('MATCH (n) WHERE NOT n:HeimdallOutbox AND NOT n:HeimdallOutboxSeq DETACH DELETE n');
}

/** Deletes test data and every outbox entry (as the daemon's acknowledgements do, so nothing is captured). */
async function cleanAll(): Promise<void> {
  await clean();
  await driver.executeQuery('MATCH (o:HeimdallOutbox) DELETE o', {}, { database: 'neo4j', transactionConfig: { metadata: { app: 'heimdall', outbox: 'ack' } } });
}

async function startSource(c: Collector, over: Partial<Neo4jApocSourceConfig> = {}, logger: Logger = mem.logger, keepOutbox = false): Promise<Neo4jApocSource> {
  if (!keepOutbox) await cleanAll();
  const src = new Neo4jApocSource({ db, config: sourceConfig(over), emit: c.emit, logger });
  await src.start();
  assert.equal(src.status().state, 'running', `the source should be running: ${src.status().reason ?? ''}`);
  return src;
}

/**
 * Writes a marker transaction and waits until its events arrive. Delivery is in commit order, so everything
 * committed before the marker has been delivered by then, and the source has read the outbox at least once more.
 */
let markers = 0;
async function marker(c: Collector): Promise<void> {
  const n = c.commits();
  const k = `marker-${++markers}`;
  await write('CREATE (:Test {k: $k})', { k });
  await c.waitFor(`the ${k} transaction`, () => c.events.some((e) => e.properties?.['k'] === k));
  assert.equal(c.commits(), n + 1, 'nothing arrived between the last commit and the marker');
}

async function write(cypher: string, params: Record<string, unknown> = {}, metadata?: Record<string, unknown>): Promise<string[]> {
  const { records } = await driver.executeQuery(cypher, params, { database: 'neo4j', ...(metadata ? { transactionConfig: { metadata } } : {}) });
  return records.map((r) => String(r.get(0)));
}

before(async () => {
  driver = await openTestDriver();
  const t = await testNeo4j();
  db = new Database({ uri: t.uri, user: t.user, password: t.password, database: 'neo4j', queryTimeoutMs: 30_000, connectTimeoutMs: 5000 }, mem.logger);
  await db.start();
  store = new OutboxStore(db, { database: 'neo4j' });
  await store.uninstall({ purge: true });
  await clean();
});

after(async () => {
  await store.uninstall({ purge: true });
  await clean();
  await db?.close();
  await driver?.close();
});

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
    assert.deepEqual(adaCreated!.nodeLabels, ['Person', 'Test']);
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

    // Common fields; ids are <database>:<seq>:<index>, the commit's <database>:<seq>:commit; seqs increase by one.
    const seqs = [...new Set(c.events.map((e) => Number(e.txId)))];
    assert.equal(seqs.length, 6);
    for (let i = 1; i < seqs.length; i++) assert.equal(seqs[i], seqs[0]! + i, 'strict sequence numbers have no gaps');
    for (const e of c.events) {
      assert.equal(e.source, 'neo4j-apoc');
      assert.equal(e.database, 'neo4j');
      assert.ok(!Number.isNaN(Date.parse(e.timestamp)));
      assert.match(e.id, e.type === 'transaction.commit' ? /^neo4j:\d+:commit$/ : /^neo4j:\d+:\d+$/);
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

  it("leaves the outbox's own nodes out: acknowledgements, a wipe of the database and the counter produce no phantom events", async () => {
    await reset();
    await write("CREATE (:Test {k: 'w1'}), (:Test {k: 'w2'})");
    await c.waitFor('the create', () => c.commits() === 1);
    await drained();
    // A wipe that also hits the counter (and any entry not yet read): only the user's nodes are reported, the counter
    // is re-created with its old value and the sequence continues without a gap.
    const before = Number((await driver.executeQuery('MATCH (c:HeimdallOutboxSeq) RETURN c.value AS v')).records[0]!.get('v'));
    await write('MATCH (n) DETACH DELETE n');
    await c.waitFor('the wipe', () => c.commits() === 2);
    await drained();
    const wipe = c.events.slice(3);
    assert.deepEqual(wipe.map((e) => e.type), ['node.deleted', 'node.deleted', 'transaction.commit']);
    assert.deepEqual(wipe.map((e) => e.oldProperties?.['k']).slice(0, 2).sort(), ['w1', 'w2']);
    const after = Number((await driver.executeQuery('MATCH (c:HeimdallOutboxSeq) RETURN c.value AS v')).records[0]!.get('v'));
    assert.equal(after, before + 1);
    assert.equal(wipe[0]!.txId, String(after));
    await write("CREATE (:Test {k: 'after-wipe'})");
    await c.waitFor('a write after the wipe', () => c.commits() === 3);
    assert.equal(c.events[c.events.length - 1]!.txId, String(after + 1));
    await drained();
    // Quiescence: entries are delivered in seq order, so once a later marker arrives, anything the deletes of
    // processed entries had written would have arrived before it.
    await marker(c);
    assert.equal(c.commits() - 1, 3, 'deleting processed entries produced no events');
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

describe('neo4j-apoc source delivery', () => {
  it('delivers an entry again, with the same event ids, when the emit fails before its delete', async () => {
    const c = new Collector();
    const src = await startSource(c);
    try {
      c.failNext = 1;
      await write("CREATE (:Test {k: 'again'})");
      await c.waitFor('the redelivery', () => c.commits() === 2);
      await drained();
      const ids = c.events.map((e) => e.id);
      assert.equal(ids.length, 4);
      assert.deepEqual(ids.slice(0, 2), ids.slice(2), 'the same ids both times');
      assert.deepEqual(c.events[0], c.events[2]);
    } finally {
      await src.stop();
      await cleanAll();
    }
  });

  it('dead-letters an entry it cannot read, says so at ERROR, and delivers the entries after it', async () => {
    const { logger, lines } = memoryLogger();
    const c = new Collector();
    const src = await startSource(c, {}, logger);
    const own = { database: 'neo4j', transactionConfig: { metadata: { app: 'heimdall', outbox: 'ack' } } };
    try {
      // A corrupt entry next in seq order, written the way Heimdall writes its own nodes (the trigger ignores it).
      await driver.executeQuery(
        "MATCH (s:HeimdallOutboxSeq {name: 'outbox'}) SET s.value = s.value + 1 " +
          "CREATE (:HeimdallOutbox {seq: s.value, committedAt: timestamp(), txMeta: '{}', changes: '{\"nc\": [oops', bytes: 11})",
        {},
        own,
      );
      await write("CREATE (:Test {k: 'after-poison'})");
      await c.waitFor('the write after the corrupt entry', () => c.commits() === 1);
      await drained();
      assert.deepEqual(c.events.map((e) => [e.type, e.properties?.['k']]), [['node.created', 'after-poison'], ['transaction.commit', undefined]]);
      const failed = (await driver.executeQuery('MATCH (f:HeimdallOutboxFailed) RETURN f.changes AS changes, f.failure AS failure')).records;
      assert.equal(failed.length, 1);
      assert.equal(failed[0]!.get('changes'), '{"nc": [oops');
      assert.match(failed[0]!.get('failure') as string, /JSON/);
      const errors = lines.filter((l) => l.level === 50);
      assert.equal(errors.length, 1, JSON.stringify(errors));
      assert.match(errors[0]!.msg, /^The outbox entry seq \d+ of the database neo4j cannot be read \(.*JSON.*\); its events are lost\. It is kept as a \(:HeimdallOutboxFailed\) node for inspection\.$/);
    } finally {
      await src.stop();
      await driver.executeQuery('MATCH (f:HeimdallOutboxFailed) DELETE f', {}, own);
      await cleanAll();
    }
  });

  it('counts the backlog and warns once when it passes backlogWarning; a stopped source loses nothing', async () => {
    const { logger, lines } = memoryLogger();
    const c = new Collector();
    await store.install({ ordering: 'strict' });
    await cleanAll();
    // Written while no source runs: the entries wait in the outbox.
    for (let i = 0; i < 30; i++) await write('CREATE (:Test {k: $i})', { i });
    const st = await store.status();
    assert.equal(st.backlog, 30);
    assert.equal(st.installed, true);
    const src = await startSource(c, { backlogWarning: 5, batchSize: 10 }, logger, true);
    try {
      await c.waitFor('all 30 transactions', () => c.commits() === 30);
      await drained();
      const created = c.events.filter((e) => e.type === 'node.created').map((e) => e.properties?.['k']);
      assert.deepEqual(created, Array.from({ length: 30 }, (_, i) => i), 'in commit order');
      const warnings = lines.filter((l) => l.level === 40 && /holds \d+ undelivered transactions, more than backlogWarning \(5\)/.test(l.msg));
      assert.equal(warnings.length, 1, `one backlog warning: ${JSON.stringify(lines)}`);
    } finally {
      await src.stop();
      await cleanAll();
    }
  });

  it('with a settled checkpoint, deletes entries only after the checkpoint passes', async () => {
    const c = new Collector();
    let release: () => void = () => {};
    let gate = new Promise<void>((r) => (release = r));
    await cleanAll();
    const src = new Neo4jApocSource({ db, config: sourceConfig(), emit: c.emit, logger: mem.logger, settled: () => gate });
    await src.start();
    try {
      await write("CREATE (:Test {k: 'gated'})");
      await c.waitFor('the emit', () => c.commits() === 1);
      // Quiescence: the marker is read after the gated entry was emitted, so the source has read the outbox again since.
      await marker(c);
      assert.equal(await count("MATCH (o:HeimdallOutbox) WHERE NOT o.changes CONTAINS 'marker-' RETURN count(o)"), 1, 'the entry stays until the checkpoint passes');
      assert.equal(c.commits() - 1, 1, 'and it is not emitted twice meanwhile');
      release();
      await drained();
      gate = Promise.resolve();
    } finally {
      await src.stop();
      await cleanAll();
    }
  });
});

describe('neo4j-apoc source with large transactions', () => {
  it('bounds each read and delete by entry size and still delivers everything in order', async () => {
    const c = new Collector();
    const emits: number[] = [];
    await cleanAll();
    await store.install({ ordering: 'strict' });
    for (let t = 0; t < 6; t++) await write("UNWIND range(1, 2000) AS j CREATE (:Test {t: $t, j: j, pad: 'xxxxxxxxxxxxxxxxxxxxxxxx'})", { t });
    const sizes = (await driver.executeQuery('MATCH (o:HeimdallOutbox) RETURN o.bytes AS b')).records.map((r) => neo4j.integer.toNumber(r.get('b') as neo4j.Integer));
    assert.equal(sizes.length, 6);
    assert.ok(sizes.every((b) => b > 100_000), `each entry is large (${sizes.join(', ')} bytes)`);
    const src = new Neo4jApocSource({ db, config: sourceConfig(), emit: (e) => (emits.push(e.length), c.emit(e)), logger: mem.logger, maxBatchBytes: 150_000 });
    await src.start();
    try {
      await c.waitFor('six large transactions', () => c.commits() === 6, 60_000);
      await drained();
      assert.ok(emits.length >= 6, `one entry per read with a 150 kB bound (${emits.length} emits)`);
      const created = c.events.filter((e) => e.type === 'node.created');
      assert.equal(created.length, 12_000);
      const txs = created.map((e) => e.properties?.['t'] as number);
      assert.deepEqual(txs, txs.slice().sort((a, b) => a - b), 'transactions in commit order');
      for (let t = 0; t < 6; t++) {
        const js = created.filter((e) => e.properties?.['t'] === t).map((e) => e.properties?.['j'] as number).sort((a, b) => a - b);
        assert.deepEqual(js, Array.from({ length: 2000 }, (_, i) => i + 1));
      }
    } finally {
      await src.stop();
      await cleanAll();
    }
  });
});

describe('neo4j-apoc source (relaxed ordering)', () => {
  it('produces the same events and keeps the order of changes to the same node under concurrent writers', async () => {
    const c = new Collector();
    const src = await startSource(c, { ordering: 'relaxed' });
    try {
      assert.equal((await store.status()).trigger.ordering, 'relaxed');
      await write("CREATE (:Test {k: 'counter', n: 0})");
      const writers = 6;
      const perWriter = 25;
      await Promise.all(
        Array.from({ length: writers }, async (_, w) => {
          const session = driver.session({ database: 'neo4j' });
          try {
            for (let i = 0; i < perWriter; i++) {
              await session.executeWrite((tx) => tx.run("MATCH (t:Test {k: 'counter'}) SET t.n = t.n + 1 CREATE (:Test {k: $k})", { k: `w${w}-${i}` }));
            }
          } finally {
            await session.close();
          }
        }),
      );
      const total = writers * perWriter;
      await c.waitFor('every transaction', () => c.commits() === total + 1);
      await drained();
      const updates = c.events.filter((e) => e.type === 'node.updated').map((e) => [e.oldProperties?.['n'], e.properties?.['n']]);
      assert.deepEqual(updates, Array.from({ length: total }, (_, i) => [i, i + 1]), 'updates of one node arrive in commit order');
      assert.equal(c.events.filter((e) => e.type === 'node.created').length, total + 1);
      assert.equal(new Set(c.events.map((e) => e.id)).size, c.events.length, 'ids are unique');
      assert.equal(src.status().details?.['ordering'], 'relaxed');
    } finally {
      await src.stop();
      await cleanAll();
    }
  });
});

describe('outbox installer', () => {
  it('is idempotent, replaces the statement when the ordering changes, and uninstall keeps undelivered entries unless purge', async () => {
    await store.uninstall({ purge: true });
    const first = await store.install({ ordering: 'strict' });
    assert.equal(first.trigger, 'created');
    assert.equal(first.loaded, true);
    const again = await store.install({ ordering: 'strict' });
    assert.equal(again.trigger, 'unchanged');
    const relaxed = await store.install({ ordering: 'relaxed' });
    assert.equal(relaxed.trigger, 'updated');
    assert.equal(relaxed.loaded, true);
    const shown = await driver.executeQuery('CALL apoc.trigger.show($db) YIELD name, query RETURN name, query', { db: 'neo4j' }, { database: 'system' });
    assert.deepEqual(shown.records.filter((r) => r.get('name') === 'heimdall_outbox').map((r) => r.get('query')), [triggerStatement('relaxed')]);

    await write("CREATE (:Test {k: 'pending'})");
    const kept = await store.uninstall();
    assert.deepEqual([kept.triggerDropped, kept.unloaded, kept.entriesKept, kept.schemaDropped], [true, true, 1, false]);
    await write("CREATE (:Test {k: 'not captured'})");
    assert.equal(await count('MATCH (o:HeimdallOutbox) RETURN count(o)'), 1, 'no trigger, no new entry');
    const st = await store.status();
    assert.equal(st.installed, false);
    assert.equal(st.trigger.stored, false);
    const purged = await store.uninstall({ purge: true });
    assert.deepEqual([purged.triggerDropped, purged.entriesDeleted, purged.entriesKept, purged.schemaDropped], [false, 1, 0, true]);
    assert.equal(await count('MATCH (c:HeimdallOutboxSeq) RETURN count(c)'), 0);
    const names = await driver.executeQuery("SHOW INDEXES YIELD name WHERE name STARTS WITH 'heimdall_outbox' RETURN count(*) AS n");
    assert.equal(neo4j.integer.toNumber(names.records[0]!.get('n') as neo4j.Integer), 0);
    await clean();
  });
});
