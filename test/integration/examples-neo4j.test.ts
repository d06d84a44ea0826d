/**
 * The example plugins against the real Neo4j: ten real deletes (captured by the neo4j-apoc
 * outbox) make deletion-summary write a DeletionSummary node; heimdall.audit.remediate creates an
 * AuditEvent node and an audit entry; the backlog is a metric.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Driver } from 'neo4j-driver';
import { verifyAuditLog } from '../../daemon/audit/audit-log.js';
import { pluginYaml, startTestDaemon, waitFor } from '../helpers/in-process-daemon.js';
import { REPO_ROOT } from '../helpers/paths.js';
import { openTestDriver, testNeo4j, wipeDatabase } from '../helpers/neo4j.js';
import { removeTestOutbox } from '../helpers/outbox.js';

let driver: Driver;
before(async () => {
  driver = await openTestDriver();
  await wipeDatabase(driver);
});
after(async () => {
  // leave no trigger behind for the test files that run after this one
  await removeTestOutbox();
  await wipeDatabase(driver);
  await driver.close();
});

const ex = (n: string) => resolve(REPO_ROOT, 'plugins', n);
const count = async (label: string) => (await driver.executeQuery(`MATCH (n:${label}) RETURN count(n) AS c`)).records[0]!.get('c').toNumber() as number;

test('ten real deletes create a DeletionSummary; audit.remediate creates an AuditEvent and an audit entry', async () => {
  const n = await testNeo4j();
  const auditPath = join(mkdtempSync(join(tmpdir(), 'heimdall-examples-')), 'audit.jsonl');
  const d = await startTestDaemon(
    [pluginYaml(ex('deletion-summary'), 'write: true'), pluginYaml(ex('audit'), 'write: true')],
    `database:\n  uri: ${n.uri}\n  user: ${n.user}\n  password: ${JSON.stringify(n.password)}\naudit:\n  path: ${JSON.stringify(auditPath)}\nsources:\n  - type: http\n  - type: system\n  - type: neo4j-apoc\n    pollIntervalMs: 50`,
  );
  try {
    assert.equal(d.api.status().sources.find((s) => s.name === 'neo4j-apoc')?.state, 'running');
    await driver.executeQuery('UNWIND range(1, 10) AS i CREATE (:Temp {i: i})');
    // ten deletes, each its own transaction (sent side by side: only their number matters here)
    await Promise.all(Array.from({ length: 10 }, (_, k) => driver.executeQuery('MATCH (t:Temp {i: $i}) DELETE t', { i: k + 1 })));
    await waitFor('the DeletionSummary node', async () => (await count('DeletionSummary')) === 1, 20_000);
    const s = (await driver.executeQuery('MATCH (s:DeletionSummary) RETURN s.count AS c, s.byLabel AS b')).records[0]!;
    assert.equal(Number(s.get('c')), 10);
    assert.deepEqual(JSON.parse(s.get('b')), { Temp: 10 });
    // the summary's own creation is an event caused by deletion-summary: it is not delivered back to it.
    // Instead of waiting a while: one more delete, committed after the summary, is a marker. The
    // outbox is read in commit order, so once deletion-summary has counted the marker, every event
    // before it has been routed.
    await driver.executeQuery('CREATE (:Marker)');
    await driver.executeQuery('MATCH (m:Marker) DELETE m');
    const status = async () => (await d.api.invokeAction('heimdall.deletion-summary.status', {}, { kind: 'operator' })).data as { pending: number; summaries: number };
    await waitFor('deletion-summary to count the marker', async () => (await status()).pending === 1, 20_000);
    assert.deepEqual(await status(), { pending: 1, summaries: 1 });
    const ds = d.api.plugins().find((p) => p.name === 'deletion-summary')!;
    assert.equal(ds.counters.received, 11, 'only the ten node.deleted events (and the marker after them) reached deletion-summary');

    const r = await d.api.invokeAction('heimdall.audit.remediate', { summary: 'Ten temporary nodes were removed.', suggestedFix: 'None needed.' }, { kind: 'operator' });
    assert.equal(r.success, true, r.message);
    const a = (await driver.executeQuery('MATCH (a:AuditEvent) RETURN elementId(a) AS id, a.summary AS s, a.trigger AS t')).records;
    assert.equal(a.length, 1);
    assert.equal(a[0]!.get('id'), r.data!.id);
    assert.equal(a[0]!.get('t'), 'operator');
    const entries = readFileSync(auditPath, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    assert.ok(entries.some((e) => e.type === 'executor.executed' && e.plugin === 'audit' && /AuditEvent/.test(e.statement)));
    assert.ok(entries.some((e) => e.type === 'executor.executed' && e.plugin === 'deletion-summary'));
    assert.equal(verifyAuditLog(auditPath).ok, true);

    const metrics = await (await fetch(`${d.url}/metrics`)).text();
    assert.match(metrics, /heimdall_outbox_backlog\{database="neo4j"\} \d+/);
  } finally {
    await d.stop();
  }
});
