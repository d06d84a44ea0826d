/** rules:, rulesPath: and rulesEngine: in the config loader: rule files, positions of problems, names, the lenient mode of start. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig, redactConfig } from '../../config/loader.js';
import { rulesPluginEntry } from '../../daemon/rules/plugin-entry.js';

/** A config file (and rule files under rules.d/) in a fresh folder; returns the config's path. */
function write(config: string, files: Record<string, string> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'heimdall-rules-config-'));
  mkdirSync(join(dir, 'rules.d'));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, 'rules.d', name), text);
  const file = join(dir, 'heimdall.config.yaml');
  writeFileSync(file, config);
  return file;
}

function problems(file: string): string[] {
  try {
    loadConfig(file, {});
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    return err.format().split('\n');
  }
  assert.fail('the config was accepted');
}

const RULE = (name: string, extra = '') => `- name: ${name}\n  on: node.created\n${extra}  actions:\n    - log: { message: "x" }\n`;

test('rules come from rules: first, then the rulesPath files in name order, each file one rule or a list; ${VAR} works in rule files', () => {
  const file = write(`rules:\n${RULE('inline').replace(/^(?=.)/gm, '  ')}rulesPath: rules.d\n`, {
    'b.yaml': RULE('b-one') + RULE('b-two'),
    'a.yml': 'name: a-single\non: query.*\nactions:\n  - webhook: { url: "${HOOK_URL}" }\n',
    'empty.yaml': '',
    '.hidden.yaml': RULE('hidden'),
    'notes.txt': 'not a rule',
  });
  const cfg = loadConfig(file, { HOOK_URL: 'http://127.0.0.1:9/hook' });
  const set = cfg.ruleSet!;
  assert.deepEqual(set.rules.map((r) => (r as { name: string }).name), ['inline', 'a-single', 'b-one', 'b-two']);
  assert.equal(((set.rules[1] as { actions: Array<{ webhook: { url: string } }> }).actions[0]!.webhook.url), 'http://127.0.0.1:9/hook');
  assert.deepEqual(set.origins.map((o) => o.replace(/^.*[\\/]/, '')), ['heimdall.config.yaml:2:5', 'a.yml:1:1', 'b.yaml:1:3', 'b.yaml:5:3']);
  assert.deepEqual(set.files.map((f) => f.replace(/^.*[\\/]/, '')), ['a.yml', 'b.yaml', 'empty.yaml']);
  assert.deepEqual(set.problems, []);
  // the rules engine's settings, defaults filled in
  assert.equal(cfg.rulesEngine.queue.capacity, 1024);
  assert.equal(cfg.rulesEngine.deadLetters.path, '.heimdall/rules-dead-letters.jsonl');
  assert.equal(cfg.rulesEngine.maxInFlight, 256);
});

test('a CEL error and a template error are config errors at the file, line and column, naming the rule', () => {
  const file = write(
    ['rulesPath: rules.d', 'rules:', '  - name: big-order', '    on: node.created', '    when: event.properties.total >>> 3', '    actions:', '      - log: { message: "x" }', ''].join('\n'),
    { 'orders.yaml': ['- name: cancelled', '  on: node.updated', '  actions:', '    - notify:', '        message: "Order {{ event.properties.id | nofilter }}"', ''].join('\n') },
  );
  const lines = problems(file);
  assert.equal(lines.length, 2, lines.join('\n'));
  assert.match(lines[0]!, /heimdall\.config\.yaml:5:35 rules\[0\]\.when: The rule "big-order" is invalid at when: does not compile: .*\(Write a CEL expression/);
  assert.match(lines[1]!, /rules\.d[\\/]orders\.yaml:5:\d+ \[0\]\.actions\[0\]\.notify\.message: The rule "cancelled" is invalid at actions\[0\]\.notify\.message: the template does not parse: undefined filter: nofilter\./);
});

test('a rule name used twice, in the config and in a file, is an error at the second; a file that is not a rule is an error', () => {
  const file = write(`rulesPath: rules.d\nrules:\n${RULE('twice').replace(/^(?=.)/gm, '  ')}`, { 'x.yaml': RULE('twice'), 'y.yaml': '42\n' });
  const lines = problems(file);
  assert.equal(lines.length, 2, lines.join('\n'));
  assert.match(lines[0]!, /x\.yaml:1:3 \[0\]\.name: The rule name "twice" is already used by the rule at .*heimdall\.config\.yaml:3:5; rule names must be unique/);
  assert.match(lines[1]!, /y\.yaml:1:1 A rule file holds one rule/);
});

test('a rulesPath that does not exist is an error at its line; a plugins entry named rules clashes with the built-in one', () => {
  const file = write(`server:\n  port: 0\nrulesPath: nowhere\nplugins:\n  - path: plugins/rules\n`);
  const lines = problems(file);
  assert.match(lines[0]!, /heimdall\.config\.yaml:3:1 rulesPath: rulesPath is .*nowhere, which does not exist\. \(Create the folder/);
  assert.match(lines[1]!, /heimdall\.config\.yaml:5:5 plugins\[0\]\.path: plugins\[0\] is a plugin named rules/);
});

test("with invalidRules: 'keep' (how start loads) broken rules are kept and listed, and the config loads", () => {
  const file = write(`rules:\n${RULE('good').replace(/^(?=.)/gm, '  ')}${RULE('bad', '  when: "nope("\n').replace(/^(?=.)/gm, '  ')}  - on: node.created\n    actions: []\n`);
  assert.throws(() => loadConfig(file, {}), ConfigError);
  const set = loadConfig(file, {}, { invalidRules: 'keep' }).ruleSet!;
  assert.equal(set.rules.length, 3, 'broken rules still go to the engine, which reports them by name');
  assert.deepEqual(set.invalid.map((i) => [i.name, i.at.replace(/^.*[\\/]/, ''), i.problems.length]), [
    ['bad', 'heimdall.config.yaml:6:5', 1],
    ['rules[2]', 'heimdall.config.yaml:11:5', 2],
  ]);
  assert.match(set.invalid[1]!.problems.join(' '), /The rule at rules\[2\] is invalid: it needs the key "name"\./);
});

test('redactConfig hides credential-like webhook headers of rules', () => {
  const file = write(`rules:\n  - name: hook\n    on: node.created\n    actions:\n      - webhook: { url: "http://127.0.0.1:9/", headers: { Authorization: "Bearer s3cret", x-trace: "1" } }\n`);
  const shown = JSON.stringify(redactConfig(loadConfig(file, {})));
  assert.doesNotMatch(shown, /s3cret/);
  assert.match(shown, /"x-trace":"1"/);
});

test('rulesEngine.limits are the rules plugin\'s own output limits; without them it has the plugins\' defaults', () => {
  const withLimits = loadConfig(write(`rules:\n${RULE('r').replace(/^(?=.)/gm, '  ')}rulesEngine:\n  limits:\n    notificationsPerSecond: 50\n    notificationsBurst: 500\n`), {});
  assert.deepEqual(rulesPluginEntry(withLimits)!.entry.limits, { notificationsPerSecond: 50, notificationsBurst: 500 });
  const without = loadConfig(write(`rules:\n${RULE('r').replace(/^(?=.)/gm, '  ')}`), {});
  assert.equal(rulesPluginEntry(without)!.entry.limits, undefined, 'limits.plugins apply, as for a plugin without plugins[].limits');
});
