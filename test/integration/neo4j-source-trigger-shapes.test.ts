/**
 * The outbox trigger's entry for each shape of transaction (outbox-trigger.ts): for each transaction
 * the test knows the entry's `changes` in full and compares it. A transaction that only creates, and
 * one that creates and also changes, labels, unlabels, strips or deletes something existing (the
 * statement's shortcut for pure inserts must not drop those changes), and forged Heimdall nodes
 * created among ordinary ones are refused. Under both orderings.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Driver } from 'neo4j-driver';
import type { OutboxStore } from '../../daemon/sources/neo4j-apoc/index.js';
import { openTestDriver } from '../helpers/neo4j.js';
import { openTestOutbox, type TestOutbox } from '../helpers/outbox.js';

let driver: Driver;
let outbox: TestOutbox;
let store: OutboxStore;

type Changes = Record<string, unknown>;
const EMPTY: Changes = { nc: [], nd: [], nu: {}, npa: [], npr: [], nla: [], nlr: [], rc: [], rd: [], ru: {}, rpa: [], rpr: [] };

const write = (cypher: string) => driver.executeQuery(cypher, {}, { database: 'neo4j' });

/** Removes the outbox entries and the test's nodes without the trigger seeing it. */
async function reset(): Promise<void> {
  await driver.executeQuery('MATCH (n) WHERE n:HeimdallOutbox OR n:PathTest DETACH DELETE n', {}, { database: 'neo4j', transactionConfig: { metadata: await store.internalMetadata() } });
}

/** Runs `cypher` and answers the `changes` of the one entry it wrote. */
async function changesOf(cypher: string): Promise<Changes> {
  const before = (await driver.executeQuery('MATCH (o:HeimdallOutbox) RETURN count(o) AS n')).records[0]!.get('n');
  await write(cypher);
  const rows = (await driver.executeQuery('MATCH (o:HeimdallOutbox) RETURN o.changes AS c ORDER BY o.seq DESC')).records;
  assert.equal(rows.length, Number(before) + 1, `one entry for ${cypher}`);
  return JSON.parse(rows[0]!.get('c') as string) as Changes;
}

/** Element ids of the (:PathTest) nodes by their k. */
async function ids(): Promise<Record<string, string>> {
  const r = await driver.executeQuery('MATCH (n:PathTest) RETURN n.k AS k, elementId(n) AS id');
  return Object.fromEntries(r.records.map((x) => [x.get('k') as string, x.get('id') as string]));
}

const byId = (xs: unknown) => [...(xs as Array<{ i: string }>)].sort((a, b) => a.i.localeCompare(b.i));

before(async () => {
  driver = await openTestDriver();
  outbox = await openTestOutbox();
  store = outbox.store;
});

after(async () => {
  await reset();
  await store.uninstall({ purge: true });
  await outbox.close();
  await driver.close();
});

for (const ordering of ['relaxed', 'strict'] as const) {
  describe(`the ${ordering} outbox trigger's entry for each shape of transaction`, () => {
    before(async () => {
      await store.install({ ordering });
      await reset();
    });

    it('writes what a transaction that only creates created: nodes with labels and properties, relationships with theirs', async () => {
      const c = await changesOf("CREATE (a:PathTest:Extra {k: 'a', x: 1, s: 'v'})-[:PATH_R {w: 2}]->(b:PathTest {k: 'b'})");
      const id = await ids();
      const rid = (await driver.executeQuery('MATCH ()-[r:PATH_R]->() RETURN elementId(r) AS id')).records[0]!.get('id') as string;
      // Neo4j orders a node's labels by their token ids, which other test files' labels shift: compare them sorted.
      const sortedLabels = (xs: unknown) => (xs as Array<{ l: string[] }>).map((x) => ({ ...x, l: [...x.l].sort() }));
      assert.deepStrictEqual({ ...c, nc: sortedLabels(byId(c.nc)) }, {
        ...EMPTY,
        nc: byId([{ i: id.a, l: ['Extra', 'PathTest'], p: { k: 'a', x: 1, s: 'v' } }, { i: id.b, l: ['PathTest'], p: { k: 'b' } }]),
        rc: [{ i: rid, t: 'PATH_R', s: id.a, e: id.b, p: { w: 2 } }],
      });
    });

    it('writes what a transaction that creates also changed, labelled, unlabelled or stripped on an existing node', async () => {
      const id = await ids();
      const set = await changesOf("MATCH (a:PathTest {k: 'a'}) SET a.x = 5 CREATE (:PathTest {k: 'c'})");
      const c1 = (await ids()).c!;
      assert.deepStrictEqual(set.nc, [{ i: c1, l: ['PathTest'], p: { k: 'c' } }]);
      assert.deepStrictEqual(set.npa, [[id.a, 'x', 1, 5]]);
      const nu = set.nu as Record<string, { l: string[] }>;
      assert.deepStrictEqual({ ...nu, [id.a!]: { ...nu[id.a!]!, l: [...nu[id.a!]!.l].sort() } }, { [id.a!]: { l: ['Extra', 'PathTest'], p: { k: 'a', x: 5, s: 'v' } } });

      const label = await changesOf("MATCH (a:PathTest {k: 'a'}) SET a:Marked CREATE (:PathTest {k: 'd'})");
      assert.deepStrictEqual(label.nla, [[id.a, 'Marked']]);
      const unlabel = await changesOf("MATCH (a:PathTest {k: 'a'}) REMOVE a:Marked CREATE (:PathTest {k: 'e'})");
      assert.deepStrictEqual(unlabel.nlr, [[id.a, 'Marked']]);
      const strip = await changesOf("MATCH (a:PathTest {k: 'a'}) REMOVE a.s CREATE (:PathTest {k: 'f'})");
      assert.deepStrictEqual(strip.npr, [[id.a, 's', 'v']]);
      const rel = await changesOf("MATCH ()-[r:PATH_R]->() SET r.w = 3 CREATE (:PathTest {k: 'g'})");
      assert.equal((rel.rpa as unknown[]).length, 1);
    });

    it('writes what a transaction that creates also deleted, with the relationship that went with it', async () => {
      const id = await ids();
      const c = await changesOf("MATCH (b:PathTest {k: 'b'}) DETACH DELETE b CREATE (:PathTest {k: 'h'})");
      assert.deepStrictEqual(c.nd, [id.b]);
      assert.equal((c.rd as unknown[]).length, 1, 'the relationship went with it');
      assert.equal((c.nc as unknown[]).length, 1);
    });

    it('refuses a forged entry, dead letter or counter created among ordinary nodes, naming every label, and writes nothing', async () => {
      for (const [cypher, labels] of [
        ["CREATE (:HeimdallOutbox {seq: 1, changes: '{}'})", /HeimdallOutbox\b/],
        ['CREATE (:PathTest)-[:PATH_R]->(:HeimdallOutboxFailed {seq: 2})', /HeimdallOutboxFailed/],
        ["CREATE (:HeimdallOutbox:HeimdallOutboxSeq {name: 'x'})", /\(:HeimdallOutbox, :HeimdallOutboxSeq\)/],
      ] as const) {
        const before = (await driver.executeQuery('MATCH (n) RETURN count(n) AS n')).records[0]!.get('n');
        await assert.rejects(write(cypher), (err: Error) => labels.test(err.message), cypher);
        assert.equal(Number((await driver.executeQuery('MATCH (n) RETURN count(n) AS n')).records[0]!.get('n')), Number(before), `nothing written: ${cypher}`);
      }
    });
  });
}
