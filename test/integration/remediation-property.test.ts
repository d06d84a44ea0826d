/**
 * A property of the write policy, tested with random statements: with nobody approving, no
 * statement the remediation executor is given deletes anything or removes a label. Statements come
 * from a small grammar (MATCH, OPTIONAL MATCH, WHERE, UNWIND, CREATE, MERGE, SET, REMOVE, DELETE,
 * DETACH DELETE, FOREACH, CALL { } subqueries with and without IN TRANSACTIONS, procedure calls that
 * delete inside the transaction or commit on their own, functions), seeded and reproducible
 * (HEIMDALL_POLICY_SEED, HEIMDALL_POLICY_RUNS). Each runs through the executor on a fresh scratch
 * graph whose nodes and relationships carry ids; the test fails when a node, relationship or label
 * that existed before is gone afterwards, or when an executed statement's counters show a delete.
 * It runs with the APOC commit guard, with the extension's (PolicyGuard.java) and with counters alone.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import neo4j, { type Driver } from 'neo4j-driver';
import { pino } from 'pino';
import { BifrostBus } from '../../daemon/bifrost/bus.js';
import { Database } from '../../daemon/db/database.js';
import { RemediationExecutor } from '../../daemon/db/remediation-executor.js';
import { parseConfig } from '../../config/loader.js';
import { openTestDriver, testNeo4j, wipeDatabase } from '../helpers/neo4j.js';
import { removeTestOutbox } from '../helpers/outbox.js';

const SEED = Number(process.env.HEIMDALL_POLICY_SEED ?? 20261201);
const RUNS = Number(process.env.HEIMDALL_POLICY_RUNS ?? 100);

function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The grammar: a random statement over (n:S)-[r:L]->(m:S) with ids sid/rid. */
function statement(r: () => number): string {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const withRel = r() < 0.4;
  const parts: string[] = [];
  if (r() < 0.2) parts.push(pick(['UNWIND [1, 2] AS k', 'UNWIND range(1, 3) AS k']));
  parts.push(withRel ? pick(['MATCH (n:S)-[r:L]->(m:S)', 'OPTIONAL MATCH (n:S)-[r:L]->(m:S)']) : pick(['MATCH (n:S)', 'MATCH (n:S {v: 1})', 'MATCH (n:A)', 'OPTIONAL MATCH (n:B)']));
  if (r() < 0.4) parts.push(pick(['WHERE n.v > 0', 'WHERE n.sid IN [1, 2, 3]', 'WHERE n.sid = 4', 'WHERE apoc.coll.sum([n.v, 1]) > 1', 'WHERE size(labels(n)) > 1']));
  const nodeOps = [
    'SET n.w = 1', 'SET n:C', 'REMOVE n:A', 'REMOVE n.v', 'SET n.v = null', 'DETACH DELETE n', 'DELETE n',
    'CREATE (n)-[:L {rid: -1}]->(:S {sid: -1})', 'MERGE (x:S {sid: 99}) SET x.merged = true',
    'FOREACH (x IN [n] | DETACH DELETE x)', 'FOREACH (x IN [n] | SET x.f = 1)', 'FOREACH (x IN [n] | REMOVE x:B)',
    'CALL (n) { DETACH DELETE n }', 'CALL (n) { SET n.z = 1 }', 'CALL { MATCH (z:S {sid: 3}) DETACH DELETE z }', 'CALL { WITH n REMOVE n:A }',
    'CALL (n) { DETACH DELETE n } IN TRANSACTIONS OF 2 ROWS',
    'CALL apoc.create.removeLabels(n, ["A"]) YIELD node',
    'CALL apoc.refactor.mergeNodes([n]) YIELD node',
    'WITH collect(n) AS ns CALL apoc.nodes.delete(ns, 2) YIELD value',
    "CALL apoc.periodic.iterate('MATCH (z:S) RETURN z', 'DETACH DELETE z', {batchSize: 5}) YIELD batches",
    "CALL apoc.cypher.doIt('MATCH (z:S) DETACH DELETE z RETURN count(*) AS c', {}) YIELD value",
    "CALL apoc.do.when(true, 'MATCH (z:S) DETACH DELETE z RETURN 1 AS x', '', {}) YIELD value",
    "WITH n, apoc.cypher.runFirstColumnSingle('MATCH (z:S) RETURN count(z)', {}) AS c SET n.c = c",
    'CALL db.labels() YIELD label WITH n, label SET n.seenLabel = label',
  ];
  const relOps = ['DELETE r', 'FOREACH (x IN [r] | DELETE x)', 'SET r.w = 2', 'DELETE r, n', 'CALL (r) { DELETE r }', 'CALL apoc.refactor.invert(r) YIELD output'];
  const ops = withRel ? [...nodeOps, ...relOps] : nodeOps;
  const count = 1 + Math.floor(r() * 2);
  for (let i = 0; i < count; i++) parts.push(pick(ops));
  if (r() < 0.3) parts.push(pick(['RETURN count(*) AS c', 'RETURN 1 AS one LIMIT 1']));
  return parts.join(' ');
}

const SCRATCH = `UNWIND range(1, 12) AS i
  CREATE (n:S {sid: i, v: i % 3}) WITH n, i
  CALL apoc.create.addLabels(n, CASE WHEN i % 2 = 0 THEN ['A'] ELSE ['B'] END) YIELD node
  WITH collect(node) AS ns
  UNWIND range(0, 11) AS j
  WITH ns, j, ns[j] AS a, ns[(j + 1) % 12] AS b
  CREATE (a)-[:L {rid: j}]->(b)`;

interface State {
  nodes: Map<number, string[]>;
  rels: Set<number>;
}

async function state(driver: Driver): Promise<State> {
  const n = await driver.executeQuery('MATCH (n:S) WHERE n.sid >= 0 RETURN n.sid AS sid, labels(n) AS labels', {}, { database: 'neo4j' });
  const r = await driver.executeQuery('MATCH ()-[r:L]->() WHERE r.rid >= 0 RETURN r.rid AS rid', {}, { database: 'neo4j' });
  const int = (v: unknown) => (neo4j.isInt(v) ? (v as neo4j.Integer).toNumber() : Number(v));
  return {
    nodes: new Map(n.records.map((x) => [int(x.get('sid')), [...(x.get('labels') as string[])].sort()])),
    rels: new Set(r.records.map((x) => int(x.get('rid')))),
  };
}

/** What was lost between two states: nodes, relationships or labels that existed before. */
function lost(a: State, b: State): string[] {
  const out: string[] = [];
  for (const [sid, labels] of a.nodes) {
    const now = b.nodes.get(sid);
    if (!now) out.push(`node sid ${sid}`);
    else for (const l of labels) if (!now.includes(l)) out.push(`label ${l} of node sid ${sid}`);
  }
  for (const rid of a.rels) if (!b.rels.has(rid)) out.push(`relationship rid ${rid}`);
  return out;
}

let driver: Driver;
before(async () => {
  driver = await openTestDriver();
  await removeTestOutbox();
  await wipeDatabase(driver);
});
after(async () => {
  await wipeDatabase(driver);
  await driver.close();
});

const variants = [
  { guard: true, engine: 'apoc', seed: 0, label: 'with the APOC commit guard' },
  { guard: true, engine: 'extension', seed: 2, label: "with the extension's commit guard" },
  { guard: false, engine: 'auto', seed: 1, label: 'counters alone' },
] as const;
for (const { guard, engine, seed: offset, label } of variants) {
  describe(`random statements with nobody approving (${label})`, () => {
    let db: Database;
    let executor: RemediationExecutor;
    let asked = 0;
    before(async () => {
      const n = await testNeo4j();
      const config = parseConfig(`database:\n  uri: ${n.uri}\n  user: ${n.user}\n  password: ${JSON.stringify(n.password)}\nremediation:\n  guardTrigger: ${guard}\n  guardEngine: ${engine}\n`, { file: '/tmp/heimdall-property.yaml', env: {} });
      const log = pino({ level: process.env.HEIMDALL_TEST_LOG ?? 'silent' });
      db = new Database(config.database!, log);
      await db.connect();
      executor = new RemediationExecutor({
        db,
        config,
        audit: undefined,
        bus: new BifrostBus(100, log),
        log,
        confirmations: () => ({ request: async () => { asked++; return false; } }),
        pluginPolicy: () => undefined,
      });
      assert.equal(await executor.guard.ensure('neo4j', 30_000), guard);
      assert.equal(executor.guard.engine('neo4j'), guard ? engine : undefined, 'the engine asked for judges');
    });
    after(() => db.close());

    it(`no statement deletes or unlabels without approval (seed ${SEED + offset}, ${RUNS} statements)`, { timeout: 600_000 }, async () => {
      const r = rng(SEED + offset);
      const tally = { executed: 0, refused: 0, askedAndDenied: 0, failed: 0 };
      const ctx = { invocationId: 'property', action: 'heimdall.remediate.cypher', proposedBy: 'model' as const, trigger: { kind: 'prompt' as const } };
      for (let i = 0; i < RUNS; i++) {
        const s = statement(r);
        await wipeDatabase(driver);
        await driver.executeQuery(SCRATCH, {}, { database: 'neo4j' });
        const before = await state(driver);
        const askedBefore = asked;
        let outcome: Awaited<ReturnType<RemediationExecutor['execute']>> | undefined;
        try {
          outcome = await executor.execute(s, {}, ctx);
        } catch {
          tally.failed++;
        }
        const gone = lost(before, await state(driver));
        assert.deepEqual(gone, [], `statement #${i} (seed ${SEED + offset}) removed ${gone.join(', ')} without approval: ${s}\noutcome: ${JSON.stringify(outcome)}`);
        if (outcome?.status === 'executed') {
          tally.executed++;
          for (const k of ['nodesDeleted', 'relationshipsDeleted', 'labelsRemoved']) {
            assert.equal(outcome.counters?.[k] ?? 0, 0, `statement #${i} executed with ${k} ${outcome.counters?.[k]} and no approval: ${s}`);
          }
        } else if (outcome) {
          if (asked > askedBefore) tally.askedAndDenied++;
          else tally.refused++;
        }
      }
      // The grammar must reach every branch, or the property says little.
      for (const [k, v] of Object.entries(tally)) assert.ok(v > 0, `no statement ended ${k}: ${JSON.stringify(tally)}`);
      console.log(`# ${label}: ${JSON.stringify(tally)}`);
    });
  });
}
