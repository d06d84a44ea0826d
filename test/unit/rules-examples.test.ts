/** The example rules in plugins/rules/examples, each compiled and run through the SDK test kit. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { compileRules } from '../../plugins/rules/compile.js';
import { startRules, tick } from '../../plugins/rules/testing.js';
import { createTestKit } from '../../sdk/testing.js';
import security from '../../plugins/security/index.js';
import { REPO_ROOT } from '../helpers/paths.js';

const DIR = join(REPO_ROOT, 'plugins/rules/examples');
const example = (file: string): Record<string, unknown> => parse(readFileSync(join(DIR, file), 'utf8')) as Record<string, unknown>;

test('every example compiles', () => {
  const files = readdirSync(DIR).filter((f) => f.endsWith('.yaml'));
  assert.ok(files.length >= 5);
  const r = compileRules(files.map(example));
  assert.deepEqual(r.errors, []);
  assert.equal(r.rules.length, files.length);
});

test('security-query-failures.yaml does what the security plugin does: five query.failed → anomaly.detect and a prompt, both queued, then it starts again', async () => {
  const rules = await startRules([example('security-query-failures.yaml')]);
  const plugin = createTestKit(security, { config: { threshold: 5, windowMs: 300_000 } });
  for (let i = 0; i < 9; i++) {
    const e = { type: 'query.failed' as const, query: 'MATCH (n) RETURN n.x', error: `failure ${i}` };
    await rules.kit.emit(e);
    await plugin.emit(e);
    await tick(rules, 1000);
  }
  assert.deepEqual(rules.kit.calls.invokeActionAsync, plugin.calls.invokeActionAsync);
  assert.deepEqual(rules.kit.calls.invokeActionAsync, [{ name: 'heimdall.anomaly.detect', params: { trigger: 'autonomous', reason: 'query_failures', count: 5 } }]);
  assert.deepEqual(rules.kit.calls.sendPromptAsync.map((p) => p.prompt), plugin.calls.sendPromptAsync.map((p) => p.prompt));
  const ctx = rules.kit.calls.sendPromptAsync[0]!.opts as { context: { window: { count: number; events: Array<{ error: string }> } } };
  assert.deepEqual(ctx.context.window.events.map((e) => e.error), ['failure 0', 'failure 1', 'failure 2', 'failure 3', 'failure 4']);
  await rules.kit.emit({ type: 'query.failed', error: 'failure 9' });
  await plugin.emit({ type: 'query.failed', error: 'failure 9' });
  await rules.engine.settled();
  assert.equal(rules.kit.calls.invokeActionAsync.length, 2);
  assert.equal(plugin.calls.invokeActionAsync.length, 2);
});

test('order-cancelled.yaml fires on a change to cancelled only, notifies and stamps the order through a bound parameter', async () => {
  const h = await startRules([example('order-cancelled.yaml')]);
  const upd = (from: string, to: string, labels = ['Order']) =>
    h.kit.emit({ type: 'node.updated', nodeId: '4:db:12', nodeLabels: labels, properties: { orderId: 'A-1', status: to, total: 80 }, oldProperties: { orderId: 'A-1', status: from, total: 80 } });
  await upd('open', 'paid');
  await upd('cancelled', 'cancelled');
  await upd('open', 'cancelled', ['Invoice']);
  await upd('paid', 'cancelled');
  await h.engine.settled();
  assert.deepEqual(h.kit.calls.notifications.map((n) => [n.level, n.title, n.message]), [['warning', 'Order A-1 cancelled', 'Order A-1 went from paid to cancelled.']]);
  assert.equal(h.kit.calls.query.length, 1);
  assert.deepEqual(h.kit.calls.query[0]!.params, { id: '4:db:12', at: new Date(h.clock.now()).toISOString() });
  assert.deepEqual(h.kit.calls.query[0]!.opts, { mode: 'write' });
});

test('high-value-order.yaml posts orders over 1000 (on create, or when the total rises past it) and logs', async () => {
  const posted: unknown[] = [];
  const fetchStub = (async (_u: string | URL, init: RequestInit = {}) => {
    posted.push(JSON.parse(String(init.body)));
    return new Response(null, { status: 204 });
  }) as typeof fetch;
  const h = await startRules([example('high-value-order.yaml')], { fetch: fetchStub });
  await h.kit.emit({ type: 'node.created', nodeLabels: ['Order'], properties: { orderId: 'A', total: 1500 } });
  await h.kit.emit({ type: 'node.created', nodeLabels: ['Order'], properties: { orderId: 'B', total: 900 } });
  await h.kit.emit({ type: 'node.updated', nodeLabels: ['Order'], properties: { orderId: 'B', total: 1200 }, oldProperties: { orderId: 'B', total: 900 } });
  await h.kit.emit({ type: 'node.updated', nodeLabels: ['Order'], properties: { orderId: 'B', total: 1200, note: 'x' }, oldProperties: { orderId: 'B', total: 1200 } });
  await h.engine.settled();
  const at = new Date(h.clock.now()).toISOString();
  assert.deepEqual(posted, [{ orderId: 'A', total: 1500, at }, { orderId: 'B', total: 1200, at }]);
  assert.deepEqual(h.kit.calls.logs.filter((l) => l.msg.startsWith('Order')).map((l) => l.msg), ['Order A (1500) was sent to finance.', 'Order B (1200) was sent to finance.']);
});

test('slow-queries-cooldown.yaml warns once per user for three slow queries, then keeps quiet for that user for thirty minutes', async () => {
  const h = await startRules([example('slow-queries-cooldown.yaml')]);
  const q = (userId: string, durationMs: number) => h.kit.emit({ type: 'query.executed', userId, durationMs });
  for (const d of [6000, 100, 7000, 9000]) await q('ann', d);
  for (const d of [6000, 6000, 6000]) await q('ann', d);
  for (const d of [6000, 6000, 6000]) await q('ben', d);
  await h.engine.settled();
  assert.deepEqual(h.kit.calls.notifications.map((n) => n.title), ['Slow queries by ann', 'Slow queries by ben']);
  assert.match(h.kit.calls.notifications[0]!.message, /^3 queries by ann took longer than 5 s within 10 minutes; the slowest: 9000 ms\.$/);
  assert.equal(h.engine.get('slow-queries-by-user')!.stats.suppressed.cooldown, 1);
  await tick(h, 30 * 60_000);
  for (const d of [6000, 6000, 6000]) await q('ann', d);
  await h.engine.settled();
  assert.equal(h.kit.calls.notifications.length, 3);
});

test('product-edits-debounce.yaml reports a burst of price edits once, two seconds after the last one', async () => {
  const h = await startRules([example('product-edits-debounce.yaml')]);
  for (let i = 1; i <= 5; i++) {
    await h.kit.emit({ type: 'node.updated', nodeLabels: ['Product'], properties: { name: `p${i}`, price: i * 10 }, oldProperties: { name: `p${i}`, price: i } });
    await tick(h, 500);
  }
  assert.equal(h.kit.calls.notifications.length, 0);
  await tick(h, 1500);
  assert.deepEqual(h.kit.calls.notifications.map((n) => n.message), ['Product prices were edited; the last edit set p5 to 50 (was 5).']);
  assert.equal(h.engine.get('product-edits-settled')!.stats.suppressed.debounce, 4);
});

test('RULE_JSON_SCHEMA, the form a config schema can embed, accepts every example and rejects an action with two types', async () => {
  const { Ajv2020 } = await import('ajv/dist/2020.js');
  const { RULE_JSON_SCHEMA } = await import('../../plugins/rules/rule-schema.js');
  const validate = new Ajv2020({ strict: false, allErrors: true }).compile(RULE_JSON_SCHEMA);
  for (const f of readdirSync(DIR).filter((x) => x.endsWith('.yaml'))) assert.equal(validate(example(f)), true, `${f}: ${JSON.stringify(validate.errors)}`);
  assert.equal(validate({ name: 'x', on: 'node.created', actions: [{ log: { message: 'a' }, notify: { message: 'b' } }] }), false);
});
