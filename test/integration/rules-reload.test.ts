/**
 * Reload without a restart: POST /v1/reload, `heimdall reload` and SIGHUP re-read the config and
 * the rule files. A reload that adds, changes and removes rules while events wait in the rules
 * plugin's queue keeps them all (nothing dropped), and the counters of kept rules go on; an
 * invalid config is refused with its problems and the running rules stay; changes reload cannot
 * apply are reported as needing a restart.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli, startDaemonProcess } from '../helpers/daemon-process.js';
import { waitFor } from '../helpers/in-process-daemon.js';
import { REPO_ROOT } from '../helpers/paths.js';
import { startFileDaemon, webhook, type FileDaemon } from '../helpers/rules-daemon.js';

/** gate holds the first event's firing on a webhook that answers when released; with maxInFlight 1 the plugin's queue fills behind it. */
const base = (hookUrl: string) => `rulesEngine:
  maxInFlight: 1
rulesPath: rules.d
rules:
  - name: gate
    priority: 1
    on: node.created
    when: has(event.properties.gate)
    actions:
      - webhook: { url: "${hookUrl}" }
  - name: counted
    priority: 2
    on: node.created
    actions:
      - log: { level: debug, message: "seen {{ event.properties.n }}" }
`;
const note = (name: string, priority: number, text: string, on = 'node.created') => `name: ${name}\npriority: ${priority}\non: ${on}\nactions:\n  - notify: { title: "${name}", message: "${text} {{ event.properties.n }}" }\n`;

const counters = (f: FileDaemon) => f.d.api.plugins().find((p) => p.name === 'rules')!.counters;
const messages = (f: FileDaemon) => f.d.internals.bus.since(0).filter((m) => m.kind === 'notification' && m.origin.plugin === 'rules').map((m) => m.message);
const stats = async (f: FileDaemon, name: string) => (await f.http('GET', `/v1/rules/${name}`)).body.statistics as { matched: number; fired: number };

test('a reload adds, changes and removes rules while events are queued: none is dropped and the counters go on', async () => {
  const hook = await webhook({ hold: true });
  const f = await startFileDaemon(base(hook.url), { 'change.yaml': note('to-change', 3, 'v1'), 'remove.yaml': note('to-remove', 4, 'removed') });
  try {
    await f.http('POST', '/v1/events', [{ type: 'node.created', properties: { gate: true, n: 0 } }, ...Array.from({ length: 20 }, (_, i) => ({ type: 'node.created', properties: { n: i + 1 } }))]);
    await waitFor('the gate firing to hold the plugin', () => hook.hits.length === 1);
    assert.deepEqual([counters(f).received, counters(f).queued, counters(f).delivered], [21, 21, 0], 'every event waits in the queue');

    f.write(base(hook.url), { 'change.yaml': note('to-change', 3, 'v2'), 'remove.yaml': null, 'added.yaml': note('added', 5, 'added'), 'deletes.yaml': note('deleted-watch', 6, 'deleted', 'node.deleted') });
    const r = await f.http('POST', '/v1/reload');
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.deepEqual(
      [r.body.rules.added, r.body.rules.changed, r.body.rules.removed, r.body.rules.unchanged],
      [['added', 'deleted-watch'], ['to-change'], ['to-remove'], ['gate', 'counted']],
    );
    assert.deepEqual(r.body.applied, ['rules']);
    assert.deepEqual(r.body.restartRequired, []);
    assert.match(r.body.message, /^Reloaded .*heimdall\.config\.yaml\. Rules: 2 added \(added, deleted-watch\), 1 changed \(to-change\), 1 removed \(to-remove\), 2 unchanged\.$/);
    assert.deepEqual([counters(f).queued, counters(f).droppedTotal], [21, 0], 'the reload left the queue alone');

    hook.release();
    await waitFor('every queued event to be handled', () => counters(f).delivered === 21, 20_000);
    // the new rule on a new type: the plugin's subscription was widened
    await f.http('POST', '/v1/events', { type: 'node.deleted', properties: { n: 99 } });
    await waitFor('all the notifications', () => messages(f).length === 43, 20_000);
    const m = messages(f);
    // the first event was handled before the reload, with the rules of then; the other twenty after it
    assert.deepEqual(m.filter((x) => x.startsWith('v1') || x.startsWith('removed')).sort(), ['removed 0', 'v1 0']);
    assert.equal(m.filter((x) => x.startsWith('v2')).length, 20);
    assert.equal(m.filter((x) => x.startsWith('added')).length, 20);
    assert.ok(m.includes('deleted 99'));
    assert.equal((await stats(f, 'counted')).matched, 21, 'an unchanged rule counts on');
    const changed = await stats(f, 'to-change');
    assert.deepEqual([changed.matched, changed.fired], [21, 21], 'a changed rule counts on');
    assert.equal((await stats(f, 'added')).matched, 20);
    assert.equal((await f.http('GET', '/v1/rules/to-remove')).status, 404);
    const c = counters(f);
    assert.deepEqual([c.received, c.delivered, c.droppedTotal, c.queued], [22, 22, 0, 0]);
    assert.deepEqual(f.d.api.plugins().find((p) => p.name === 'rules')!.events, ['node.created', 'node.deleted']);
  } finally {
    await f.stop();
    await hook.close();
  }
});

test('an invalid config is refused (HTTP 400, `heimdall reload` exit 2) and the running rules stay; what reload cannot apply needs a restart', async () => {
  const hook = await webhook();
  const f = await startFileDaemon(base(hook.url), { 'change.yaml': note('to-change', 3, 'v1') });
  try {
    f.write(base(hook.url), { 'bad.yaml': 'name: bad\non: node.created\nwhen: event.properties.n >\nactions:\n  - log: { message: x }\n' });
    const r = await f.http('POST', '/v1/reload', {});
    assert.equal(r.status, 400);
    assert.equal(r.body.error.code, 'HMD_ERR_CONFIG');
    const e = r.body.error.details.errors[0];
    assert.ok(e.file.endsWith('bad.yaml'));
    assert.deepEqual([e.path, e.line], ['when', 3]);
    assert.match(e.message, /^The rule "bad" is invalid at when: does not compile/);
    const cli = await runCli(['reload', '--url', f.d.url]);
    assert.equal(cli.code, 2);
    assert.match(cli.stderr, /bad\.yaml:3:\d+ when: The rule "bad" is invalid at when: does not compile.*\nThe daemon refused the reload: .*heimdall\.config\.yaml has 1 problem, and the running config stays\. Fix it \(`heimdall validate` checks\) and reload again\.\n$/);
    const names = (await f.http('GET', '/v1/rules')).body.rules.map((x: { name: string }) => x.name);
    assert.deepEqual(names, ['gate', 'counted', 'to-change'], 'the running rules stay');

    // valid again, with a change reload does not apply (the rules engine's queue) and one it does (a plugin added)
    f.write(`${base(hook.url).replace('maxInFlight: 1', 'maxInFlight: 1\n  queue: { capacity: 10 }')}plugins:\n  - path: ${JSON.stringify(join(REPO_ROOT, 'plugins/anomaly'))}\n`, { 'bad.yaml': null, 'change.yaml': note('to-change', 3, 'v2') });
    const ok = await runCli(['reload', '--url', f.d.url]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /^Reloaded .*heimdall\.config\.yaml\. Rules: 0 added, 1 changed \(to-change\), 0 removed, 2 unchanged\. Plugins: 1 added \(anomaly\), 0 removed, 0 restarted, 0 unchanged\. Not applied until a restart: rulesEngine \(The rules engine settings .*\)\.$/m);
    const json = JSON.parse((await runCli(['reload', '--url', f.d.url, '--json'])).stdout);
    assert.deepEqual(json.restartRequired.map((x: { key: string }) => x.key), ['rulesEngine'], 'reported again until the restart');
    assert.deepEqual(json.rules.unchanged, ['gate', 'counted', 'to-change']);
    assert.deepEqual(json.plugins, { added: [], removed: [], restarted: [], unchanged: ['anomaly'] });
    assert.deepEqual(json.applied, ['rules']);
    assert.equal(f.d.api.plugins().find((p) => p.name === 'anomaly')?.state, 'running');
  } finally {
    await f.stop();
    await hook.close();
  }
});

test('rules added to a daemon that started without any need a restart, which the reload says', async () => {
  const f = await startFileDaemon('plugins: []\n');
  try {
    f.write(`rules:\n  - ${note('late', 1, 'x').replace(/\n(?=.)/g, '\n    ')}`);
    const r = await f.http('POST', '/v1/reload');
    assert.equal(r.status, 200);
    assert.deepEqual(r.body.restartRequired.map((x: { key: string }) => x.key), ['rules']);
    assert.match(r.body.restartRequired[0].reason, /^The rules engine was not started, because no rules were configured when the daemon started/);
  } finally {
    await f.stop();
  }
});

test('SIGHUP reloads a daemon child process: the new rule runs, the counters go on, an invalid config is refused', async () => {
  const hook = await webhook({ hold: true });
  const rulesDir = mkdtempSync(join(tmpdir(), 'heimdall-rules-hup-'));
  writeFileSync(join(rulesDir, 'a.yaml'), note('first', 3, 'first'));
  const yaml = (extra = '') => `${base(hook.url).replace('rulesPath: rules.d', `rulesPath: ${JSON.stringify(rulesDir)}`)}${extra}sources:\n  - type: http\n`;
  const dp = await startDaemonProcess({ configYaml: yaml() });
  const get = async (path: string) => (await (await dp.fetch(path)).json()) as Record<string, any>;
  const rulesPlugin = async () => (await get('/v1/plugins')).plugins.find((p: { name: string }) => p.name === 'rules');
  try {
    const post = (events: unknown[]) => dp.fetch('/v1/events', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(events) });
    await post([{ type: 'node.created', properties: { gate: true, n: 0 } }, ...Array.from({ length: 5 }, (_, i) => ({ type: 'node.created', properties: { n: i + 1 } }))]);
    await waitFor('the gate to hold', () => hook.hits.length === 1);
    writeFileSync(join(rulesDir, 'b.yaml'), note('second', 4, 'second'));
    dp.proc.kill('SIGHUP');
    const done = await dp.waitForLog((l) => typeof l.json?.msg === 'string' && (l.json.msg as string).startsWith('Reloaded '), 15_000);
    assert.match(String(done.json!.msg), /Rules: 1 added \(second\), 0 changed, 0 removed, 3 unchanged\.$/);
    assert.equal((await rulesPlugin()).counters.queued, 6, 'the events still wait');
    hook.release();
    await waitFor('the queue to drain', async () => (await rulesPlugin()).counters.delivered === 6, 20_000);
    const first = (await get('/v1/rules/first')).statistics;
    const second = (await get('/v1/rules/second')).statistics;
    assert.equal(first.matched, 6, 'the kept rule saw every event');
    assert.equal(second.matched, 5, 'the new one every event after the reload');

    writeFileSync(join(rulesDir, 'c.yaml'), 'name: broken\non: node.created\nwhen: "(("\nactions:\n  - log: { message: x }\n');
    dp.proc.kill('SIGHUP');
    const refused = await dp.waitForLog((l) => /^The reload \(SIGHUP\) was refused/.test(String(l.json?.msg ?? '')), 15_000);
    assert.match(String(refused.json!.msg), /c\.yaml:3:\d+ when: The rule "broken" is invalid at when/);
    assert.deepEqual((await get('/v1/rules')).rules.map((r: { name: string }) => r.name), ['gate', 'counted', 'first', 'second']);
    const c = (await rulesPlugin()).counters;
    assert.deepEqual([c.received, c.delivered, c.droppedTotal], [6, 6, 0]);
    assert.equal(await dp.stop('SIGTERM'), 0);
  } finally {
    if (dp.proc.exitCode === null) await dp.stop('SIGKILL').catch(() => undefined);
    await hook.close();
    rmSync(rulesDir, { recursive: true, force: true });
  }
});
