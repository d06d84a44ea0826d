/**
 * The database router and the remediation executor against the real Neo4j of this test run:
 * plain values across the worker boundary, read-only plugins, EXPLAIN classification, policy
 * decisions, audit entries, and degraded start-up with wrong credentials. Three daemons: a
 * read-only plugin, writing plugins (with the audit log mirrored to the graph), wrong credentials.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Driver } from 'neo4j-driver';
import type { RunningDaemon } from '../../daemon/daemon.js';
import { verifyAuditLog } from '../../daemon/audit/audit-log.js';
import { pluginYaml, startTestDaemon, waitFor } from '../helpers/in-process-daemon.js';
import { fixturePlugin } from '../helpers/paths.js';
import { openTestDriver, testNeo4j, wipeDatabase } from '../helpers/neo4j.js';
import { answerConfirmation, bifrostMessages, waitForConfirmation } from '../helpers/public-api.js';

const op = { kind: 'operator' as const };
let driver: Driver;

before(async () => {
  driver = await openTestDriver();
  await wipeDatabase(driver);
});
after(async () => {
  await wipeDatabase(driver);
  await driver.close();
});

/** The database: and audit: sections (a fresh audit log, optionally mirrored to the graph) and the audit log's path. */
async function dbYaml(opts: { graph?: boolean } = {}): Promise<{ yaml: string; auditPath: string }> {
  const n = await testNeo4j();
  const auditPath = join(mkdtempSync(join(tmpdir(), 'heimdall-audit-')), 'audit.jsonl');
  const yaml = `database:\n  uri: ${n.uri}\n  user: ${n.user}\n  password: ${JSON.stringify(n.password)}\naudit:\n${opts.graph ? '  graph: true\n' : ''}  path: ${JSON.stringify(auditPath)}\n`;
  return { yaml, auditPath };
}
/** The entries of an audit log (none while it does not exist yet). */
const auditLines = (path: string): Array<Record<string, unknown>> =>
  existsSync(path) ? readFileSync(path, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>) : [];

async function probe(d: RunningDaemon, plugin: string, cypher: string, params: Record<string, unknown> = {}, mode?: string) {
  return d.api.invokeAction(`heimdall.${plugin}.query`, { cypher, params, ...(mode ? { mode } : {}) }, op);
}

describe('a read-only plugin', () => {
  let d: RunningDaemon;
  before(async () => {
    d = await startTestDaemon([pluginYaml(fixturePlugin('db-probe.mjs'))], (await dbYaml()).yaml);
  });
  after(async () => {
    await d?.stop();
  });

  it('values cross the worker boundary as plain JSON: integers, big integers, temporal, spatial, nodes, relationships, paths', async () => {
    assert.equal(d.api.status().database.connected, true);
    const r = await probe(
      d,
      'db-probe',
      `CREATE (a:Person {name: 'Ada', born: date('1815-12-10')})-[k:KNOWS {since: 1833}]->(b:Person {name: 'Charles'})
       WITH a, k, b
       MATCH p = (a)-[:KNOWS]->(b)
       RETURN 42 AS small, 9007199254740993 AS big, -9007199254740993 AS negBig, 1.5 AS float, date('2024-01-02') AS d,
              datetime('2024-01-02T03:04:05.123Z') AS dt, localtime('12:30') AS lt, duration('P1DT2H') AS dur,
              point({x: 1.5, y: 2.5}) AS p2, point({latitude: 10, longitude: 20}) AS geo, a, k, p`,
      {},
    );
    // db-probe is read-only: that CREATE must be refused … so run the data setup through the driver instead
    assert.equal(r.success, false);
    assert.equal(r.data!.code, 'HMD_ERR_READ_ONLY');
    await driver.executeQuery("CREATE (a:Person {name: 'Ada', born: date('1815-12-10')})-[:KNOWS {since: 1833}]->(b:Person {name: 'Charles'})");
    const ok = await probe(
      d,
      'db-probe',
      `MATCH p = (a:Person {name: 'Ada'})-[k:KNOWS]->(b)
       RETURN 42 AS small, 9007199254740993 AS big, -9007199254740993 AS negBig, 1.5 AS float, date('2024-01-02') AS d,
              datetime('2024-01-02T03:04:05.123Z') AS dt, localtime('12:30') AS lt, duration('P1DT2H') AS dur,
              point({x: 1.5, y: 2.5}) AS p2, a, k, p, a.born AS born, $n AS echoed`,
      { n: 7 },
    );
    assert.equal(ok.success, true, ok.message);
    const row = (ok.data!.rows as Array<Record<string, any>>)[0]!;
    assert.equal(row.small, 42);
    assert.equal(row.big, '9007199254740993', 'unsafe integers become decimal strings');
    assert.equal(row.negBig, '-9007199254740993');
    assert.equal(row.float, 1.5);
    assert.equal(row.d, '2024-01-02');
    assert.equal(row.dt, '2024-01-02T03:04:05.123000000Z');
    assert.equal(row.lt, '12:30:00');
    assert.equal(row.dur, 'P1DT2H');
    assert.deepEqual(row.p2, { srid: 7203, x: 1.5, y: 2.5 });
    assert.deepEqual(row.a.labels, ['Person']);
    assert.equal(row.a.properties.name, 'Ada');
    assert.equal(row.a.properties.born, '1815-12-10');
    assert.equal(typeof row.a.elementId, 'string');
    assert.equal(row.k.type, 'KNOWS');
    assert.equal(row.k.properties.since, 1833);
    assert.equal(row.k.startNodeElementId, row.a.elementId);
    assert.equal(row.p.length, 1);
    assert.equal(row.p.segments[0].relationship.type, 'KNOWS');
    assert.equal(row.echoed, 7);
    assert.equal(row.born, '1815-12-10');
  });

  it('a read-only plugin cannot write: mode write is refused at once, and a write in read mode is refused by the server', async () => {
    const w = await probe(d, 'db-probe', 'CREATE (:Sneaky)', {}, 'write');
    assert.equal(w.success, false);
    assert.equal(w.data!.code, 'HMD_ERR_READ_ONLY');
    assert.match(w.message, /read-only.*Grant write: true/);
    const r = await probe(d, 'db-probe', 'CREATE (:Sneaky)');
    assert.equal(r.data!.code, 'HMD_ERR_READ_ONLY');
    const { records } = await driver.executeQuery('MATCH (n:Sneaky) RETURN count(n) AS c');
    assert.equal(records[0]!.get('c').toNumber(), 0);
  });

  it('EXPLAIN classifies statements as read, read-write, write or schema and spots deletes', async () => {
    // classify() is the executor's own first step; the public routes show only the decisions
    // it leads to (the policy tests below), so this one is asked in-process.
    const ex = d.internals.executor!;
    const ctx = { invocationId: 't', action: 'test', proposedBy: 'operator' as const, trigger: op };
    assert.equal((await ex.classify('MATCH (n) RETURN count(n)', {}, ctx)).kind, 'read');
    assert.equal((await ex.classify('CREATE (:X {v: $v})', { v: 1 }, ctx)).kind, 'write');
    const rw = await ex.classify('MATCH (n:X) SET n.v = 2 RETURN n', {}, ctx);
    assert.equal(rw.kind, 'read-write');
    assert.equal(rw.deletes, false);
    const del = await ex.classify('MATCH (n:X) DETACH DELETE n', {}, ctx);
    assert.equal(del.deletes, true);
    assert.equal((await ex.classify('CREATE INDEX x_v IF NOT EXISTS FOR (n:X) ON (n.v)', {}, ctx)).kind, 'schema');
  });
});

describe('writing plugins, with the audit log mirrored to the graph', () => {
  let d: RunningDaemon;
  let auditPath: string;
  before(async () => {
    const db = await dbYaml({ graph: true });
    auditPath = db.auditPath;
    d = await startTestDaemon(
      [pluginYaml(fixturePlugin('db-probe.mjs'), 'write: true'), pluginYaml(fixturePlugin('db-probe-dry.mjs'), 'write: true\nremediation:\n  mode: dry-run')],
      db.yaml,
    );
  });
  after(async () => {
    await d?.stop();
  });

  it('policy: auto runs writes, asks before deletes (denied or approved by an operator), refuses schema; dry-run runs nothing; every decision is audited', async () => {
    const auditedBefore = auditLines(auditPath).length;
    assert.equal((await probe(d, 'db-probe', 'CREATE (:Fixed {v: $v})', { v: 1 })).success, true);
    // a delete needs approval: an operator denies it over the API
    const answer = async (approve: boolean) => {
      const c = await waitForConfirmation(d, 'a confirmation request');
      await answerConfirmation(d, c.id, approve, 'test');
    };
    const [denied] = await Promise.all([probe(d, 'db-probe', 'MATCH (n:Fixed) DETACH DELETE n'), answer(false)]);
    assert.equal(denied.success, false);
    assert.equal(denied.data!.code, 'HMD_ERR_POLICY_DENIED');
    assert.match(denied.message, /deletes data/);
    let c = await driver.executeQuery('MATCH (n:Fixed) RETURN count(n) AS c');
    assert.equal(c.records[0]!.get('c').toNumber(), 1, 'the denied delete did not run');
    const [approved] = await Promise.all([probe(d, 'db-probe', 'MATCH (n:Fixed) DETACH DELETE n'), answer(true)]);
    assert.equal(approved.success, true, approved.message);
    c = await driver.executeQuery('MATCH (n:Fixed) RETURN count(n) AS c');
    assert.equal(c.records[0]!.get('c').toNumber(), 0);
    const schema = await probe(d, 'db-probe', 'CREATE INDEX fixed_v IF NOT EXISTS FOR (n:Fixed) ON (n.v)');
    assert.equal(schema.success, false);
    assert.match(schema.message, /allowSchema/);
    const dry = await probe(d, 'db-probe-dry', 'CREATE (:DryRun)');
    assert.equal(dry.success, false);
    assert.match(dry.message, /dry-run/);
    c = await driver.executeQuery('MATCH (n:DryRun) RETURN count(n) AS c');
    assert.equal(c.records[0]!.get('c').toNumber(), 0);
    assert.ok((await bifrostMessages(d)).some((m) => m.title === 'Write proposal (dry run)'));
    const types = auditLines(auditPath).slice(auditedBefore).map((e) => e['type']);
    assert.deepEqual(types, ['executor.executed', 'executor.denied', 'executor.approved', 'executor.executed', 'executor.denied', 'executor.dry_run']);
    assert.equal(verifyAuditLog(auditPath).ok, true);
  });

  it('with audit.graph the audit entries are mirrored as HeimdallAudit nodes carrying the same hashes', async () => {
    assert.equal((await probe(d, 'db-probe', 'CREATE (:Mirrored)')).success, true);
    const line = auditLines(auditPath).find((e) => e['type'] === 'executor.executed' && String(e['statement']).includes('Mirrored'))!;
    assert.ok(line, 'the write is in the audit log');
    await waitFor('the mirror node', async () => {
      const r = await driver.executeQuery('MATCH (a:HeimdallAudit {hash: $h}) RETURN a.seq AS seq, a.type AS type', { h: line['hash'] });
      return r.records.length === 1 && r.records[0]!.get('type') === 'executor.executed';
    });
  });
});

it('wrong credentials give one clear log line and a degraded daemon that keeps running', async () => {
  const n = await testNeo4j();
  const d = await startTestDaemon([pluginYaml(fixturePlugin('db-probe.mjs'))], `database:\n  uri: ${n.uri}\n  user: neo4j\n  password: definitely-wrong\n`);
  try {
    const s = d.api.status();
    assert.equal(s.database.connected, false);
    assert.match(s.database.reason!, /credentials were refused/);
    assert.equal(d.api.readiness().ready, false);
    assert.ok(d.api.readiness().reasons.some((r) => r.includes('not reachable')));
    const r = await probe(d, 'db-probe', 'RETURN 1');
    assert.equal(r.data!.code, 'HMD_ERR_DATABASE_UNAVAILABLE');
    // the daemon still takes events
    assert.equal(d.api.ingest([{ type: 'node.created' }], 'http').accepted, 1);
  } finally {
    await d.stop();
  }
});
