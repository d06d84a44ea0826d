/** Rule compiling: structure, CEL conditions and templates, with errors that name the rule, the path and the position. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileRules } from '../../plugins/rules/compile.js';
import { changedKey, compileCel, runCel } from '../../plugins/rules/conditions.js';
import { parseDuration } from '../../plugins/rules/rule-schema.js';
import { compileTemplate, renderTemplate, type TemplateError } from '../../plugins/rules/templates.js';
import type { DatabaseEvent } from '../../sdk/index.js';

const log = { log: { message: 'x' } };
const ev = (p: Partial<DatabaseEvent>): DatabaseEvent => ({ id: 'e1', type: 'node.updated', timestamp: '2025-01-01T00:00:00Z', database: 'neo4j', source: 'test', ...p });

test('a good rule compiles with its defaults, and rules come out in priority order, then in the order written', () => {
  const r = compileRules([
    { name: 'b', on: 'node.*', actions: [log] },
    { name: 'a', priority: 5, on: ['query.failed', 'query.executed'], window: { count: 5, within: '5m' }, cooldown: '1m', debounce: '500ms', maxConcurrent: 2, actions: [log] },
    { name: 'c', on: '*', actions: [log] },
  ]);
  assert.deepEqual(r.errors, []);
  assert.deepEqual(r.rules.map((x) => x.name), ['a', 'b', 'c']);
  const a = r.rules[0]!;
  assert.equal(a.window!.withinMs, 300_000);
  assert.equal(a.cooldownMs, 60_000);
  assert.equal(a.debounceMs, 500);
  assert.equal(a.maxConcurrent, 2);
  const b = r.rules[1]!;
  assert.equal(b.priority, 100);
  assert.equal(b.enabled, true);
  assert.equal(b.maxConcurrent, Infinity);
  assert.deepEqual(b.actions[0]!.retry, { maxAttempts: 1, initialDelayMs: 1000, backoff: 'exponential', maxDelayMs: 30_000 });
  assert.equal(b.actions[0]!.timing, 'sync');
});

test('durations: ms, s, m, h, d and fractions; anything else is not one', () => {
  assert.deepEqual(['500ms', '2s', '1.5s', '5m', '1h', '1d'].map(parseDuration), [500, 2000, 1500, 300_000, 3_600_000, 86_400_000]);
  for (const bad of ['5', '5 min', '-1s', 's', 5]) assert.equal(parseDuration(bad), undefined, String(bad));
});

test('invalid CEL is rejected with the rule name, the path and the position inside the expression', () => {
  const r = compileRules([
    { name: 'syntax', on: 'node.updated', when: 'event.properties.total >', actions: [log] },
    { name: 'unknown-var', on: 'node.updated', when: 'event.x == 1 && foo == 2', actions: [log] },
    { name: 'not-bool', on: 'node.updated', when: '1 + 2', actions: [log] },
    { name: 'helper-args', on: 'node.updated', when: 'changed(1)', actions: [log] },
    { name: 'bad-key', on: 'node.updated', window: { count: 2, within: '1m', by: 'event.(' }, actions: [log] },
    { name: 'multi-line', on: 'node.updated', when: 'true &&\n  event.x ==', actions: [log] },
  ]);
  assert.equal(r.rules.length, 0);
  const by = (n: string) => r.errors.find((e) => e.rule === n)!;
  assert.equal(by('syntax').path, 'when');
  assert.deepEqual(by('syntax').position, { line: 1, column: 25 });
  assert.match(by('syntax').message, /^The rule "syntax" is invalid at when \(line 1, column 25\): does not compile: Unexpected token/);
  assert.deepEqual(by('unknown-var').position, { line: 1, column: 17 });
  assert.match(by('unknown-var').message, /Unknown variable: foo/);
  assert.match(by('not-bool').message, /of type int, and a condition must be a bool/);
  assert.match(by('helper-args').message, /no matching overload for 'changed\(int\)'/);
  assert.equal(by('bad-key').path, 'window.by');
  assert.deepEqual(by('multi-line').position!.line, 2);
});

test('invalid templates are rejected with the rule, the path inside the action and the position', () => {
  const r = compileRules([
    {
      name: 'tpl',
      on: 'node.updated',
      actions: [
        { notify: { title: 'ok {{ event.type }}', message: 'line one\nhello {{ event.type' } },
        { log: { message: '{{ secrets.key }}' } },
        { webhook: { url: 'http://127.0.0.1/x', body: { a: ['{{ x | nosuchfilter }}'] } } },
        { notify: { message: '{% include "file" %}' } },
      ],
    },
  ]);
  assert.deepEqual(r.invalid, ['tpl']);
  const at = (p: string) => r.errors.find((e) => e.path === p)!;
  assert.deepEqual(at('actions[0].notify.message').position, { line: 2, column: 7 });
  assert.match(at('actions[0].notify.message').message, /does not parse: output "\{\{ event.type" not closed/);
  assert.match(at('actions[1].log.message').message, /reads "secrets", and templates may only read event, window, rule, now/);
  assert.match(at('actions[2].webhook.body.a[0]').message, /undefined filter: nosuchfilter/);
  assert.match(at('actions[3].notify.message').message, /include %\} tag reads files/);
});

test('structural mistakes are reported one by one, and a broken rule never keeps the good ones out', () => {
  const r = compileRules([
    { name: 'Bad Name', on: 'nodes.updated', window: { count: 0, within: '5 min' }, extra: 1, actions: [{ log: { message: 'x' }, notify: { message: 'y' } }, { wat: 1 }] },
    'not a rule',
    { name: 'good', on: 'node.created', actions: [log] },
    { name: 'good', on: 'node.created', actions: [log] },
    { name: 'no-actions', on: 'node.created', actions: [] },
    { name: 'cypher-template', on: '*', actions: [{ cypher: { statement: 'MATCH (n) WHERE n.id = {{ event.nodeId }} RETURN n' } }] },
    { name: 'bad-url', on: '*', actions: [{ webhook: { url: 'ftp://x' }, retry: { maxAttempts: 0, backoff: 'linear' } }] },
  ]);
  assert.deepEqual(r.rules.map((x) => x.name), ['good']);
  assert.deepEqual(r.invalid, ['#0', '#1', 'good', 'no-actions', 'cypher-template', 'bad-url']);
  const msgs = r.errors.map((e) => `${e.rule} ${e.path}: ${e.message}`);
  const has = (re: RegExp) => assert.ok(msgs.some((m) => re.test(m)), `${re} in\n${msgs.join('\n')}`);
  has(/^#0 : The rule #0 \(named "Bad Name"\) is invalid: it has an unknown key "extra"/);
  has(/^#0 name: .*must match \[a-z\]\[a-z0-9-\]\*/);
  has(/^#0 on: .*must be an event type such as "node.updated", a family such as "node.\*", or "\*"/);
  has(/^#0 window.count: .*must be >= 1/);
  has(/^#0 window.within: .*must be a duration such as '500ms'/);
  has(/^#0 actions\[0\]: .*has notify and log; an action has exactly one of/);
  has(/^#0 actions\[1\]: .*needs one action key: notify, invoke, prompt, cypher, webhook, log/);
  has(/^#1 : The rule #1 is invalid: it must be an object with name, on and actions, not string/);
  has(/^good name: .*repeats the name of rule #2/);
  has(/^no-actions actions: .*must have at least 1 item/);
  has(/^cypher-template actions\[0\].cypher.statement: .*never templated/);
  has(/^bad-url actions\[0\].webhook.url: .*http:\/\/ or https:\/\//);
  has(/^bad-url actions\[0\].retry.maxAttempts: .*must be >= 1/);
  has(/^bad-url actions\[0\].retry.backoff: .*must be one of "fixed", "exponential"/);
  for (const e of r.errors) assert.match(e.message, /^The rule .+\.$/, 'every error is one sentence naming the rule');
});

test('the helpers changed, changedTo and changedFrom compare properties with oldProperties', () => {
  const upd = ev({ properties: { status: 'cancelled', total: 5, tags: ['a'] }, oldProperties: { status: 'open', total: 5.0, tags: ['a'], gone: 1 } });
  const run = (src: string, e = upd) => {
    const c = compileCel(src, true);
    assert.ok(c.ok, src);
    return runCel(c.program, e, { event: e });
  };
  assert.deepEqual(run('changed("status")'), { ok: true, value: true });
  assert.deepEqual(run('changed("total") || changed("tags")'), { ok: true, value: false });
  assert.deepEqual(run('changed("gone")'), { ok: true, value: true });
  assert.deepEqual(run('changedTo("status", "cancelled") && changedFrom("status", "open")'), { ok: true, value: true });
  assert.deepEqual(run('changedTo("status", "open")'), { ok: true, value: false });
  assert.deepEqual(run('changedTo("total", 5)'), { ok: true, value: false });
  const created = ev({ type: 'node.created', properties: { status: 'new' } });
  assert.equal(changedKey(created, 'status'), true);
  assert.equal(changedKey(ev({ type: 'query.failed' }), 'status'), false);
  // the reference's operators, in CEL
  const e = ev({ properties: { total: 1500, status: 'shipped', email: 'a@b.c', note: '', tags: [] }, oldProperties: { total: 900 } });
  for (const src of [
    'event.properties.total > 1000 && event.properties.total >= 1500 && event.properties.total < 2000 && event.properties.total <= 1500',
    'event.properties.status == "shipped" && event.properties.status != "open"',
    'event.properties.status in ["shipped", "delivered"] && !(event.properties.status in ["open"])',
    'event.properties.email.contains("@") && event.properties.email.startsWith("a") && event.properties.email.endsWith(".c")',
    'event.properties.email.matches("^[a-z]+@[a-z]+\\\\.[a-z]+$")',
    '!has(event.properties.missing) && has(event.properties.total)',
    'size(event.properties.note) == 0 && size(event.properties.tags) == 0 && size(event.properties.status) > 0',
    'changed("total") && !changed("status") == false',
  ]) {
    assert.deepEqual(run(src, e), { ok: true, value: true }, src);
  }
  // a missing key is an error, which the engine treats as no match
  const missing = run('event.properties.nope == 1', e);
  assert.equal(missing.ok, false);
});

test('a template that is exactly one {{ path }} keeps its JSON type; longer text renders objects as JSON', () => {
  const errors: TemplateError[] = [];
  const node = compileTemplate(
    { n: '{{ window.count }}', evs: '{{window.events}}', p: '{{ event.properties }}', txt: 'count={{ window.count }} ids={{ window.events | map: "id" | join: "," }}', flag: '{{ event.properties.ok }}', lit: 42, none: '{{ event.properties.nope }}', json: 'p={{ event.properties }}', f: '{{ event.properties.total | times: 2 }}' },
    'x',
    errors,
  );
  assert.deepEqual(errors, []);
  const scope = { event: { properties: { ok: true, total: 21 } }, window: { count: 2, events: [{ id: 'a' }, { id: 'b' }] }, rule: { name: 'r', description: '', priority: 100 }, now: '2025-01-01T00:00:00.000Z' };
  assert.deepEqual(renderTemplate(node, scope), {
    n: 2,
    evs: [{ id: 'a' }, { id: 'b' }],
    p: { ok: true, total: 21 },
    txt: 'count=2 ids=a,b',
    flag: true,
    lit: 42,
    none: null,
    json: 'p={"ok":true,"total":21}',
    f: 42,
  });
});
