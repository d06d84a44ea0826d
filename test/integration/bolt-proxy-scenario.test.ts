/**
 * The reference scenario for real, with the bolt-proxy and the neo4j-apoc source running together:
 * a neo4j-driver client (a reporting job) sends five malformed queries THROUGH the daemon's proxy;
 * the security plugin gets five query.failed events from the wire, calls heimdall.anomaly.detect
 * and asks the model (the scripted test server), which proposes heimdall.remediate.cypher; the
 * write runs under the write policy, lands in Neo4j with its audit entries, and comes back from the
 * outbox as a node.created whose metadata.origin names the security plugin and the invocation.
 * Then what each source gives for the same application write, and how a plugin pairs them.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import neo4j, { type Driver } from 'neo4j-driver';
import { verifyAuditLog } from '../../daemon/audit/audit-log.js';
import type { RunningDaemon } from '../../daemon/daemon.js';
import type { DatabaseEvent } from '../../sdk/events.js';
import { pluginYaml, startTestDaemon, waitFor } from '../helpers/in-process-daemon.js';
import { openTestDriver, testNeo4j, wipeDatabase } from '../helpers/neo4j.js';
import { removeTestOutbox } from '../helpers/outbox.js';
import { REPO_ROOT } from '../helpers/paths.js';
import { llmYaml, startTestLlm, type TestLlm } from '../llm/server.js';

const plugin = (n: string) => resolve(REPO_ROOT, 'plugins', n);
const fixture = (n: string) => resolve(REPO_ROOT, 'test/fixtures/plugins', n);
const op = { kind: 'operator' as const };
const bolt = (e: DatabaseEvent | undefined): Record<string, unknown> => (e?.metadata?.bolt ?? {}) as Record<string, unknown>;

let direct: Driver;
let llm: TestLlm;
let d: RunningDaemon;
let app: Driver;
let auditFile: string;

async function recorded(): Promise<DatabaseEvent[]> {
  const r = await d.api.invokeAction('heimdall.bolt-recorder.take', {}, op);
  return r.data!['events'] as DatabaseEvent[];
}

async function waitForRecorded(what: string, pred: (evs: DatabaseEvent[]) => boolean): Promise<DatabaseEvent[]> {
  let last: DatabaseEvent[] = [];
  await waitFor(what, async () => pred((last = await recorded())), 30_000);
  return last;
}

before(async () => {
  direct = await openTestDriver();
  await removeTestOutbox();
  await wipeDatabase(direct);
  llm = await startTestLlm();
  const n = await testNeo4j();
  auditFile = join(mkdtempSync(join(tmpdir(), 'heimdall-bolt-scenario-')), 'audit.jsonl');
  d = await startTestDaemon(
    [pluginYaml(plugin('security'), 'config:\n  threshold: 5\n  windowMs: 60000'), pluginYaml(plugin('anomaly')), pluginYaml(fixture('bolt-recorder.mjs'))],
    [
      `database:\n  uri: ${n.uri}\n  user: ${n.user}\n  password: ${JSON.stringify(n.password)}`,
      `audit:\n  path: ${JSON.stringify(auditFile)}`,
      'sources:\n  - type: bolt-proxy\n    listen: 127.0.0.1:0\n  - type: neo4j-apoc\n    pollIntervalMs: 50',
      llmYaml(llm),
    ].join('\n'),
  );
  const listen = d.internals.sources.proxies.proxies[0]!.address;
  app = neo4j.driver(`bolt://${listen}`, neo4j.auth.basic(n.user, n.password), { userAgent: 'reporting-job/1.0', logging: { level: 'error', logger: () => {} } });
});

after(async () => {
  await app?.close();
  await d?.stop();
  await removeTestOutbox().catch(() => undefined);
  await wipeDatabase(direct);
  await direct?.close();
  await llm?.close();
});

test('five failed queries on the wire → anomaly.detect and the model → its remediation in Neo4j, audited, and back from the outbox', async () => {
  const { user } = await testNeo4j();
  llm.script(
    {
      toolCalls: [
        {
          name: 'remediate__cypher',
          arguments: {
            statement: 'CREATE (i:SecurityIncident {kind: $kind, client: $client, failures: $failures}) RETURN i.kind AS kind',
            params: { kind: 'query_failures', client: 'reporting-job/1.0', failures: 5 },
            reason: 'Record the incident so that the on-call engineer sees which client sends malformed Cypher.',
          },
        },
      ],
    },
    { content: 'The reporting job sends malformed Cypher; I recorded a SecurityIncident.' },
  );

  const s = app.session({ database: 'neo4j' });
  try {
    for (let i = 0; i < 5; i++) await assert.rejects(s.run(`MATCH (r:Report {id: ${i}) RETURN r`), /Invalid input|SyntaxError/);
  } finally {
    await s.close();
  }

  const bus = () => d.internals.bus.since(0);
  await waitFor('both async results on Bifrost', () => {
    const m = bus();
    return m.some((x) => x.data?.['name'] === 'heimdall.anomaly.detect' && x.data?.['success'] !== undefined) && m.some((x) => x.data?.['kind'] === 'prompt' && x.data?.['success'] !== undefined);
  }, 30_000);
  const detect = bus().find((x) => x.data?.['name'] === 'heimdall.anomaly.detect' && x.data?.['success'] !== undefined)!;
  const prompt = bus().find((x) => x.data?.['kind'] === 'prompt' && x.data?.['success'] !== undefined)!;
  assert.equal(detect.level, 'success', detect.message);
  assert.equal(detect.data!['plugin'], 'security');
  assert.match(detect.message, /Detected 5 events of kind query_failures/);
  assert.equal(prompt.level, 'success', prompt.message);
  assert.equal(prompt.data!['plugin'], 'security');
  const promptId = prompt.data!['invocationId'] as string;

  // The model saw the five failures as the wire gave them: query text, error, user, client.
  const first = llm.requests[0]!.body;
  const context = first.messages.map((m) => m.content ?? '').join('\n');
  for (let i = 0; i < 5; i++) assert.ok(context.includes(`MATCH (r:Report {id: ${i}) RETURN r`), `context carries failed query ${i}`);
  assert.match(context, /Neo\.ClientError\.Statement\.SyntaxError/);
  assert.match(context, /reporting-job\/1\.0/);
  assert.ok(context.includes(`"userId":"${user}"`) || context.includes(`"userId": "${user}"`), 'the user who ran them');
  assert.ok(first.tools!.some((t) => t.function.name === 'remediate__cypher'));

  // The remediation is in Neo4j: written under the write policy, as the security plugin's.
  const { records } = await direct.executeQuery('MATCH (i:SecurityIncident) RETURN i.kind AS kind, i.client AS client, i.failures AS failures', {}, { database: 'neo4j' });
  assert.equal(records.length, 1);
  assert.equal(records[0]!.get('kind'), 'query_failures');
  assert.equal(records[0]!.get('client'), 'reporting-job/1.0');

  // Its audit entries: the model's tool call, the executed write (with its counters), the prompt.
  const entries = readFileSync(auditFile, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
  const steps = entries.filter((e) => e['invocationId'] === promptId);
  const types = steps.map((e) => e['type']);
  for (const t of ['model.tool_call', 'executor.executed', 'remediation.executed', 'prompt.completed']) assert.ok(types.includes(t), `${t} in ${types.join(', ')}`);
  const call = steps.find((e) => e['type'] === 'model.tool_call')!;
  assert.equal(call['action'], 'heimdall.remediate.cypher');
  assert.equal(call['plugin'], 'security');
  assert.match(String(steps.find((e) => e['type'] === 'executor.executed')!['statement']), /CREATE \(i:SecurityIncident/);
  assert.equal(verifyAuditLog(auditFile).ok, true);

  // The wire gave the failures; the outbox gives the remediation's change, marked as the security plugin's.
  const evs = await waitForRecorded('the SecurityIncident from the outbox', (e) => e.some((x) => x.type === 'node.created' && x.nodeLabels?.includes('SecurityIncident')));
  const failures = evs.filter((e) => e.type === 'query.failed' && e.source === 'bolt-proxy');
  assert.equal(failures.length, 5);
  assert.ok(failures.every((f) => f.userId === user && bolt(f)['userAgent'] === 'reporting-job/1.0' && /^Neo\.ClientError\.Statement\.SyntaxError: /.test(f.error!)));
  const incident = evs.find((x) => x.type === 'node.created' && x.nodeLabels?.includes('SecurityIncident'))!;
  assert.equal(incident.source, 'neo4j-apoc');
  assert.deepEqual(incident.metadata!.origin, { plugin: 'security', action: 'heimdall.remediate.cypher', invocationId: promptId });
  assert.equal(evs.filter((e) => e.source === 'bolt-proxy' && /SecurityIncident/.test(e.query ?? '')).length, 0, "the daemon's driver talks to Neo4j directly here: the wire saw none of it");
});

test('one application write, seen by both sources: the wire gives the query and the transaction, the outbox the change; a plugin pairs them by transaction metadata, else by time window', async () => {
  const s = app.session({ database: 'neo4j' });
  const t0 = Date.now();
  try {
    const tx = s.beginTransaction({ metadata: { requestId: 'order-42' } });
    await tx.run('CREATE (:ScenarioOrder {id: $id, total: $total})', { id: neo4j.int(42), total: 99.5 });
    await tx.commit();
    await s.run('MATCH (o:ScenarioOrder {id: $id}) SET o.paid = true', { id: neo4j.int(42) }, { metadata: { requestId: 'order-42-paid' } });
  } finally {
    await s.close();
  }
  const last: Array<[string, string, string]> = [
    ['order-42', 'bolt-proxy', 'transaction.commit'],
    ['order-42', 'neo4j-apoc', 'transaction.commit'],
    ['order-42-paid', 'bolt-proxy', 'query.executed'],
    ['order-42-paid', 'neo4j-apoc', 'transaction.commit'],
  ];
  const evs = await waitForRecorded('both sources to report both writes', (e) =>
    last.every(([key, src, type]) => e.some((x) => x.source === src && x.type === type && x.metadata?.tx?.['requestId'] === key)),
  );
  const of = (key: string, src: string) => evs.filter((e) => e.source === src && e.metadata?.tx?.['requestId'] === key);

  // Explicit transaction: the wire has the statement and the commit (one txId), the outbox the node and its commit.
  const wire = of('order-42', 'bolt-proxy');
  const outbox = of('order-42', 'neo4j-apoc');
  assert.deepEqual(wire.map((e) => e.type), ['query.executed', 'transaction.commit']);
  assert.deepEqual(outbox.map((e) => e.type), ['node.created', 'transaction.commit']);
  assert.equal(wire[0]!.query, 'CREATE (:ScenarioOrder {id: $id, total: $total})');
  assert.deepEqual(wire[0]!.queryParams, { id: 'Integer', total: 'Float' });
  assert.equal(outbox[0]!.properties!['total'], 99.5, 'the outbox has the values; the wire (captureParams keys) only their types');
  assert.equal(bolt(wire[0])['stats'] && (bolt(wire[0])['stats'] as Record<string, number>)['nodesCreated'], 1);
  assert.equal((outbox[1]!.metadata!['counts'] as Record<string, number>)['nodesCreated'], 1);
  assert.equal(wire[1]!.userId, (await testNeo4j()).user, 'the user is on the wire only');
  assert.equal(outbox[0]!.userId, undefined);
  // Two different transaction ids: the wire's is the proxy's connection and count, the outbox's its epoch and seq.
  assert.match(wire[1]!.txId!, /^bolt-[0-9a-f]{8}-\d+:\d+$/);
  assert.match(outbox[1]!.txId!, /^\d+:\d+(\.\d+)?$/, 'the outbox txId is <epoch>:<seq> (relaxed: <epoch>:<clock>.<n>)');
  // Without a key in the metadata: the commit times are within milliseconds (trigger just before the commit, proxy just after).
  const skew = Date.parse(wire[1]!.timestamp) - Date.parse(outbox[1]!.timestamp);
  assert.ok(skew >= -50 && skew < 2000, `outbox commit ${outbox[1]!.timestamp} before the wire's ${wire[1]!.timestamp}`);
  assert.ok(Date.parse(outbox[1]!.timestamp) >= t0 - 50);

  // Auto-commit: one query.executed (autoCommit, its own txId, no transaction event) against node.updated + transaction.commit.
  const paidWire = of('order-42-paid', 'bolt-proxy');
  const paidOutbox = of('order-42-paid', 'neo4j-apoc');
  assert.deepEqual(paidWire.map((e) => e.type), ['query.executed']);
  assert.equal(bolt(paidWire[0])['autoCommit'], true);
  assert.deepEqual(paidOutbox.map((e) => e.type), ['node.updated', 'transaction.commit']);
  assert.deepEqual(paidOutbox[0]!.metadata!['changedKeys'], ['paid']);
});
