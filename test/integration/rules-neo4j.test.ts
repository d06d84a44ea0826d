/**
 * The rules plugin against the real Neo4j: real node.updated events from the neo4j-apoc outbox
 * drive the order-cancelled example (changedTo), whose cypher action writes through the daemon's
 * remediation executor and lands in the audit log.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Driver } from 'neo4j-driver';
import { parse } from 'yaml';
import { removeTestOutbox } from '../helpers/outbox.js';
import { pluginYaml, startTestDaemon, waitFor } from '../helpers/in-process-daemon.js';
import { REPO_ROOT } from '../helpers/paths.js';
import { openTestDriver, testNeo4j, wipeDatabase } from '../helpers/neo4j.js';

let driver: Driver;
before(async () => {
  driver = await openTestDriver();
  await wipeDatabase(driver);
});
after(async () => {
  await removeTestOutbox();
  await wipeDatabase(driver);
  await driver.close();
});

const RULES = resolve(REPO_ROOT, 'plugins/rules');

test('changedTo on real node.updated events: cancelling an order notifies and stamps it through the remediation executor', async () => {
  const n = await testNeo4j();
  const rule = parse(readFileSync(join(RULES, 'examples/order-cancelled.yaml'), 'utf8')) as Record<string, unknown>;
  const dir = mkdtempSync(join(tmpdir(), 'heimdall-rules-neo4j-'));
  const d = await startTestDaemon(
    [pluginYaml(RULES, `write: true\nconfig: ${JSON.stringify({ baseDir: dir, rules: [rule, { name: 'order-updates', on: 'node.updated', match: { labels: 'Order' }, actions: [{ log: { level: 'debug', message: 'Order {{ event.properties.orderId }} changed.' } }] }] })}`)],
    `database:\n  uri: ${n.uri}\n  user: ${n.user}\n  password: ${JSON.stringify(n.password)}\nsources:\n  - type: http\n  - type: neo4j-apoc\n    pollIntervalMs: 50`,
  );
  try {
    await waitFor('the neo4j-apoc source to run', () => d.api.status().sources.find((s) => s.name === 'neo4j-apoc')?.state === 'running', 20_000);
    await driver.executeQuery("CREATE (:Order {orderId: 'A-1', status: 'open', total: 80}), (:Order {orderId: 'A-2', status: 'open', total: 20})");
    await driver.executeQuery("MATCH (o:Order {orderId: 'A-1'}) SET o.status = 'paid'");
    await driver.executeQuery("MATCH (o:Order {orderId: 'A-1'}) SET o.status = 'cancelled'");
    await driver.executeQuery("MATCH (o:Order {orderId: 'A-2'}) SET o.total = 25");
    await waitFor('the cancelled order to be stamped', async () => {
      const r = await driver.executeQuery("MATCH (o:Order {orderId: 'A-1'}) RETURN o.cancelledAt IS NOT NULL AS stamped");
      return r.records[0]!.get('stamped') === true;
    }, 20_000);
    const notes = d.internals.bus.since(0).filter((m) => m.kind === 'notification' && m.origin.plugin === 'rules');
    assert.deepEqual(notes.map((m) => [m.level, m.title, m.message]), [['warning', 'Order A-1 cancelled', 'Order A-1 went from paid to cancelled.']]);
    const other = await driver.executeQuery("MATCH (o:Order {orderId: 'A-2'}) RETURN o.cancelledAt AS c");
    assert.equal(other.records[0]!.get('c'), null);
    const stats = (await d.api.invokeAction('heimdall.rules.show', { name: 'order-cancelled' }, { kind: 'operator' })).data!.statistics as { matched: number; fired: number; actions: Record<string, number> };
    assert.equal(stats.matched, 1);
    assert.equal(stats.fired, 1);
    assert.equal(stats.actions.succeeded, 2);
    const audit = readFileSync(d.internals.audit.path, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.ok(audit.some((e) => e.type === 'executor.executed' && e.plugin === 'rules' && /cancelledAt/.test(String(e.statement))), 'the write is audited as the rules plugin');
    // the stamp is the rules plugin's own write: it is not delivered back to it
    await new Promise((r) => setTimeout(r, 500));
    const updates = (await d.api.invokeAction('heimdall.rules.show', { name: 'order-updates' }, { kind: 'operator' })).data!.statistics as { matched: number };
    assert.equal(updates.matched, 3, 'paid, cancelled and the total of A-2; not the stamp');
  } finally {
    await d.stop();
  }
});
