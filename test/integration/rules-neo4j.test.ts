/**
 * The rules against the real Neo4j, configured as an operator does (the example file in a
 * rulesPath folder, one more rule under rules:): real node.updated events from the neo4j-apoc
 * outbox drive the order-cancelled example (changedTo), whose cypher action writes through the
 * daemon's remediation executor (the built-in rules plugin has write: true) and lands in the audit
 * log; a reload changes the rule and the next cancellation follows the new definition.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Driver } from 'neo4j-driver';
import { removeTestOutbox } from '../helpers/outbox.js';
import { waitFor } from '../helpers/in-process-daemon.js';
import { REPO_ROOT } from '../helpers/paths.js';
import { openTestDriver, testNeo4j, wipeDatabase } from '../helpers/neo4j.js';
import { startFileDaemon } from '../helpers/rules-daemon.js';

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

const config = (n: { uri: string; user: string; password: string }) => `database:
  uri: ${n.uri}
  user: ${n.user}
  password: ${JSON.stringify(n.password)}
sources:
  - type: http
  - type: neo4j-apoc
    pollIntervalMs: 50
rulesPath: rules.d
rules:
  - name: order-updates
    on: node.updated
    match: { labels: Order }
    actions:
      - log: { level: debug, message: "Order {{ event.properties.orderId }} changed." }
`;

test('changedTo on real node.updated events: cancelling an order notifies and stamps it through the remediation executor', async () => {
  const n = await testNeo4j();
  const example = readFileSync(join(RULES, 'examples/order-cancelled.yaml'), 'utf8');
  const f = await startFileDaemon(config(n), { 'order-cancelled.yaml': example });
  const d = f.d;
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

    // a reload changes the example: the next cancellation is stamped with a reason as well
    f.write(config(n), { 'order-cancelled.yaml': example.replace('SET o.cancelledAt = datetime($at)', "SET o.cancelledAt = datetime($at), o.cancelReason = 'reloaded rule'") });
    const r = await f.http('POST', '/v1/reload');
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.deepEqual([r.body.rules.changed, r.body.rules.unchanged], [['order-cancelled'], ['order-updates']]);
    await driver.executeQuery("MATCH (o:Order {orderId: 'A-2'}) SET o.status = 'cancelled'");
    await waitFor('the second order to be stamped by the changed rule', async () => {
      const q = await driver.executeQuery("MATCH (o:Order {orderId: 'A-2'}) RETURN o.cancelReason AS why");
      return q.records[0]!.get('why') === 'reloaded rule';
    }, 20_000);
    const after = (await f.http('GET', '/v1/rules/order-cancelled')).body.statistics as { matched: number; fired: number };
    assert.deepEqual([after.matched, after.fired], [2, 2], 'the changed rule counts on');
  } finally {
    await f.stop();
  }
});
