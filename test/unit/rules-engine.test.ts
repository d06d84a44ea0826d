/** The rules engine through the SDK test kit with a manual clock: windows, cooldown, debounce, concurrency, priority, pause. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { deferred, startRules, tick } from '../../plugins/rules/testing.js';

const notify = { notify: { title: '{{ rule.name }}', message: '{{ window.count }} for {{ window.key }}' } };

test('window per key: the fifth event within the window fires, the sixth within the cooldown does not, and keys do not mix', async () => {
  const h = await startRules([{ name: 'burst', on: 'query.failed', window: { count: 5, within: '5m', by: 'event.userId' }, cooldown: '1m', actions: [notify] }]);
  const fail = (userId: string) => h.kit.emit({ type: 'query.failed', userId, error: 'x' });
  for (let i = 0; i < 4; i++) {
    await fail('alice');
    await tick(h, 1000);
  }
  await fail('bob');
  assert.equal(h.kit.calls.notifications.length, 0, 'four events of alice and one of bob fire nothing');
  await fail('alice');
  await h.engine.settled();
  assert.equal(h.kit.calls.notifications.length, 1, 'the fifth event of alice fires');
  assert.equal(h.kit.calls.notifications[0]!.message, '5 for alice');
  await fail('alice');
  await h.engine.settled();
  assert.equal(h.kit.calls.notifications.length, 1, 'the sixth does not');
  // four more complete a new window for alice inside the cooldown: suppressed by the cooldown
  for (let i = 0; i < 4; i++) await fail('alice');
  await h.engine.settled();
  assert.equal(h.kit.calls.notifications.length, 1);
  // bob is a different key: his fifth fires although alice is cooling down
  for (let i = 0; i < 4; i++) await fail('bob');
  await h.engine.settled();
  assert.deepEqual(h.kit.calls.notifications.map((n) => n.message), ['5 for alice', '5 for bob']);
  const s = h.engine.get('burst')!.stats;
  assert.equal(s.matched, 15);
  assert.equal(s.fired, 2);
  assert.deepEqual(s.suppressed, { window: 12, cooldown: 1, debounce: 0, concurrency: 0 });
  // once alice's cooldown is over, five more fire again
  await tick(h, 60_000);
  for (let i = 0; i < 5; i++) await fail('alice');
  await h.engine.settled();
  assert.equal(h.kit.calls.notifications.length, 3);
});

test('window edges: an event exactly `within` old has left the window; one a millisecond younger still counts', async () => {
  const h = await startRules([{ name: 'five', on: 'query.failed', window: { count: 5, within: '5m' }, actions: [notify] }]);
  const fail = () => h.kit.emit({ type: 'query.failed' });
  await fail(); // t = 0
  await tick(h, 1000);
  for (let i = 0; i < 3; i++) await fail(); // t = 1 s
  await tick(h, 299_000); // t = 300 s: the first event is exactly 5 m old
  await fail();
  await h.engine.settled();
  assert.equal(h.kit.calls.notifications.length, 0, 'the first event is out, so only four are inside');
  await tick(h, 999); // t = 300.999 s: the three from t = 1 s are 299.999 s old
  await fail();
  await h.engine.settled();
  assert.equal(h.kit.calls.notifications.length, 1, 'three from 1 s, one from 300 s and this one are five');
  assert.equal(h.kit.calls.notifications[0]!.message, '5 for ');
});

test('debounce: a burst fires once, with its last event, after the quiet period; each replaced event is counted', async () => {
  const h = await startRules([{ name: 'settle', on: 'node.updated', debounce: '2s', actions: [{ log: { message: 'last={{ event.properties.n }}' } }] }]);
  for (const [n, gap] of [[1, 500], [2, 1500], [3, 1999]] as const) {
    await h.kit.emit({ type: 'node.updated', properties: { n } });
    await tick(h, gap);
  }
  assert.equal(h.kit.calls.logs.filter((l) => l.msg.startsWith('last=')).length, 0, 'nothing while edits keep coming');
  await tick(h, 1);
  assert.deepEqual(h.kit.calls.logs.filter((l) => l.msg.startsWith('last=')).map((l) => l.msg), ['last=3']);
  const s = h.engine.get('settle')!.stats;
  assert.equal(s.suppressed.debounce, 2);
  assert.equal(s.fired, 1);
  await h.kit.emit({ type: 'node.updated', properties: { n: 4 } });
  await tick(h, 2000);
  assert.deepEqual(h.kit.calls.logs.filter((l) => l.msg.startsWith('last=')).map((l) => l.msg), ['last=3', 'last=4']);
});

test('maxConcurrent: firings beyond the limit are suppressed for concurrency until one finishes', async () => {
  const gates = [deferred(), deferred(), deferred()];
  let calls = 0;
  const h = await startRules([{ name: 'slow', on: 'node.created', maxConcurrent: 2, actions: [{ invoke: { action: 'heimdall.x.work', params: { id: '{{ event.properties.id }}' } } }] }], {
    invokeAction: async () => {
      await gates[calls++]!.promise;
      return { success: true, message: 'done' };
    },
  });
  for (let i = 0; i < 4; i++) await h.kit.emit({ type: 'node.created', properties: { id: i } });
  assert.deepEqual(h.kit.calls.invokeAction.map((c) => c.params.id), [0, 1]);
  assert.equal(h.engine.get('slow')!.stats.suppressed.concurrency, 2);
  assert.equal(h.engine.get('slow')!.stats.inFlight, 2);
  gates[0]!.resolve();
  await h.clock.advance(0);
  await h.kit.emit({ type: 'node.created', properties: { id: 9 } });
  assert.deepEqual(h.kit.calls.invokeAction.map((c) => c.params.id), [0, 1, 9]);
  gates[1]!.resolve();
  gates[2]!.resolve();
  await h.engine.settled();
  assert.equal(h.engine.get('slow')!.stats.inFlight, 0);
  assert.equal(h.engine.get('slow')!.stats.actions.succeeded, 3);
});

test('priority: for one event, lower priority numbers run first, and a sync action holds the next rule until it is done', async () => {
  const gate = deferred();
  const seen: string[][] = [];
  const ruleLogs = () => h.kit.calls.logs.filter((l) => l.msg === 'middle' || l.msg === 'late').map((l) => l.msg);
  const h: Awaited<ReturnType<typeof startRules>> = await startRules(
    [
      { name: 'late', priority: 200, on: 'node.created', actions: [{ log: { message: 'late' } }] },
      { name: 'first', priority: 1, on: 'node.created', actions: [{ invoke: { action: 'heimdall.x.slow' } }] },
      { name: 'middle', on: 'node.created', actions: [{ log: { message: 'middle' }, timing: 'async' }] },
    ],
    {
      invokeAction: async () => {
        seen.push(ruleLogs());
        await gate.promise;
        seen.push(ruleLogs());
        return { success: true, message: 'ok' };
      },
    },
  );
  await h.kit.emit({ type: 'node.created' });
  await h.clock.advance(10);
  assert.deepEqual(seen, [[]], 'the first rule started; the others wait for its sync action');
  assert.deepEqual(ruleLogs(), []);
  gate.resolve();
  await h.engine.settled();
  assert.deepEqual(seen, [[], []]);
  assert.deepEqual(ruleLogs(), ['middle', 'late']);
});

test('maxInFlight: when that many firings run, the event handler waits, so the plugin queue takes the load', async () => {
  const gate = deferred();
  const h = await startRules([{ name: 'hold', on: 'node.created', actions: [{ invoke: { action: 'heimdall.x.hold' } }] }], {
    config: { maxInFlight: 2 },
    invokeAction: async () => {
      await gate.promise;
      return { success: true, message: 'ok' };
    },
  });
  await h.kit.emit({ type: 'node.created' });
  let returned = false;
  const second = h.kit.emit({ type: 'node.created' }).then(() => (returned = true));
  await h.clock.advance(0);
  assert.equal(returned, false, 'the second handler call waits while two firings run');
  gate.resolve();
  await second;
  assert.equal(returned, true);
  await h.engine.settled();
});

test('pause and resume: a paused rule ignores events; the pause survives a restart; the model may not pause', async () => {
  const rules = [{ name: 'p', on: 'node.created', actions: [{ log: { message: 'fired' } }] }];
  const h = await startRules(rules);
  const fired = () => h.kit.calls.logs.filter((l) => l.msg === 'fired').length;
  const refused = await h.kit.invoke('pause', { name: 'p' }, { kind: 'prompt' });
  assert.equal(refused.success, false);
  assert.match(refused.message, /Only an operator or a plugin may pause a rule/);
  const r = await h.kit.invoke('pause', { name: 'p' });
  assert.equal(r.success, true);
  assert.equal(r.data!.state, 'paused');
  await h.kit.emit({ type: 'node.created' });
  await h.engine.settled();
  assert.equal(fired(), 0);
  assert.equal(h.engine.get('p')!.stats.matched, 0, 'a paused rule is not evaluated');
  assert.deepEqual(JSON.parse(readFileSync(join(h.dir, '.heimdall/rules-state.json'), 'utf8')), { paused: ['p'] });
  // a new worker with the same state file starts with the rule paused
  const again = await startRules(rules, { dir: h.dir });
  assert.equal((await again.kit.invoke('show', { name: 'p' })).data!.state, 'paused');
  assert.equal((await again.kit.invoke('resume', { name: 'p' })).data!.state, 'active');
  await again.kit.emit({ type: 'node.created' });
  await again.engine.settled();
  assert.equal(again.kit.calls.logs.filter((l) => l.msg === 'fired').length, 1);
  const withSecret = await startRules([{ name: 'h', on: 'node.created', actions: [{ webhook: { url: 'http://127.0.0.1:1/x', headers: { Authorization: 'Bearer abc', 'x-team': 'ops' } } }] }]);
  const def = (await withSecret.kit.invoke('show', { name: 'h' })).data!.definition as { actions: Array<{ webhook: { headers: unknown } }> };
  assert.deepEqual(def.actions[0]!.webhook.headers, { Authorization: '[redacted]', 'x-team': 'ops' }, 'show does not reveal credentials');
  const missing = await again.kit.invoke('pause', { name: 'nope' });
  assert.equal(missing.success, false);
  assert.match(missing.message, /There is no rule named nope; the rules are p\./);
});

test('a broken rule is reported by name in the log and the status action, and the good ones still run', async () => {
  const h = await startRules([
    { name: 'broken', on: 'node.created', when: 'event.properties.total >', actions: [{ log: { message: 'never' } }] },
    { name: 'good', on: 'node.created', actions: [{ log: { message: 'good fired' } }] },
    { name: 'off', enabled: false, on: 'node.created', actions: [{ log: { message: 'off fired' } }] },
  ]);
  const errs = h.kit.calls.logs.filter((l) => l.level === 'error');
  assert.equal(errs.length, 1);
  assert.match(errs[0]!.msg, /^The rule "broken" is invalid at when \(line 1, column 25\): does not compile: .* The rule was left out; the other rules run\.$/);
  assert.match(h.kit.calls.logs.find((l) => l.level === 'info')!.msg, /^The rules engine loaded 2 rules; 1 invalid rule was left out: broken\.$/);
  await h.kit.emit({ type: 'node.created' });
  await h.engine.settled();
  assert.deepEqual(h.kit.calls.logs.filter((l) => l.msg.endsWith('fired')).map((l) => l.msg), ['good fired']);
  const st = await h.kit.invoke('status');
  assert.deepEqual(st.data!.rules, { active: 1, paused: 0, disabled: 1 });
  const inv = st.data!.invalid as Array<{ name: string; errors: Array<{ path: string; position: unknown }> }>;
  assert.equal(inv[0]!.name, 'broken');
  assert.equal(inv[0]!.errors[0]!.path, 'when');
  assert.deepEqual(inv[0]!.errors[0]!.position, { line: 1, column: 25 });
  const list = await h.kit.invoke('list');
  assert.deepEqual((list.data!.rules as Array<{ name: string; state: string }>).map((r) => [r.name, r.state]), [['good', 'active'], ['off', 'disabled']]);
  const show = await h.kit.invoke('show', { name: 'broken' });
  assert.equal(show.success, false);
  assert.match(show.message, /The rule broken is invalid and was not loaded/);
});

test('match and when: labels, relationship type, database and source filter; an erroring condition counts as an evaluation error', async () => {
  const h = await startRules([
    { name: 'orders', on: 'node.*', match: { labels: ['Order', 'Invoice'], database: 'shop', source: ['neo4j-apoc', 'test'] }, when: 'event.properties.total > 100', actions: [{ log: { message: 'order {{ event.properties.total }}' } }] },
    { name: 'rels', on: 'relationship.created', match: { relationshipType: 'PAID' }, actions: [{ log: { message: 'paid' } }] },
  ]);
  const emit = h.kit.emit;
  await emit({ type: 'node.created', nodeLabels: ['Order'], database: 'shop', properties: { total: 150 } });
  await emit({ type: 'node.created', nodeLabels: ['Customer'], database: 'shop', properties: { total: 150 } });
  await emit({ type: 'node.created', nodeLabels: ['Invoice'], database: 'other', properties: { total: 150 } });
  await emit({ type: 'node.created', nodeLabels: ['Invoice'], database: 'shop', source: 'http', properties: { total: 150 } });
  await emit({ type: 'node.created', nodeLabels: ['Invoice'], database: 'shop', properties: { total: 50 } });
  await emit({ type: 'node.created', nodeLabels: ['Invoice'], database: 'shop' });
  await emit({ type: 'relationship.created', relationshipType: 'PAID' });
  await emit({ type: 'relationship.created', relationshipType: 'OWNS' });
  await h.engine.settled();
  assert.deepEqual(h.kit.calls.logs.filter((l) => l.level === 'info' && !l.msg.startsWith('The rules')).map((l) => l.msg), ['order 150', 'paid']);
  const s = h.engine.get('orders')!.stats;
  assert.equal(s.matched, 1);
  assert.equal(s.evalErrors, 1);
  assert.equal(s.lastEvalError, 'The condition when raised an error: No such key: properties.');
});

test('window keys are bounded by maxKeys: the least recently used key is evicted and counted, and its window starts again', async () => {
  const h = await startRules([{ name: 'k', on: 'query.failed', window: { count: 2, within: '1h', by: 'event.userId' }, actions: [notify] }], { config: { maxKeys: 2 } });
  const fail = (userId: string) => h.kit.emit({ type: 'query.failed', userId });
  await fail('a');
  await fail('b');
  await fail('c'); // evicts a
  await fail('a'); // a starts again: 1 of 2
  await h.engine.settled();
  assert.equal(h.kit.calls.notifications.length, 0);
  assert.equal(h.engine.get('k')!.stats.keysEvicted, 2, 'a, then b');
  await fail('a');
  await h.engine.settled();
  assert.deepEqual(h.kit.calls.notifications.map((n) => n.message), ['2 for a']);
});
