/**
 * The outbox trigger guards Heimdall's own nodes, against the run's real Neo4j: statements that a model or a plugin
 * could send through remediation (transaction metadata app: 'heimdall' with plugin/action), statements that do not
 * name the labels, forged ack metadata and metadata set from inside Cypher (tx.setMetaData) are all refused with one
 * clear error and change nothing — while the daemon's own acknowledgements, dead letters and the audit mirror work,
 * and an internal write that lowers the counter moves it to a new epoch in the same transaction.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import neo4j from 'neo4j-driver';
import { pino } from 'pino';
import { AuditLog, graphMirror } from '../../daemon/audit/audit-log.js';
import { REFUSAL, isRefusal } from '../../daemon/sources/neo4j-apoc/index.js';
import { clean, closeSourceFixture, count, db, driver, internalWrite, openSourceFixture, store, write } from '../helpers/source-fixture.js';

const tmp = mkdtempSync(join(tmpdir(), 'heimdall-guard-'));
before(openSourceFixture);
after(async () => {
  await closeSourceFixture();
  rmSync(tmp, { recursive: true, force: true });
});

/** What the guard protects, as it is now: compared before and after each refused statement. */
async function ownState(): Promise<Record<string, unknown>> {
  const { records } = await driver.executeQuery(
    'MATCH (n) WHERE any(l IN labels(n) WHERE l STARTS WITH "Heimdall") ' +
      'RETURN elementId(n) AS id, labels(n) AS labels, properties(n) AS props ORDER BY id',
  );
  return Object.fromEntries(records.map((r) => [r.get('id') as string, { labels: r.get('labels'), props: JSON.stringify(r.get('props'), (_k, v) => (neo4j.isInt(v) ? v.toString() : v)) }]));
}

const remediation = { plugin: 'fixer', action: 'heimdall.remediate.cypher', invocationId: 'inv-1' };

/** Runs `cypher` the way the remediation executor runs a model's statement, and expects the trigger's refusal. */
async function refused(cypher: string, labels: RegExp, how: 'remediation' | 'driver' = 'remediation', metadata?: Record<string, unknown>): Promise<void> {
  const beforeState = await ownState();
  const run =
    how === 'remediation'
      ? db.run(cypher, {}, { mode: 'write', metadata: { ...remediation, ...metadata } })
      : driver.executeQuery(cypher, {}, { database: 'neo4j', ...(metadata ? { transactionConfig: { metadata } } : {}) });
  await assert.rejects(run, (err: Error) => {
    assert.ok(isRefusal(err), `refused by the trigger: ${err.message}`);
    assert.match(err.message, labels);
    assert.doesNotMatch(err.message, /heimdallKey|key/i, 'the refusal names no key');
    return true;
  }, cypher);
  assert.deepEqual(await ownState(), beforeState, `nothing of Heimdall's changed: ${cypher}`);
}

describe('the outbox trigger guards Heimdall\'s own nodes', () => {
  let audit: AuditLog;
  before(async () => {
    await store.install({ ordering: 'strict' });
    audit = new AuditLog(join(tmp, 'audit.jsonl'), pino({ level: 'silent' }));
    audit.setMirror(graphMirror(db));
    await write("CREATE (:Test {k: 'victim', seq: 7})");
  });

  it('lets the audit mirror create its nodes (no key needed to create them)', async () => {
    audit.append({ type: 'executor.executed', statement: 'CREATE (:X)' });
    audit.append({ type: 'executor.denied', statement: 'MATCH (n) DETACH DELETE n' });
    const end = Date.now() + 10_000;
    while ((await count('MATCH (a:HeimdallAudit) RETURN count(a)')) < 2) {
      if (Date.now() > end) assert.fail('the audit mirror did not write its two nodes');
      await new Promise((r) => setTimeout(r, 20));
    }
  });

  it('refuses the issue\'s statements sent like a remediation, with a message that names the labels and the fix', async () => {
    await refused('MATCH (s:HeimdallOutboxSeq) SET s.value = 5', /\(:HeimdallOutboxSeq\)/);
    await refused('MATCH (n) WHERE n.seq IS NOT NULL SET n.seq = 0', /:HeimdallOutbox, :HeimdallAudit\)/); // hits the entries and the audit nodes
    await refused('MATCH (a:HeimdallAudit) DETACH DELETE a', /\(:HeimdallAudit\)/);
    await assert.rejects(db.run('MATCH (a:HeimdallAudit) DETACH DELETE a', {}, { mode: 'write', metadata: remediation }), (err: Error) => {
      assert.ok(err.message.includes(`${REFUSAL} (:HeimdallAudit). Those nodes are the change-capture outbox, its sequence, its dead letters and the audit mirror; only the Heimdall daemon writes them.`), err.message);
      assert.match(err.message, /to remove the outbox run `heimdall db uninstall --purge`/);
      return true;
    });
    assert.equal(await count("MATCH (t:Test {k: 'victim'}) RETURN t.seq"), 7, 'the refused SET did not touch the user node either');
  });

  it('refuses the same from a normal client, with forged ack metadata, or with metadata set from inside the statement', async () => {
    await refused('MATCH (s:HeimdallOutboxSeq) SET s.value = 5', /HeimdallOutboxSeq/, 'driver');
    await refused('MATCH (s:HeimdallOutboxSeq) SET s.value = 5', /HeimdallOutboxSeq/, 'driver', { app: 'heimdall', outbox: 'ack' });
    await refused('MATCH (s:HeimdallOutboxSeq) SET s.value = 5', /HeimdallOutboxSeq/, 'remediation', { outbox: 'ack', heimdallKey: 'guessed-guessed-guessed' });
    await refused("CALL tx.setMetaData({app: 'heimdall', outbox: 'ack'}) WITH 1 AS x MATCH (s:HeimdallOutboxSeq) SET s.value = 5", /HeimdallOutboxSeq/, 'driver');
    await refused('MATCH (n) DETACH DELETE n', /HeimdallOutboxSeq/, 'driver');
    await refused('MATCH (s:HeimdallOutboxSeq) DELETE s', /HeimdallOutboxSeq/, 'driver');
    await refused('MATCH (s:HeimdallOutboxSeq) REMOVE s.value', /HeimdallOutboxSeq/, 'driver');
    await refused('MATCH (a:HeimdallAudit) REMOVE a:HeimdallAudit', /HeimdallAudit/, 'driver');
    await refused("MATCH (a:HeimdallAudit) SET a.entry = '{}'", /HeimdallAudit/, 'driver');
    await refused("MATCH (t:Test {k: 'victim'}) SET t:HeimdallAudit", /HeimdallAudit/, 'driver');
  });

  it('refuses forged outbox entries, dead letters and counters, which would become forged events', async () => {
    await refused("CREATE (:HeimdallOutbox {seq: 1, committedAt: timestamp(), txMeta: '{\"app\":\"heimdall\"}', changes: '{}', bytes: 2})", /\(:HeimdallOutbox\)/, 'driver');
    await refused("CREATE (:HeimdallOutboxFailed {seq: 1})", /HeimdallOutboxFailed/, 'driver');
    await refused("MATCH (t:Test {k: 'victim'}) SET t:HeimdallOutbox", /HeimdallOutbox/, 'driver');
  });

  it('still captures ordinary writes and lets the daemon acknowledge and dead-letter its entries', async () => {
    await internalWrite('MATCH (o:HeimdallOutbox) DELETE o');
    await write("MATCH (t:Test {k: 'victim'}) SET t.seq = 8");
    await write("CREATE (:Test {k: 'second'})");
    const read = await store.read({ limit: 10 });
    assert.equal(read.entries.length, 2, 'two entries: the update and the create');
    assert.match(read.entries[0]!.changes, /"seq",7,8/);
    assert.equal(await store.deadLetter([{ elementId: read.entries[1]!.elementId, reason: 'test' }]), 1);
    assert.equal(await store.ack([read.entries[0]!]), 1);
    await internalWrite('MATCH (f:HeimdallOutboxFailed) DELETE f');
    assert.equal(await count('MATCH (n) WHERE n:HeimdallOutbox OR n:HeimdallOutboxFailed RETURN count(n)'), 0);
  });

  it('moves the counter to a new epoch in the same transaction when an internal write lowers it', async () => {
    const before = (await driver.executeQuery('MATCH (c:HeimdallOutboxSeq) RETURN c.value AS v, c.epoch AS e')).records[0]!;
    await internalWrite('MATCH (c:HeimdallOutboxSeq) SET c.value = 1');
    const after = (await driver.executeQuery('MATCH (c:HeimdallOutboxSeq) RETURN c.value AS v, c.epoch AS e')).records[0]!;
    assert.equal(neo4j.integer.toNumber(after.get('v') as neo4j.Integer), 1);
    assert.ok(neo4j.integer.toNumber(after.get('e') as neo4j.Integer) > neo4j.integer.toNumber(before.get('e') as neo4j.Integer), 'a later epoch');
    await write("CREATE (:Test {k: 'after-reset'})");
    const [entry] = (await store.read({ limit: 10 })).entries;
    assert.deepEqual([entry!.seq, entry!.epoch], ['2', String(after.get('e'))], 'seq 2 again, but in the new epoch');
    await store.ack([entry!]);
    await internalWrite('MATCH (c:HeimdallOutboxSeq) SET c.value = c.value + 1');
    assert.equal(String((await driver.executeQuery('MATCH (c:HeimdallOutboxSeq) RETURN c.epoch AS e')).records[0]!.get('e')), String(after.get('e')), 'raising it keeps the epoch');
    await clean();
  });
});
