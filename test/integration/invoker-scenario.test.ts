/**
 * The reference scenario end to end, with the security, anomaly and audit example plugins, the
 * real Neo4j of this run and the OpenAI-compatible test server: five query.failed events in the
 * window → security calls invokeActionAsync('heimdall.anomaly.detect') and sendPromptAsync(...) →
 * the model calls heimdall.audit.remediate → an AuditEvent node exists, two Bifrost notifications
 * carry the async results, and the audit log holds every step.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Driver } from 'neo4j-driver';
import { verifyAuditLog } from '../../daemon/audit/audit-log.js';
import { pluginYaml, startTestDaemon, waitFor } from '../helpers/in-process-daemon.js';
import { openTestDriver, testNeo4j, wipeDatabase } from '../helpers/neo4j.js';
import { REPO_ROOT } from '../helpers/paths.js';
import { bifrostMessages } from '../helpers/public-api.js';
import { llmYaml, startTestLlm, type TestLlm } from '../llm/server.js';

const ex = (n: string) => resolve(REPO_ROOT, 'plugins', n);
let driver: Driver;
let llm: TestLlm;

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

test('five failed queries → anomaly.detect and a prompt → the model records an AuditEvent; results on Bifrost; every step audited', async () => {
  const n = await testNeo4j();
  const auditFile = join(mkdtempSync(join(tmpdir(), 'heimdall-scenario-')), 'audit.jsonl');
  const d = await startTestDaemon(
    [pluginYaml(ex('security'), 'config:\n  threshold: 5'), pluginYaml(ex('anomaly')), pluginYaml(ex('audit'), 'write: true')],
    `database:\n  uri: ${n.uri}\n  user: ${n.user}\n  password: ${JSON.stringify(n.password)}\naudit:\n  path: ${JSON.stringify(auditFile)}\n${llmYaml(llm)}`,
  );
  try {
    llm.script(
      {
        toolCalls: [
          {
            name: 'audit__remediate',
            arguments: { summary: 'Five queries failed with syntax errors from the reporting job.', suggestedFix: 'Fix the reporting query and add a test.' },
          },
        ],
      },
      { content: 'The reporting job sends malformed Cypher; I recorded an AuditEvent with the suggested fix.' },
    );
    const failures = Array.from({ length: 5 }, (_, i) => ({
      id: `scenario-qf-${i}`,
      type: 'query.failed',
      query: `MATCH (r:Report {id: ${i}) RETURN r`,
      error: 'Neo.ClientError.Statement.SyntaxError',
      userId: 'reporting-job',
    }));
    assert.equal(d.api.ingest(failures, 'http').accepted, 5);

    const bus = () => bifrostMessages(d);
    await waitFor('both async results on Bifrost', async () => {
      const m = await bus();
      return m.some((x) => x.data?.['name'] === 'heimdall.anomaly.detect' && x.data?.['success'] !== undefined) && m.some((x) => x.data?.['kind'] === 'prompt' && x.data?.['success'] !== undefined);
    }, 20_000);

    // Two notifications carry the results of the two async invocations, with their ids.
    const detect = (await bus()).find((x) => x.data?.['name'] === 'heimdall.anomaly.detect' && x.data?.['success'] !== undefined)!;
    const prompt = (await bus()).find((x) => x.data?.['kind'] === 'prompt' && x.data?.['success'] !== undefined)!;
    assert.equal(detect.level, 'success', detect.message);
    assert.equal(detect.data!['plugin'], 'security');
    assert.match(detect.message, /Detected 5 events of kind query_failures/);
    assert.equal(prompt.level, 'success', prompt.message);
    assert.equal(prompt.data!['plugin'], 'security');
    assert.equal(prompt.message, 'The reporting job sends malformed Cypher; I recorded an AuditEvent with the suggested fix.');
    const promptId = prompt.data!['invocationId'] as string;
    const detectId = detect.data!['invocationId'] as string;
    assert.notEqual(promptId, detectId);
    assert.equal(d.api.invocations!.get(promptId)!.status, 'succeeded');
    assert.equal(d.api.invocations!.get(detectId)!.status, 'succeeded');

    // The model saw the failures the plugin passed as context, and audit.remediate as a tool.
    const first = llm.requests[0]!.body;
    assert.match(first.messages[0]!.content!, /The plugin "security" sent this prompt/);
    for (const f of failures) assert.ok(first.messages[0]!.content!.includes(f.id), `context carries ${f.id}`);
    assert.ok(first.tools!.some((t) => t.function.name === 'audit__remediate'));

    // The AuditEvent node exists, written by the audit plugin on the model's behalf.
    const { records } = await driver.executeQuery('MATCH (a:AuditEvent) RETURN a.summary AS summary, a.suggestedFix AS fix, a.invocationId AS inv, a.trigger AS trigger', {}, { database: 'neo4j' });
    assert.equal(records.length, 1);
    assert.equal(records[0]!.get('summary'), 'Five queries failed with syntax errors from the reporting job.');
    assert.equal(records[0]!.get('fix'), 'Fix the reporting query and add a test.');
    assert.equal(records[0]!.get('inv'), promptId);
    assert.equal(records[0]!.get('trigger'), 'prompt');
    assert.ok((await bus()).some((x) => x.title === 'Remediation recorded'));

    // The audit log holds every step of the prompt, chained and verifiable.
    const entries = readFileSync(auditFile, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
    const steps = entries.filter((e) => e['invocationId'] === promptId);
    const types = steps.map((e) => e['type']);
    assert.ok(types.includes('model.tool_call'), types.join(', '));
    assert.ok(types.includes('executor.executed'), types.join(', '));
    assert.ok(types.includes('prompt.completed'), types.join(', '));
    const call = steps.find((e) => e['type'] === 'model.tool_call')!;
    assert.equal(call['action'], 'heimdall.audit.remediate');
    assert.equal(call['plugin'], 'security');
    const done = steps.find((e) => e['type'] === 'prompt.completed')!;
    assert.ok((done['usage'] as { totalTokens: number }).totalTokens > 0);
    assert.equal(done['model'], 'test-model');
    const executed = steps.find((e) => e['type'] === 'executor.executed')!;
    assert.match(String(executed['statement']), /CREATE \(a:AuditEvent/);
    assert.equal(verifyAuditLog(auditFile).ok, true);
  } finally {
    await d.stop();
  }
});
