/**
 * The approval flow of the remediation executor against the real Neo4j of this run, with the
 * scripted model and operators answering through POST /v1/confirmations/{id}: a probe asks with
 * the counters and a sample of what would go, no write transaction is open while the operator
 * decides, the approved statement runs again and commits, and it is rolled back when the graph grew
 * meanwhile so that it would delete more than was approved. The approval says who proposed the
 * statement. The commit guard catches a delete its counters do not show (a procedure an operator
 * allowed), and without the guard the approval comes with the counters alone.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import neo4j, { type Driver } from 'neo4j-driver';
import type { RunningDaemon } from '../../daemon/daemon.js';
import type { ActionResult } from '../../sdk/index.js';
import { pluginYaml, startTestDaemon } from '../helpers/in-process-daemon.js';
import { openTestDriver, testNeo4j, wipeDatabase } from '../helpers/neo4j.js';
import { fixturePlugin } from '../helpers/paths.js';
import { llmYaml, startTestLlm, type TestLlm } from '../llm/server.js';

let driver: Driver;
let llm: TestLlm;
const num = (v: unknown) => (neo4j.isInt(v) ? (v as neo4j.Integer).toNumber() : Number(v));
const count = async (cypher: string) => num((await driver.executeQuery(cypher, {}, { database: 'neo4j' })).records[0]!.get(0));
const openWriteTransactions = async () =>
  num((await driver.executeQuery("SHOW TRANSACTIONS YIELD currentQuery, metaData WHERE metaData.app = 'heimdall' AND metaData.heimdallPolicy IS NOT NULL RETURN count(*)", {}, { database: 'neo4j' })).records[0]!.get(0));

interface Asked {
  action: string;
  details: Record<string, unknown>;
  openWrites: number;
}

/**
 * Answers confirmation requests over HTTP, after `beforeAnswer` ran (e.g. growing the graph); records
 * what was asked and how many of the executor's write transactions were open at that moment.
 */
function operator(d: RunningDaemon, approve: boolean, beforeAnswer: () => Promise<void> = async () => {}): { asked: Asked[]; stop: () => void } {
  const asked: Asked[] = [];
  const stop = d.internals.bus.subscribe((m) => {
    if (m.kind !== 'confirmation_request') return;
    void (async () => {
      asked.push({ action: m.data!['action'] as string, details: m.data!['details'] as Record<string, unknown>, openWrites: await openWriteTransactions() });
      await beforeAnswer();
      const res = await fetch(`${d.url}/v1/confirmations/${m.data!['confirmationId'] as string}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ approve, reason: 'test operator' }) });
      assert.equal(res.status, 200, await res.text());
    })();
  });
  return { asked, stop };
}

async function start(extra = ''): Promise<{ d: RunningDaemon; audit: string }> {
  const n = await testNeo4j();
  const audit = join(mkdtempSync(join(tmpdir(), 'heimdall-approval-')), 'audit.jsonl');
  const d = await startTestDaemon(
    [pluginYaml(fixturePlugin('db-probe.mjs'), 'write: true')],
    `database:\n  uri: ${n.uri}\n  user: ${n.user}\n  password: ${JSON.stringify(n.password)}\naudit:\n  path: ${JSON.stringify(audit)}\n${llmYaml(llm)}\n${extra}`,
  );
  return { d, audit };
}
const entries = (path: string) => readFileSync(path, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);

async function modelProposes(d: RunningDaemon, statement: string): Promise<{ fed: ActionResult; invocationId: string }> {
  llm.reset();
  llm.script({ toolCalls: [{ name: 'remediate__cypher', arguments: { statement, reason: 'Clean up the victims.' } }] }, { content: 'Done.' });
  const r = await d.api.prompt('Clean up.');
  return { fed: JSON.parse(llm.requests[1]!.body.messages.find((m) => m.role === 'tool')!.content!) as ActionResult, invocationId: r.data!['invocationId'] as string };
}

before(async () => {
  driver = await openTestDriver();
  await wipeDatabase(driver);
  llm = await startTestLlm();
});
after(async () => {
  await wipeDatabase(driver);
  await driver.close();
  await llm.close();
});

describe('approval with the commit guard', () => {
  let d: RunningDaemon;
  let audit: string;
  before(async () => {
    ({ d, audit } = await start('remediation:\n  allowProcedures: [apoc.refactor.mergeNodes]'));
    assert.equal(await d.internals.executor!.guard.ensure('neo4j', 30_000), true, 'the commit guard is loaded');
  });
  after(() => d.stop());

  it('asks with the counters and a sample, holds no transaction open meanwhile, and commits the approved re-run', async () => {
    await wipeDatabase(driver);
    await driver.executeQuery("UNWIND range(1, 5) AS i CREATE (:Victim {i: i, name: 'v' + i})-[:OWNS {since: i}]->(:Thing)", {}, { database: 'neo4j' });
    const op = operator(d, true);
    try {
      const { fed, invocationId } = await modelProposes(d, 'MATCH (n:Victim) DETACH DELETE n');
      assert.equal(fed.success, true, fed.message);
      assert.equal(op.asked.length, 1);
      const a = op.asked[0]!;
      assert.equal(a.action, 'Run write Cypher proposed by the model');
      assert.equal(a.openWrites, 0, 'no write transaction of the executor was open while the operator decided');
      assert.deepEqual(a.details['counters'], { nodesDeleted: 5, relationshipsDeleted: 5 });
      const sample = a.details['sample'] as { nodes: Array<{ labels: string[]; properties: Record<string, unknown> }>; relationships: Array<{ type: string; properties: Record<string, unknown> }>; nodesDeleted: number };
      assert.equal(sample.nodesDeleted, 5);
      assert.deepEqual(sample.nodes.map((n) => n.properties['name']).sort(), ['v1', 'v2', 'v3', 'v4', 'v5']);
      assert.ok(sample.nodes.every((n) => n.labels.includes('Victim')));
      assert.deepEqual(sample.relationships.map((r) => r.type), ['OWNS', 'OWNS', 'OWNS', 'OWNS', 'OWNS']);
      assert.equal(await count('MATCH (n:Victim) RETURN count(n)'), 0, 'the approved statement ran');
      const mine = entries(audit).filter((e) => e['invocationId'] === invocationId);
      const executed = mine.find((e) => e['type'] === 'executor.executed')!;
      assert.deepEqual(executed['counters'], { nodesDeleted: 5, relationshipsDeleted: 5 }, 'the audit entry carries the real counters');
      assert.deepEqual(executed['approvedCounters'], { nodesDeleted: 5, relationshipsDeleted: 5 });
      assert.equal(executed['judgedBy'], 'commit guard');
      const approved = mine.find((e) => e['type'] === 'executor.approved')!;
      assert.equal((approved['sample'] as { nodes: unknown[] }).nodes.length, 5);
      assert.doesNotMatch(JSON.stringify(approved), /"v1"/, 'the audit log keeps ids and labels of the sample, not property values');
    } finally {
      op.stop();
    }
  });

  it('rolls the re-run back when the graph grew meanwhile so that it would delete more than was approved', async () => {
    await wipeDatabase(driver);
    await driver.executeQuery('UNWIND range(1, 5) AS i CREATE (:Victim {i: i})', {}, { database: 'neo4j' });
    const op = operator(d, true, async () => {
      await driver.executeQuery('UNWIND range(6, 7) AS i CREATE (:Victim {i: i})', {}, { database: 'neo4j' });
    });
    try {
      const { fed, invocationId } = await modelProposes(d, 'MATCH (n:Victim) DETACH DELETE n');
      assert.equal(op.asked.length, 1);
      assert.deepEqual(op.asked[0]!.details['counters'], { nodesDeleted: 5 });
      assert.equal(fed.success, false);
      assert.match(fed.message, /would change more than was approved \(nodesDeleted 7, approved 5\).*rolled back/);
      assert.equal(await count('MATCH (n:Victim) RETURN count(n)'), 7, 'nothing was deleted');
      const denied = entries(audit).find((e) => e['invocationId'] === invocationId && e['type'] === 'executor.denied')!;
      assert.deepEqual(denied['counters'], { nodesDeleted: 7 });
      assert.deepEqual(denied['approvedCounters'], { nodesDeleted: 5 });
    } finally {
      op.stop();
    }
  });

  it('labels the approval by who proposed it: a plugin, an operator', async () => {
    await wipeDatabase(driver);
    await driver.executeQuery('UNWIND range(1, 2) AS i CREATE (:Victim {i: i})', {}, { database: 'neo4j' });
    const op = operator(d, false);
    try {
      const p = await d.api.invokeAction('heimdall.db-probe.query', { cypher: 'MATCH (n:Victim) DELETE n' }, { kind: 'operator' });
      assert.equal(p.success, false);
      const o = await d.api.invokeAction('heimdall.remediate.cypher', { statement: 'MATCH (n:Victim) DELETE n', reason: 'operator clean-up' }, { kind: 'operator' });
      assert.equal(o.success, false);
      assert.deepEqual(op.asked.map((a) => a.action), ['Run write Cypher proposed by the plugin db-probe', 'Run write Cypher proposed by an operator']);
      assert.equal(await count('MATCH (n:Victim) RETURN count(n)'), 2);
    } finally {
      op.stop();
    }
  });

  it('refuses at commit a delete the counters do not show (a procedure an operator allowed deletes inside the transaction)', async () => {
    await wipeDatabase(driver);
    await driver.executeQuery('UNWIND range(1, 2) AS i CREATE (:Victim {i: i})', {}, { database: 'neo4j' });
    const op = operator(d, true);
    try {
      const { fed, invocationId } = await modelProposes(d, 'MATCH (a:Victim {i: 1}), (b:Victim {i: 2}) CALL apoc.refactor.mergeNodes([a, b]) YIELD node RETURN node');
      assert.equal(fed.success, false);
      assert.match(fed.message, /deleted 1 nodes.*more than its counters/);
      assert.equal(op.asked.length, 0, 'nobody is asked: the counters lied');
      assert.equal(await count('MATCH (n:Victim) RETURN count(n)'), 2, 'nothing was merged away');
      const denied = entries(audit).find((e) => e['invocationId'] === invocationId && e['type'] === 'executor.denied')!;
      assert.equal((denied['refusal'] as { rule: string }).rule, 'hidden-changes');
    } finally {
      op.stop();
    }
  });
});

describe('approval without the commit guard', () => {
  it('asks with the counters alone, says why there is no sample, and still bounds the re-run', async () => {
    const { d, audit } = await start('remediation:\n  guardTrigger: false\n  mode: approve');
    const op = operator(d, true);
    try {
      await wipeDatabase(driver);
      const { fed, invocationId } = await modelProposes(d, "CREATE (:Fix {note: 'approved'})");
      assert.equal(fed.success, true, fed.message);
      assert.equal(op.asked.length, 1);
      assert.deepEqual(op.asked[0]!.details['counters'], { nodesCreated: 1, propertiesSet: 1, labelsAdded: 1 });
      assert.equal(op.asked[0]!.details['sample'], null);
      assert.match(String(op.asked[0]!.details['sampleNote']), /no sample: remediation\.guardTrigger is false/);
      assert.equal(await count("MATCH (f:Fix {note: 'approved'}) RETURN count(f)"), 1, 'the probe rolled back and the approved run committed once');
      const executed = entries(audit).find((e) => e['invocationId'] === invocationId && e['type'] === 'executor.executed')!;
      assert.match(String(executed['judgedBy']), /^counters only/);
    } finally {
      op.stop();
      await d.stop();
    }
  });
});
