/**
 * Rules from the config: rules: and a rulesPath folder run in the built-in rules plugin of a real
 * daemon (its own worker and queue, in status like any plugin); a broken rule is left out and
 * reported with its file and line while the others run; `heimdall validate` finds CEL and
 * template errors and exits 2; the rules routes answer 503 while the plugin is not running.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../helpers/daemon-process.js';
import { waitFor } from '../helpers/in-process-daemon.js';
import { startFileDaemon, writeConfigFiles } from '../helpers/rules-daemon.js';

const RULES = `rulesPath: rules.d
rules:
  - name: inline-big
    priority: 10
    on: node.created
    when: event.properties.total > 1000
    actions:
      - notify: { title: Big order, message: "Order {{ event.properties.id }}: {{ event.properties.total }}" }
`;
const FILES = {
  'orders.yaml': `- name: order-cancelled
  priority: 20
  on: node.updated
  match: { labels: Order }
  when: changedTo("status", "cancelled")
  actions:
    - notify: { level: warning, title: "Order {{ event.properties.id }} cancelled", message: "was {{ event.oldProperties.status }}" }
`,
  'deletes.yaml': `name: deletions
priority: 30
on: node.deleted
actions:
  - log: { message: "deleted {{ event.nodeId }}" }
`,
};

test('rules from rules: and from a rulesPath folder run in the built-in rules plugin, which is in status like any plugin', async () => {
  const f = await startFileDaemon(RULES, FILES);
  try {
    const posted = await f.http('POST', '/v1/events', [
      { type: 'node.created', nodeLabels: ['Order'], properties: { id: 'o-1', total: 1500 } },
      { type: 'node.created', nodeLabels: ['Order'], properties: { id: 'o-2', total: 15 } },
      { type: 'node.updated', nodeLabels: ['Order'], properties: { id: 'o-1', status: 'cancelled' }, oldProperties: { id: 'o-1', status: 'paid' } },
      { type: 'query.failed', error: 'no rule wants this' },
    ]);
    assert.equal(posted.body.accepted, 4);
    const notes = () => f.d.internals.bus.since(0).filter((m) => m.kind === 'notification' && m.origin.plugin === 'rules');
    await waitFor('two notifications from the rules', () => notes().length === 2);
    assert.deepEqual(notes().map((m) => [m.level, m.title, m.message]), [
      ['info', 'Big order', 'Order o-1: 1500'],
      ['warning', 'Order o-1 cancelled', 'was paid'],
    ]);

    const list = await f.http('GET', '/v1/rules');
    assert.equal(list.status, 200);
    assert.deepEqual(list.body.rules.map((r: { name: string; state: string; matched: number }) => [r.name, r.state, r.matched]), [
      ['inline-big', 'active', 1],
      ['order-cancelled', 'active', 1],
      ['deletions', 'active', 0],
    ]);
    assert.deepEqual(list.body.invalid, []);

    const status = (await f.http('GET', '/v1/status')).body;
    const p = status.plugins.find((x: { name: string }) => x.name === 'rules');
    assert.equal(p.state, 'running');
    assert.equal(p.write, true, 'cypher actions go through the remediation executor');
    assert.deepEqual(p.events, ['node.created', 'node.deleted', 'node.updated'], 'it subscribes to what its rules name');
    await waitFor('the queue to drain', () => f.d.api.plugins().find((x) => x.name === 'rules')!.counters.delivered === 3);
    const c = f.d.api.plugins().find((x) => x.name === 'rules')!.counters;
    assert.deepEqual([c.received, c.delivered, c.droppedTotal], [3, 3, 0], 'the query.failed never reached it');
    assert.deepEqual(status.rules, { configured: true, rules: 3, invalid: [], state: 'running' });

    // the pause file is under .heimdall/ beside the config
    assert.equal((await f.http('POST', '/v1/rules/deletions/pause', {})).status, 200);
    assert.deepEqual(JSON.parse(readFileSync(join(f.dir, '.heimdall/rules-state.json'), 'utf8')), { paused: ['deletions'] });
    assert.equal(existsSync(join(f.dir, '.heimdall/rules-dead-letters.jsonl')), false, 'no dead letter yet');
  } finally {
    await f.stop();
  }
});

test('a rule that does not compile is left out and reported with its file and line; the other rules run', async () => {
  const f = await startFileDaemon(RULES, { ...FILES, 'broken.yaml': 'name: broken\non: node.created\nwhen: event.properties.total >>> 1\nactions:\n  - log: { message: x }\n' });
  try {
    const list = (await f.http('GET', '/v1/rules')).body;
    assert.deepEqual(list.rules.map((r: { name: string }) => r.name), ['inline-big', 'order-cancelled', 'deletions']);
    assert.equal(list.invalid.length, 1);
    assert.equal(list.invalid[0].name, 'broken');
    assert.equal(list.invalid[0].at, `${join(f.dir, 'rules.d', 'broken.yaml')}:1:1`);
    assert.match(list.invalid[0].problems[0], /^The rule "broken" is invalid at when: does not compile: /);
    const status = (await f.http('GET', '/v1/status')).body;
    assert.equal(status.rules.invalid[0].name, 'broken');

    await f.http('POST', '/v1/events', { type: 'node.created', properties: { id: 'o-3', total: 5000 } });
    await waitFor('the good rule to fire', () => f.d.internals.bus.since(0).some((m) => m.title === 'Big order'));

    const cliList = await runCli(['rules', 'list', '--url', f.d.url]);
    assert.equal(cliList.code, 0, cliList.stderr);
    assert.match(cliList.stdout, /^RULE +STATE +PRIORITY/m);
    assert.match(cliList.stdout, /Invalid rules, left out \(the others run\); fix them and run `heimdall reload`:\n {2}broken \(.*broken\.yaml:1:1\): The rule "broken" is invalid at when/);
    const cliStatus = await runCli(['status', '--url', f.d.url]);
    assert.match(cliStatus.stdout, /^Rules: +4 configured, 1 invalid and left out: broken \(.*broken\.yaml:1:1\); `heimdall rules list` says why\.$/m);
  } finally {
    await f.stop();
  }
});

test('heimdall validate finds a CEL error in rules: and a template error in a rule file, with file:line:col and the rule name, and exits 2', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'heimdall-rules-validate-'));
  const file = writeConfigFiles(dir, `rulesPath: rules.d\nrules:\n  - name: big\n    on: node.created\n    when: event.properties.total > > 1000\n    actions:\n      - log: { message: x }\n`, {
    'tpl.yaml': 'name: tpl\non: node.updated\nactions:\n  - notify:\n      message: "{{ event.properties.id | nosuchfilter }}"\n',
  });
  const r = await runCli(['validate', '--config', file]);
  assert.equal(r.code, 2, r.stderr);
  const lines = r.stderr.trim().split('\n');
  assert.match(lines[0]!, new RegExp(`^${file.replace(/[.\\/]/g, '\\$&')}:9:36 rules\\[0\\]\\.when: The rule "big" is invalid at when: does not compile`));
  assert.match(lines[1]!, /rules\.d[\\/]tpl\.yaml:5:\d+ actions\[0\]\.notify\.message: The rule "tpl" is invalid at actions\[0\]\.notify\.message: the template does not parse: undefined filter: nosuchfilter\./);
  assert.match(lines[2]!, /has 2 problems( \(plugins are checked once the config itself is valid\))?; fix them and run `heimdall validate` again\.$/);
  const json = await runCli(['validate', '--config', file, '--json']);
  assert.equal(json.code, 2);
  const body = JSON.parse(json.stdout) as { errors: Array<{ file?: string; path: string; line: number }> };
  assert.deepEqual(body.errors.map((e) => [e.file?.endsWith('tpl.yaml') ?? false, e.path]), [[false, 'rules[0].when'], [true, 'actions[0].notify.message']]);
});

test('while the rules plugin is not running the rules routes answer 503 with what to do', async () => {
  const f = await startFileDaemon(`${RULES}rulesEngine:\n  initTimeoutMs: 1\n`, FILES);
  try {
    await waitFor('the rules plugin to be failed', () => f.d.api.plugins().find((p) => p.name === 'rules')?.state === 'failed');
    for (const [method, path] of [['GET', '/v1/rules'], ['GET', '/v1/rules/inline-big'], ['POST', '/v1/rules/inline-big/pause'], ['GET', '/v1/dead-letters'], ['POST', '/v1/dead-letters/x/retry']] as const) {
      const r = await f.http(method, path, method === 'POST' ? {} : undefined);
      assert.equal(r.status, 503, `${method} ${path}`);
      assert.equal(r.body.error.code, 'HMD_ERR_PLUGIN_UNAVAILABLE');
      assert.match(r.body.error.message, /^The rules engine \(the built-in plugin rules\) is failed \(.*init\(\).*\), so the rules cannot be reached\. Fix the cause in its log and restart the daemon\.$/);
    }
    const cli = await runCli(['rules', 'list', '--url', f.d.url]);
    assert.equal(cli.code, 1);
    assert.match(cli.stderr, /^The rules engine \(the built-in plugin rules\) is failed/);
  } finally {
    await f.stop();
  }
});
