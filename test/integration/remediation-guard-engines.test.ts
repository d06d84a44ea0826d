/**
 * The commit guard's two engines judge alike (issue 12, item 2): Heimdall's Neo4j extension
 * (PolicyGuard.java) in place of the APOC trigger heimdall_policy. Each scenario seeds the same graph
 * and runs the same remediation write through runWrite once under each engine, in the same database,
 * with both guards loaded: as a probe (the sample an approval shows) and with limits (what commits).
 * The outcomes and the reports must be equal once the element ids, which differ between the two seeds,
 * are mapped to the seeded entities' keys. Then what only the extension is asked: it leaves unmarked
 * policies to the APOC trigger and the APOC trigger leaves marked ones to it (each transaction is
 * judged once), it judges before the listener captures (the outbox entry it writes is not counted),
 * and a probe whose guard is gone never commits.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Driver } from 'neo4j-driver';
import { pino } from 'pino';
import { Database } from '../../daemon/db/database.js';
import { CommitGuard, type GuardEngine } from '../../daemon/db/commit-guard.js';
import { runWrite, type WriteAttempt } from '../../daemon/db/write-transaction.js';
import type { GuardLimits, GuardReport } from '../../daemon/db/policy-trigger.js';
import { INTERNAL_KEY_FIELD } from '../../daemon/db/own-state.js';
import { openTestDriver, testNeo4j, wipeDatabase } from '../helpers/neo4j.js';
import { removeTestOutbox } from '../helpers/outbox.js';

const LONG = 'x'.repeat(250);
const AWKWARD = 'quote " back \\ nl \n tab \t ctl \u0001 é 😀';
/** One node of every property type the report writes as JSON, and relationships with properties. */
const SEED = `
CREATE (a:T:Doomed {k: 'a', s: $s, long: $long, i: 42, neg: -7, f: 1.5, z: -0.0, big: 12345678.0, b: true,
        l: ['x', 'y'], li: [1, 2], p: point({x: 1.5, y: 2.5}), g: point({latitude: 55.6, longitude: 12.5}), d: date('2026-12-03'),
        dt: datetime('2026-12-03T10:15:30.123Z'), dur: duration('P1DT2H')})
CREATE (b:T:Doomed {k: 'b', n: 1})
CREATE (c:T {k: 'c'})
CREATE (h:HeimdallScratch {k: 'h', v: 1})
CREATE (a)-[:R {k: 'ab', w: 0.25, tags: ['p', 'q']}]->(b)
CREATE (b)-[:R {k: 'bc'}]->(c)
CREATE (c)-[:S {k: 'cc'}]->(c)
WITH 1 AS one UNWIND range(1, 14) AS i CREATE (:Many {k: 'm' + i, i: i})`;
const SEED_NAMES = `
CALL { MATCH (n) RETURN elementId(n) AS id, n.k AS k UNION ALL MATCH ()-[r]->() RETURN elementId(r) AS id, r.k AS k }
RETURN id, k`;

interface Scenario {
  name: string;
  statement: string;
  limits?: GuardLimits;
  /** Whether the write commits under these limits (both engines must agree, and with this). */
  commits?: boolean;
}
const scenarios: Scenario[] = [
  { name: 'detach delete of nodes with every property type', statement: 'MATCH (n:Doomed) DETACH DELETE n', limits: { maxNodesDeleted: 1, maxRelationshipsDeleted: 5, maxLabelsRemoved: 5 }, commits: false },
  { name: 'the same under limits that allow it', statement: 'MATCH (n:Doomed) DETACH DELETE n', limits: { maxNodesDeleted: 2, maxRelationshipsDeleted: 2, maxLabelsRemoved: 0 }, commits: true },
  { name: 'more deletes than the sample (14, sample 10)', statement: 'MATCH (n:Many) DELETE n', limits: { maxNodesDeleted: 13 }, commits: false },
  { name: 'a relationship delete over its limit', statement: "MATCH ()-[r:R {k: 'bc'}]->() DELETE r", limits: { maxNodesDeleted: 0, maxRelationshipsDeleted: 0, maxLabelsRemoved: 0 }, commits: false },
  { name: 'a label removal over its limit', statement: 'MATCH (n:Doomed) REMOVE n:Doomed', limits: { maxNodesDeleted: 0, maxRelationshipsDeleted: 0, maxLabelsRemoved: 1 }, commits: false },
  { name: 'a label removal within it', statement: "MATCH (n:Doomed {k: 'a'}) REMOVE n:Doomed", limits: { maxLabelsRemoved: 1 }, commits: true },
  { name: 'a SET on a node with a Heimdall label', statement: 'MATCH (h:HeimdallScratch) SET h.v = 2', limits: {}, commits: false },
  { name: 'a REMOVE of its property', statement: 'MATCH (h:HeimdallScratch) REMOVE h.v', limits: {}, commits: false },
  { name: 'a Heimdall label given to a node', statement: "MATCH (c {k: 'c'}) SET c:HeimdallOwned", limits: {}, commits: false },
  { name: 'a delete out of sight of the counters (apoc.do.when)', statement: "CALL apoc.do.when(true, 'MATCH (n:Many) WHERE n.i < 4 DELETE n', '') YIELD value RETURN 0", limits: { maxNodesDeleted: 0 }, commits: false },
  { name: 'a property change only', statement: "MATCH (n {k: 'c'}) SET n.x = 1 REMOVE n.k", limits: { maxNodesDeleted: 0, maxRelationshipsDeleted: 0, maxLabelsRemoved: 0 }, commits: true },
  { name: 'nothing deleted', statement: 'CREATE (:Fresh {k: "f"})', limits: { maxNodesDeleted: 0 }, commits: true },
];

let driver: Driver;
let db: Database;
const guards = {} as Record<GuardEngine, CommitGuard>;
const log = pino({ level: process.env.HEIMDALL_TEST_LOG ?? 'silent' });

before(async () => {
  driver = await openTestDriver();
  await removeTestOutbox();
  await wipeDatabase(driver);
  const n = await testNeo4j();
  db = new Database({ uri: n.uri, user: n.user, password: n.password, database: 'neo4j', queryTimeoutMs: 30_000, connectTimeoutMs: 5000 }, log);
  await db.connect();
  // The extension's first: finding it drops the APOC trigger, which the second then installs again.
  guards.extension = new CommitGuard(db, log, true, 'extension');
  assert.equal(await guards.extension.ensure('neo4j', 30_000), true, "the extension's commit guard is found");
  guards.apoc = new CommitGuard(db, log, true, 'apoc');
  assert.equal(await guards.apoc.ensure('neo4j', 60_000), true, 'the APOC commit guard is loaded');
  assert.equal(guards.extension.engine('neo4j'), 'extension');
  assert.equal(guards.apoc.engine('neo4j'), 'apoc');
});
after(async () => {
  await wipeDatabase(driver);
  await db?.close();
  await driver.close();
});

/** The seeded entities' keys by element id, read before the write. */
async function seed(): Promise<Map<string, string>> {
  await wipeDatabase(driver);
  await driver.executeQuery(SEED, { long: LONG, s: AWKWARD }, { database: 'neo4j' });
  const { records } = await driver.executeQuery(SEED_NAMES, {}, { database: 'neo4j' });
  return new Map(records.map((r) => [r.get('id') as string, r.get('k') as string]));
}

/** A report with its ids replaced by the seeded keys and its lists in one order (the engines group differently). */
function normal(g: GuardReport | undefined, keys: Map<string, string>): unknown {
  if (!g) return g;
  const k = (id: string) => keys.get(id) ?? `unknown ${id}`;
  return {
    ...g,
    heimdallLabels: [...new Set(g.heimdallLabels)].sort(),
    nodes: g.nodes.map((n) => ({ ...n, id: k(n.id), labels: [...n.labels].sort() })),
    relationships: g.relationships.map((r) => ({ ...r, id: k(r.id), start: k(r.start), end: k(r.end) })),
  };
}

const request = (s: Scenario, engine: GuardEngine) => ({ statement: s.statement, params: {}, database: 'neo4j', maxRows: 10, metadata: { purpose: 'guard-engines-test' }, guardEngine: engine }) as const;

async function nodeCount(): Promise<number> {
  const { records } = await driver.executeQuery('MATCH (n) RETURN count(n) AS n', {}, { database: 'neo4j' });
  return (records[0]!.get('n') as { toNumber(): number }).toNumber();
}

/** Both engines' probes of one seed (a probe commits nothing, so the ids, and the order the server reports them in, are the same). */
async function probes(s: Scenario): Promise<{ apoc: WriteAttempt; extension: WriteAttempt; keys: Map<string, string> }> {
  const keys = await seed();
  const before = await nodeCount();
  const apoc = await runWrite(db, { ...request(s, 'apoc'), probe: { sample: 10 } });
  const extension = await runWrite(db, { ...request(s, 'extension'), probe: { sample: 10 } });
  assert.equal(await nodeCount(), before, 'a probe commits nothing under either engine');
  return { apoc, extension, keys };
}

/** One engine's write under the scenario's limits, on a fresh seed; the graph's size after it. */
async function limited(engine: GuardEngine, s: Scenario): Promise<{ a: WriteAttempt; keys: Map<string, string>; after: number }> {
  const keys = await seed();
  const a = await runWrite(db, { ...request(s, engine), limits: s.limits ?? {}, commitIf: () => true });
  return { a, keys, after: await nodeCount() };
}

/** A report with its ids replaced by the seeded keys and its entities in key order (ids, and so the server's order, differ between seeds). */
function sorted(g: GuardReport | undefined, keys: Map<string, string>): unknown {
  const n = normal(g, keys) as GuardReport | undefined;
  if (!n) return n;
  const byKey = <T extends { id: string }>(xs: T[], total: number): unknown =>
    // Which ten of more are sampled follows the server's order of the ids, which differs between seeds: then only how many.
    total > 10 ? { sampled: xs.length, allSeeded: xs.every((x) => !x.id.startsWith('unknown')) } : [...xs].sort((x, y) => x.id.localeCompare(y.id));
  return { ...n, nodes: byKey(n.nodes, n.nodesDeleted), relationships: byKey(n.relationships, n.relationshipsDeleted) };
}

describe('the extension and the APOC trigger judge alike', () => {
  for (const s of scenarios) {
    it(`${s.name}: the probe's sample and the limits' verdict are the same`, async () => {
      const p = await probes(s);
      for (const engine of ['apoc', 'extension'] as const) {
        assert.equal(p[engine].outcome, 'probed', `${engine}: the probe ends with the guard's report (${JSON.stringify(p[engine])})`);
        assert.equal(p[engine].guardVerified, true, `${engine}: the guard was verified inside the probe`);
      }
      assert.deepEqual(normal(p.extension.guard, p.keys), normal(p.apoc.guard, p.keys), 'the two reports are equal, entity for entity in the same order');
      const l = { apoc: await limited('apoc', s), extension: await limited('extension', s) };
      for (const engine of ['apoc', 'extension'] as const) {
        assert.equal(l[engine].a.outcome, s.commits ? 'committed' : 'guard-refused', `${engine}: the verdict under ${JSON.stringify(s.limits)}`);
      }
      assert.deepEqual(sorted(l.extension.a.guard, l.extension.keys), sorted(l.apoc.a.guard, l.apoc.keys));
      assert.equal(l.extension.after, l.apoc.after, 'both leave the same graph');
    });
  }

  it('writes the values as the APOC trigger does, cut at 200 characters', async () => {
    const a = (await probes(scenarios[0]!)).extension;
    const node = a.guard!.nodes.find((n) => n.properties['k'] === 'a')!;
    assert.equal(node.properties['i'], 42);
    assert.equal(node.properties['z'], -0);
    assert.deepEqual(node.properties['p'], { crs: 'cartesian', x: 1.5, y: 2.5, z: null });
    assert.equal(node.properties['long'], `"${'x'.repeat(199)}…`, 'a value longer than 200 characters is cut and marked');
    assert.deepEqual([...node.labels].sort(), ['Doomed', 'T']);
    assert.equal(a.guard!.nodesDeleted, 2);
    assert.equal(a.guard!.relationshipsDeleted, 2);
  });
});

describe("only the engine the policy names judges, and the extension's guard judges before capture", () => {
  const failure = async (policy: Record<string, unknown>): Promise<string> => {
    await seed();
    const session = driver.session({ database: 'neo4j' });
    try {
      await session.executeWrite((tx) => tx.run('MATCH (n:Doomed) DETACH DELETE n'), { metadata: { heimdallPolicy: policy } });
      return 'committed';
    } catch (err) {
      return (err as Error).message;
    } finally {
      await session.close();
    }
  };

  it('a marked policy fails with the extension\'s message and an unmarked one with the APOC trigger\'s', async () => {
    const marked = await failure({ probe: true, sample: 0, engine: 'extension' });
    assert.match(marked, /HEIMDALL_POLICY<</);
    assert.doesNotMatch(marked, /heimdall_policy/, 'the APOC trigger left the marked transaction alone');
    const unmarked = await failure({ probe: true, sample: 0 });
    assert.match(unmarked, /heimdall_policy.*HEIMDALL_POLICY<</s, 'the APOC trigger judged the unmarked one');
    assert.equal(await failure({ maxNodesDeleted: 5, engine: 'other' }), 'committed', 'a policy for an engine that is not there is judged by neither');
  });

  it('a write under limits commits beside the capture listener, which captures it, and its outbox entry is not counted', async () => {
    const key = 'guard-engines-test-key-0123456789';
    await driver.executeQuery("CALL heimdall.capture.install('relaxed', $key)", { key }, { database: 'neo4j' });
    try {
      const keys = await seed();
      const a = await runWrite(db, { statement: "MATCH (n {k: 'b'}) DETACH DELETE n", params: {}, database: 'neo4j', maxRows: 0, metadata: { purpose: 'guard-engines-test' }, guardEngine: 'extension', limits: { maxNodesDeleted: 1, maxRelationshipsDeleted: 2, maxLabelsRemoved: 0 }, commitIf: () => true });
      assert.equal(a.outcome, 'committed', JSON.stringify(a));
      const { records } = await driver.executeQuery("MATCH (o:HeimdallOutbox) WHERE o.txMeta CONTAINS 'guard-engines-test' RETURN o.changes AS c", {}, { database: 'neo4j' });
      const deleted = records.flatMap((r) => (JSON.parse(r.get('c') as string) as { nd: string[] }).nd).map((id) => keys.get(id));
      assert.deepEqual(deleted, ['b'], 'the listener captured the delete');
    } finally {
      await driver.executeQuery('MATCH (o:HeimdallOutbox) DELETE o', {}, { database: 'neo4j', transactionConfig: { metadata: { [INTERNAL_KEY_FIELD]: key } } });
      await driver.executeQuery('CALL heimdall.capture.uninstall()', {}, { database: 'neo4j' });
    }
  });

  it('a probe naming an engine whose guard is not there rolls back and says so', async () => {
    await seed();
    const a = await runWrite(db, { statement: 'MATCH (n:Doomed) DETACH DELETE n', params: {}, database: 'neo4j', maxRows: 0, metadata: { purpose: 'guard-engines-test' }, guardEngine: 'apoc', probe: { sample: 1 } });
    assert.equal(a.outcome, 'probed', 'the APOC guard is there');
    await driver.executeQuery("CALL apoc.trigger.drop('neo4j', 'heimdall_policy')", {}, { database: 'system' });
    const { records } = await driver.executeQuery('MATCH (n:Doomed) RETURN count(n) AS n', {}, { database: 'neo4j' });
    const before = (records[0]!.get('n') as { toNumber(): number }).toNumber();
    let gone: WriteAttempt | undefined;
    for (let i = 0; i < 100 && gone?.outcome !== 'rolled-back'; i++) {
      gone = await runWrite(db, { statement: 'MATCH (n:Doomed) DETACH DELETE n', params: {}, database: 'neo4j', maxRows: 0, metadata: { purpose: 'guard-engines-test' }, guardEngine: 'apoc', probe: { sample: 1 } });
      assert.notEqual(gone.outcome, 'committed', 'a probe never commits');
      if (gone.outcome !== 'rolled-back') await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(gone?.outcome, 'rolled-back');
    assert.equal(gone?.guardVerified, false);
    const left = await driver.executeQuery('MATCH (n:Doomed) RETURN count(n) AS n', {}, { database: 'neo4j' });
    assert.equal((left.records[0]!.get('n') as { toNumber(): number }).toNumber(), before, 'nothing was deleted');
  });
});
