/**
 * Remediation routing: what the model proposes (heimdall.remediate.cypher, destructive actions)
 * goes to the remediation executor under its policy — auto, approval (approved and denied),
 * dry-run — against the real Neo4j of this run, with every step in the audit log. Without a
 * database the same calls are refused with a reason, and heimdall.db.* say no database is set.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Driver } from 'neo4j-driver';
import type { BifrostMessage } from '../../daemon/bifrost/bus.js';
import { connectSse } from '../../daemon/bifrost/sse-client.js';
import type { RunningDaemon } from '../../daemon/daemon.js';
import type { ToolCallRecord } from '../../daemon/invoker/prompt-runner.js';
import type { ActionResult } from '../../sdk/index.js';
import { pluginYaml, startTestDaemon } from '../helpers/in-process-daemon.js';
import { openTestDriver, testNeo4j, wipeDatabase } from '../helpers/neo4j.js';
import { fixturePlugin } from '../helpers/paths.js';
import { answerConfirmation, bifrostMessages } from '../helpers/public-api.js';
import { llmYaml, startTestLlm, type TestLlm } from '../llm/server.js';

const op = { kind: 'operator' as const };

function auditPath(): string {
  return join(mkdtempSync(join(tmpdir(), 'heimdall-invoker-audit-')), 'audit.jsonl');
}

function auditEntries(path: string): Array<Record<string, unknown>> {
  try {
    return readFileSync(path, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
  } catch {
    return [];
  }
}

/** An operator who answers every confirmation request: follows them on the Bifrost stream, answers over the API. */
async function answerConfirmations(d: RunningDaemon, approve: boolean): Promise<{ asked: string[]; stop: () => void }> {
  const asked: string[] = [];
  const conn = await connectSse(`${d.url}/v1/bifrost/stream?kind=confirmation_request`, {
    onEvent: (e) => {
      if (!e.hasId) return;
      const m = JSON.parse(e.data) as BifrostMessage;
      asked.push(m.data!['action'] as string);
      void answerConfirmation(d, m.data!['confirmationId'] as string, approve, approve ? 'looks right' : 'not today');
    },
  });
  return { asked, stop: () => conn.close() };
}

const firstCall = (r: ActionResult) => (r.data!['toolCalls'] as ToolCallRecord[])[0]!;
const fedBack = (llm: TestLlm, req: number) => JSON.parse(llm.requests[req]!.body.messages.filter((m) => m.role === 'tool')[0]!.content!) as ActionResult;

describe('remediation without a database', () => {
  let llm: TestLlm;
  let d: RunningDaemon;
  const audit = auditPath();
  before(async () => {
    llm = await startTestLlm();
    d = await startTestDaemon([pluginYaml(fixturePlugin('invoker-tools.mjs'))], `${llmYaml(llm)}\naudit:\n  path: ${JSON.stringify(audit)}`);
  });
  after(async () => {
    await d.stop();
    await llm.close();
  });

  it('refuses a destructive action the model asks for, without running it, and says why', async () => {
    llm.script({ toolCalls: [{ name: 'invoker-tools__wipe', arguments: { target: 'users' } }] }, { content: 'I could not wipe.' });
    const r = await d.api.prompt('Wipe the users.');
    assert.equal(firstCall(r).status, 'failed');
    const fed = fedBack(llm, 1);
    assert.equal(fed.success, false);
    assert.equal(fed.data!['code'], 'HMD_ERR_NO_DATABASE');
    assert.match(fed.message, /The destructive action heimdall\.invoker-tools\.wipe was refused: no database is configured.*Add a database: section/);
    const stats = await d.api.invokeAction('heimdall.invoker-tools.stats', {}, op);
    assert.equal((stats.data!['calls'] as Record<string, number>)['wipe'], 0);
    const m = (await bifrostMessages(d)).find((x) => x.title === 'Remediation refused')!;
    assert.ok(m, 'operators see the refusal on Bifrost');
    assert.equal(m.data!['invocationId'], r.data!['invocationId']);
    const refused = auditEntries(audit).find((e) => e['type'] === 'remediation.refused');
    assert.ok(refused, 'the refusal is in the audit log');
    assert.equal(refused['invocationId'], r.data!['invocationId']);
    assert.ok(auditEntries(audit).some((e) => e['type'] === 'model.tool_call' && e['action'] === 'heimdall.invoker-tools.wipe' && (e['usage'] as { totalTokens: number }).totalTokens > 0));
  });

  it('answers heimdall.remediate.cypher and heimdall.db.* with success:false saying no database is configured', async () => {
    const c = await d.api.invokeAction('heimdall.remediate.cypher', { statement: 'CREATE (:X)', reason: 'test' }, op);
    assert.equal(c.success, false);
    assert.equal(c.data!['code'], 'HMD_ERR_NO_DATABASE');
    assert.match(c.message, /The proposed Cypher statement was refused: no database is configured/);
    for (const [name, params] of [['heimdall.db.query', { cypher: 'RETURN 1' }], ['heimdall.db.schema', {}]] as const) {
      const r = await d.api.invokeAction(name, params, op);
      assert.equal(r.success, false, name);
      assert.equal(r.data!['code'], 'HMD_ERR_NO_DATABASE');
      assert.match(r.message, new RegExp(`No database is configured, so ${name.replace(/\./g, '\\.')} cannot run\\. Add a database: section`));
    }
  });
});

describe('remediation against Neo4j', () => {
  let driver: Driver;
  let llm: TestLlm;
  const dbYaml = async (extra: string, audit: string) => {
    const n = await testNeo4j();
    return `database:\n  uri: ${n.uri}\n  user: ${n.user}\n  password: ${JSON.stringify(n.password)}\naudit:\n  path: ${JSON.stringify(audit)}\n${llmYaml(llm)}\n${extra}`;
  };
  const start = async (extra: string, audit: string) => startTestDaemon([pluginYaml(fixturePlugin('invoker-tools.mjs'))], await dbYaml(extra, audit));
  const count = async (cypher: string) => {
    const { records } = await driver.executeQuery(cypher, {}, { database: 'neo4j' });
    return Number(records[0]!.get(0));
  };

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

  // One daemon for the read-only tools and mode auto: the row limit changes nothing that auto does.
  describe('mode auto (with invoker.queryRowLimit 10)', () => {
    const audit = auditPath();
    let d: RunningDaemon;
    before(async () => {
      d = await start('remediation:\n  mode: auto\ninvoker:\n  queryRowLimit: 10', audit);
    });
    after(async () => {
      await d?.stop();
    });

    it('heimdall.db.schema and heimdall.db.query read the graph; writes and extra rows are refused', async () => {
      await driver.executeQuery("CREATE (:Person {name: 'Ada'})-[:KNOWS]->(:Person {name: 'Bob'}), (:City {name: 'Oslo'})", {}, { database: 'neo4j' });
      await driver.executeQuery('CREATE INDEX person_name IF NOT EXISTS FOR (p:Person) ON (p.name)', {}, { database: 'neo4j' });
      try {
        const s = await d.api.invokeAction('heimdall.db.schema', { refresh: true }, op);
        assert.equal(s.success, true, s.message);
        assert.deepEqual(s.data!['labels'], [{ label: 'City', count: 1 }, { label: 'Person', count: 2 }]);
        assert.deepEqual(s.data!['relationshipTypes'], [{ type: 'KNOWS', count: 1 }]);
        assert.ok((s.data!['propertyKeys'] as string[]).includes('name'));
        assert.ok((s.data!['indexes'] as Array<{ name: string }>).some((i) => i.name === 'person_name'));
        const q = await d.api.invokeAction('heimdall.db.query', { cypher: 'MATCH (p:Person) WHERE p.name = $n RETURN p.name AS name', params: { n: 'Ada' } }, op);
        assert.equal(q.success, true, q.message);
        assert.deepEqual(q.data!['rows'], [{ name: 'Ada' }]);
        assert.deepEqual(q.data!['enforcedBy'], ['statement screen', 'EXPLAIN plan screen', 'read transaction', 'row limit', 'byte limit', 'transaction timeout']);
        const w = await d.api.invokeAction('heimdall.db.query', { cypher: "CREATE (:Hacked {by: 'model'})" }, op);
        assert.equal(w.success, false);
        assert.equal(w.data!['code'], 'HMD_ERR_READ_ONLY');
        assert.match(w.message, /only reads the graph, and EXPLAIN classifies this statement as write/);
        assert.doesNotMatch(w.message, /remediate/, 'the refusal does not point an untrusted model at the write tool');
        assert.equal(await count('MATCH (n:Hacked) RETURN count(n)'), 0);
        const many = await d.api.invokeAction('heimdall.db.query', { cypher: 'UNWIND range(1, 500) AS i RETURN i' }, op);
        assert.equal((many.data!['rows'] as unknown[]).length, 10);
        assert.equal(many.data!['truncated'], true);
        assert.match(many.message, /cut to the limit of 10/);
        const over = await d.api.invokeAction('heimdall.db.query', { cypher: 'RETURN 1', limit: 11 }, op).catch((e: Error) => e);
        assert.match((over as Error).message, /params\.limit must be <= 10/);
        // the model sees the schema in its system prompt
        llm.reset();
        llm.script({ content: 'ok' });
        await d.api.prompt('What is in the graph?');
        const system = llm.requests[0]!.body.messages[0]!.content!;
        assert.match(system, /Labels: City\(1\), Person\(2\)/);
        assert.match(system, /Relationship types: KNOWS\(1\)/);
        assert.ok(llm.requests[0]!.body.tools!.some((t) => t.function.name === 'remediate__cypher'));
      } finally {
        await wipeDatabase(driver);
      }
    });

    it('auto: proposed Cypher runs and is audited; a deleting statement needs approval (given); a destructive action is denied', async () => {
      const answers = await answerConfirmations(d, true);
      try {
        llm.reset();
        llm.script(
          { toolCalls: [{ name: 'remediate__cypher', arguments: { statement: 'CREATE (f:Fix {note: $note}) RETURN f.note AS note', params: { note: 'n1' }, reason: 'Record the fix.' } }] },
          { content: 'Recorded the fix.' },
        );
        const r = await d.api.prompt('Record a fix.');
        assert.equal(r.success, true, r.message);
        assert.equal(firstCall(r).status, 'ok', firstCall(r).message);
        const fed = fedBack(llm, 1);
        assert.equal(fed.data!['status'], 'executed');
        assert.equal((fed.data!['classification'] as { kind: string }).kind, 'read-write');
        assert.deepEqual(fed.data!['rows'], [{ note: 'n1' }]);
        assert.equal(await count("MATCH (f:Fix {note: 'n1'}) RETURN count(f)"), 1);
        const id = r.data!['invocationId'];
        const types = auditEntries(audit).filter((e) => e['invocationId'] === id).map((e) => e['type']);
        for (const t of ['model.tool_call', 'executor.executed', 'remediation.executed', 'prompt.completed']) assert.ok(types.includes(t), `${t} in ${types.join(', ')}`);
        const completed = auditEntries(audit).find((e) => e['invocationId'] === id && e['type'] === 'prompt.completed')!;
        assert.ok((completed['usage'] as { totalTokens: number }).totalTokens > 0, 'the audit log carries the model usage');
        assert.ok((await bifrostMessages(d)).some((m) => m.title === 'Remediation executed' && m.data!['invocationId'] === id));

        llm.script(
          { toolCalls: [{ name: 'remediate__cypher', arguments: { statement: 'MATCH (f:Fix {note: $note}) DELETE f', params: { note: 'n1' }, reason: 'Clean up.' } }] },
          { content: 'Deleted.' },
        );
        const del = await d.api.prompt('Delete the fix.');
        assert.equal(firstCall(del).status, 'ok', firstCall(del).message);
        assert.equal(answers.asked.length, 1, 'the deleting statement asked an operator');
        assert.equal(await count('MATCH (f:Fix) RETURN count(f)'), 0);

        answers.stop();
        const deny = await answerConfirmations(d, false);
        llm.script({ toolCalls: [{ name: 'invoker-tools__wipe', arguments: { target: 'everything' } }] }, { content: 'Denied.' });
        const w = await d.api.prompt('Wipe everything.');
        assert.equal(firstCall(w).status, 'failed');
        assert.equal(deny.asked.length, 1);
        const wfed = fedBack(llm, llm.requests.length - 1);
        assert.equal(wfed.data!['status'], 'denied');
        assert.match(wfed.message, /heimdall\.invoker-tools\.wipe was not run/);
        const stats = await d.api.invokeAction('heimdall.invoker-tools.stats', {}, op);
        assert.equal((stats.data!['calls'] as Record<string, number>)['wipe'], 0);
        assert.ok(auditEntries(audit).some((e) => e['invocationId'] === w.data!['invocationId'] && e['type'] === 'remediation.denied'));
        deny.stop();
      } finally {
        answers.stop();
        await wipeDatabase(driver);
      }
    });
  });

  it('approve: a denied proposal is not executed', async () => {
    const audit = auditPath();
    const d = await start('remediation:\n  mode: approve', audit);
    const deny = await answerConfirmations(d, false);
    try {
      llm.reset();
      llm.script(
        { toolCalls: [{ name: 'remediate__cypher', arguments: { statement: 'CREATE (:Fix {note: $note})', params: { note: 'denied' }, reason: 'Try it.' } }] },
        { content: 'The operator said no.' },
      );
      const r = await d.api.prompt('Record a fix.');
      assert.equal(deny.asked.length, 1);
      const fed = fedBack(llm, 1);
      assert.equal(fed.success, false);
      assert.equal(fed.data!['status'], 'denied');
      assert.equal(fed.data!['code'], 'HMD_ERR_POLICY_DENIED');
      assert.match(fed.message, /needs an operator's approval because remediation\.mode is approve/);
      assert.equal(await count('MATCH (f:Fix) RETURN count(f)'), 0);
      const types = auditEntries(audit).filter((e) => e['invocationId'] === r.data!['invocationId']).map((e) => e['type']);
      assert.ok(types.includes('executor.denied') && types.includes('remediation.denied'), types.join(', '));
    } finally {
      deny.stop();
      await d.stop();
    }
  });

  it('dry-run: the proposal is published on Bifrost with its EXPLAIN classification and not executed', async () => {
    const audit = auditPath();
    const d = await start('remediation:\n  mode: dry-run', audit);
    try {
      llm.reset();
      llm.script(
        { toolCalls: [{ name: 'remediate__cypher', arguments: { statement: 'MERGE (f:Fix {note: $note}) RETURN f', params: { note: 'dry' }, reason: 'Just looking.' } }] },
        { content: 'Proposed for review.' },
      );
      const r = await d.api.prompt('Propose a fix.');
      const fed = fedBack(llm, 1);
      assert.equal(fed.success, false);
      assert.equal(fed.data!['status'], 'dry-run');
      assert.match(fed.message, /^Dry run: the statement was published on Bifrost/);
      assert.equal(await count('MATCH (f:Fix) RETURN count(f)'), 0);
      const m = (await bifrostMessages(d)).find((x) => x.title === 'Remediation proposal (dry run)')!;
      assert.ok(m, 'the proposal is on Bifrost');
      assert.equal(m.data!['statement'], 'MERGE (f:Fix {note: $note}) RETURN f');
      assert.deepEqual(m.data!['params'], { note: 'dry' });
      assert.equal(m.data!['reason'], 'Just looking.');
      assert.equal((m.data!['classification'] as { kind: string }).kind, 'read-write');
      assert.equal(m.data!['invocationId'], r.data!['invocationId']);
      assert.match(m.message, /EXPLAIN: read-write/);
      assert.ok(auditEntries(audit).some((e) => e['invocationId'] === r.data!['invocationId'] && e['type'] === 'remediation.dry_run'));
    } finally {
      await d.stop();
    }
  });
});
