/** The rules plugin's reload action in the SDK test kit with a manual clock: what a reload keeps, resets and drops. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startRules, tick } from '../../plugins/rules/testing.js';
import { canonicalJson, wantedEvents, type ReloadSummary } from '../../plugins/rules/reload.js';
import { compileRules } from '../../plugins/rules/compile.js';

const KEY = 'k'.repeat(32);
const note = (text: string) => ({ notify: { title: '{{ rule.name }}', message: text } });

const rules = () => [
  { name: 'three', on: 'query.failed', window: { count: 3, within: '1m' }, actions: [note('three')] },
  { name: 'cool', on: 'node.created', cooldown: '1m', actions: [note('cool')] },
  { name: 'calm', on: 'node.updated', debounce: '10s', actions: [note('calm v1')] },
  { name: 'gone', on: 'node.deleted', actions: [note('gone')] },
];

test('a reload keeps the windows, cooldowns and statistics of unchanged rules, resets the gates of changed ones and drops removed ones', async () => {
  const h = await startRules(rules(), { config: { reloadKey: KEY, deadLetters: { path: null }, statePath: null } });
  for (let i = 0; i < 2; i++) await h.kit.emit({ type: 'query.failed' });
  await h.kit.emit({ type: 'node.created' });
  await h.kit.emit({ type: 'node.updated' });
  await h.engine.settled();
  assert.deepEqual(h.kit.calls.notifications.map((n) => n.message), ['cool']);

  const next = rules();
  next[2] = { ...next[2]!, actions: [note('calm v2')] };
  next.splice(3, 1);
  // same definition in another key order: unchanged
  const [three, cool] = [next[0]!, next[1]!];
  next[0] = { actions: three.actions, window: three.window, on: three.on, name: three.name } as typeof three;
  next.push({ name: 'fresh', on: 'node.created', actions: [note('fresh')] } as (typeof next)[number]);
  const r = await h.kit.invoke('reload', { key: KEY, rules: next });
  assert.equal(r.success, true, r.message);
  const s = r.data as unknown as ReloadSummary;
  assert.deepEqual([s.added, s.changed, s.removed, s.unchanged], [['fresh'], ['calm'], ['gone'], ['three', 'cool']]);
  assert.equal(s.droppedDebounced, 1, 'the waiting debounce of the changed rule');
  assert.deepEqual(s.events, ['node.created', 'node.updated', 'query.failed']);
  assert.match(r.message, /^The rules were reloaded: 1 added \(fresh\), 1 changed \(calm\), 1 removed \(gone\), 2 unchanged\. 1 debounced firing/);
  void cool;

  // the window of `three` kept its two events: the third fires
  await h.kit.emit({ type: 'query.failed' });
  // `cool` is still cooling down; `fresh` is new and fires
  await h.kit.emit({ type: 'node.created' });
  await h.kit.emit({ type: 'node.deleted' });
  await h.engine.settled();
  assert.deepEqual(h.kit.calls.notifications.map((n) => n.message), ['cool', 'three', 'fresh']);
  // the changed rule counts on, with its new actions and an empty debounce
  await h.kit.emit({ type: 'node.updated' });
  await tick(h, 10_000);
  assert.equal(h.kit.calls.notifications.at(-1)!.message, 'calm v2');
  const stat = (name: string) => h.engine.get(name)!.stats;
  assert.equal(stat('three').matched, 3);
  assert.deepEqual([stat('cool').matched, stat('cool').fired, stat('cool').suppressed.cooldown], [2, 1, 1]);
  assert.deepEqual([stat('calm').matched, stat('calm').fired], [2, 1]);
  assert.equal(h.engine.get('gone'), undefined);
  const list = (await h.kit.invoke('list')).data!.rules as Array<{ name: string }>;
  assert.deepEqual(list.map((x) => x.name), ['three', 'cool', 'calm', 'fresh']);
});

test('reload is refused without the daemon key, to the model and to plugins; an invalid rule in the new list is left out and reported', async () => {
  const h = await startRules(rules(), { config: { reloadKey: KEY, deadLetters: { path: null }, statePath: null } });
  for (const [params, trigger] of [
    [{ key: 'wrong-key-wrong-key', rules: [] }, { kind: 'operator' }],
    [{ key: KEY, rules: [] }, { kind: 'prompt' }],
    [{ key: KEY, rules: [] }, { kind: 'plugin', plugin: 'other' }],
  ] as const) {
    const r = await h.kit.invoke('reload', params, trigger);
    assert.equal(r.success, false);
    assert.equal(r.data!.reason, 'refused');
  }
  assert.equal(h.engine.entries.length, 4, 'nothing changed');
  const r = await h.kit.invoke('reload', { key: KEY, rules: [rules()[0], { name: 'bad', on: 'node.created', when: 'event.x ==', actions: [note('x')] }] });
  assert.equal(r.success, true);
  assert.deepEqual((r.data as unknown as ReloadSummary).invalid, ['bad']);
  const st = await h.kit.invoke('status');
  assert.match(st.message, /^1 rule loaded .*; 1 invalid;/);

  const plain = await startRules(rules(), { config: { deadLetters: { path: null }, statePath: null } });
  const refused = await plain.kit.invoke('reload', { key: KEY, rules: [] });
  assert.equal(refused.data!.reason, 'refused');
  assert.match(refused.message, /not started by the daemon/);
});

test('failures carry a reason the daemon maps to a status', async () => {
  const h = await startRules([...rules(), { name: 'off', enabled: false, on: 'node.created', actions: [note('x')] }, { name: 'broken', on: 'node.created', actions: [] }], { config: { deadLetters: { path: null }, statePath: null } });
  const reason = async (action: string, params: Record<string, unknown>) => (await h.kit.invoke(action, params)).data?.reason;
  assert.equal(await reason('show', { name: 'nope' }), 'no_such_rule');
  assert.equal(await reason('show', { name: 'broken' }), 'invalid_rule');
  assert.equal(await reason('pause', { name: 'off' }), 'disabled');
  assert.equal(await reason('retryDeadLetter', { id: 'x' }), 'no_such_dead_letter');
  assert.equal((await h.kit.invoke('pause', { name: 'cool' }, { kind: 'prompt' })).data?.reason, 'refused');
});

test('wantedEvents lists the types of enabled rules, a family covering its types, and null for *', () => {
  const c = (on: unknown[], enabled = true) => compileRules(on.map((o, i) => ({ name: `r${i}`, enabled, on: o, actions: [{ log: { message: 'x' } }] })));
  assert.deepEqual(wantedEvents(c(['node.created', 'node.*', 'query.failed'])), ['node.*', 'query.failed']);
  assert.equal(wantedEvents(c(['node.created', '*'])), null);
  assert.deepEqual(wantedEvents(c(['node.created'], false)), []);
  assert.equal(canonicalJson({ b: 1, a: [{ d: 2, c: 3 }] }), canonicalJson({ a: [{ c: 3, d: 2 }], b: 1 }));
});
