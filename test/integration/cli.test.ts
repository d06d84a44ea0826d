/**
 * The `heimdall` CLI, in child processes, against a real daemon (in this process: the CLI is
 * what is under test): status/plugins/actions (--json and tables), emit (one event, an NDJSON
 * file, stdin), invoke, prompt, and the exit codes 0 (success), 1 (failure, unreachable daemon,
 * rejected event) and 2 (bad usage).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type CliResult, runCli } from '../helpers/daemon-process.js';
import { pluginYaml, startTestDaemon, type TestDaemon } from '../helpers/in-process-daemon.js';
import { fixturePlugin } from '../helpers/paths.js';
import { untilQueuesEmpty } from '../helpers/public-api.js';

const TOKEN = 'cli-test-token';

function ok(r: CliResult, code = 0): CliResult {
  assert.equal(r.code, code, `exit code\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
  return r;
}

describe('heimdall CLI against a running daemon', () => {
  let d: TestDaemon;
  let env: Record<string, string>;
  const cli = (...args: string[]): Promise<CliResult> => runCli(args, { env });
  const tmp = mkdtempSync(join(tmpdir(), 'heimdall-cli-'));

  before(async () => {
    d = await startTestDaemon([pluginYaml(fixturePlugin('http-actions.mjs'))], `  token: ${TOKEN}\n`);
    env = { HEIMDALL_URL: d.url, HEIMDALL_TOKEN: TOKEN };
  });
  after(async () => {
    rmSync(tmp, { recursive: true, force: true });
    // It stops cleanly after everything the CLI did to it (what `heimdall start` turns into exit 0).
    await d.stop();
    assert.equal(d.api.status().state, 'stopped');
  });

  async function seen(): Promise<number> {
    const r = ok(await cli('invoke', 'heimdall.http-actions.count', '--json'));
    return (JSON.parse(r.stdout) as { data: { events: number } }).data.events;
  }

  it('status --json prints the daemon status', async () => {
    const r = ok(await cli('status', '--json'));
    const s = JSON.parse(r.stdout) as { state: string; plugins: { name: string; state: string; counters: { received: number } }[] };
    assert.equal(s.state, 'running');
    assert.equal(s.plugins[0]?.name, 'http-actions');
    assert.equal(s.plugins[0]?.state, 'running');
  });

  it('status prints a table for people', async () => {
    const r = ok(await cli('status'));
    assert.match(r.stdout, /is running/);
    assert.match(r.stdout, /^PLUGIN\s+STATE\s+RECEIVED/m);
    assert.match(r.stdout, /^http-actions\s+running/m);
  });

  it('plugins and actions print JSON with --json and a table without', async () => {
    const p = JSON.parse(ok(await cli('plugins', '--json')).stdout) as { plugins: { name: string }[] };
    assert.deepEqual(p.plugins.map((x) => x.name), ['http-actions']);
    const a = JSON.parse(ok(await cli('actions', '--json')).stdout) as { actions: { name: string }[] };
    assert.ok(a.actions.some((x) => x.name === 'heimdall.http-actions.ok'));
    const table = ok(await cli('actions'));
    assert.match(table.stdout, /^heimdall\.http-actions\.ok\s+http-actions\s+no\s+text\s/m);
  });

  it('--url and --token options override the environment', async () => {
    const r = await runCli(['status', '--json', '--url', d.url, '--token', TOKEN], { env: { HEIMDALL_URL: 'http://127.0.0.1:9', HEIMDALL_TOKEN: 'wrong' } });
    ok(r);
  });

  it('emit sends one event (exit 0) and the plugin receives it', async () => {
    const before = await seen();
    const r = ok(await cli('emit', 'node.created', '--data', '{"nodeId":"4:c:1","nodeLabels":["Person"]}'));
    assert.match(r.stdout, /Accepted 1 of 1 event/);
    const j = JSON.parse(ok(await cli('emit', 'node.deleted', '--data', '{"id":"fixed-id"}', '--json')).stdout) as { ids: string[] };
    assert.deepEqual(j.ids, ['fixed-id']);
    // Both accepted events are routed when emit answers; once the queue is empty the plugin has handled every event it will get.
    await untilQueuesEmpty(d);
    assert.equal(await seen(), before + 2);
  });

  it('emit --file sends an NDJSON file; rejected lines are listed with their line number and exit 1', async () => {
    const file = join(tmp, 'events.ndjson');
    writeFileSync(file, `${JSON.stringify({ type: 'node.created' })}\n\nnot json\n${JSON.stringify({ type: 'node.updated' })}\n`);
    const r = await cli('emit', '--file', file);
    ok(r, 1);
    assert.match(r.stdout, /Accepted 2 of 3 events; rejected 1/);
    assert.match(r.stdout, /line 3: Line 3 is not valid JSON/);
    const good = join(tmp, 'good.ndjson');
    writeFileSync(good, Array.from({ length: 12_000 }, (_, i) => JSON.stringify({ type: 'node.created', nodeId: String(i) })).join('\n'));
    const all = ok(await cli('emit', '--file', good, '--json'));
    const answer = JSON.parse(all.stdout) as { accepted: number; ids: string[] };
    assert.equal(answer.accepted, 12_000);
    assert.equal(answer.ids.length, 12_000);
  });

  it('emit <type> --file - reads standard input and fills in the type of lines without one', async () => {
    const r = await runCli(['emit', 'node.read', '--file', '-', '--json'], { env, input: '{"nodeId":"1"}\n{"type":"node.deleted","nodeId":"2"}\n' });
    ok(r);
    assert.equal((JSON.parse(r.stdout) as { accepted: number }).accepted, 2);
  });

  it('emit exits 1 when the daemon rejects the only event', async () => {
    const r = await cli('emit', 'node.created', '--data', '{"colour":"red"}');
    ok(r, 1);
    assert.match(r.stdout, /rejected 1/);
  });

  it('emit exits 2 on bad usage: invalid --data JSON, unknown type, no type and no file', async () => {
    const bad = await cli('emit', 'node.created', '--data', '{nodeId:1}');
    ok(bad, 2);
    assert.match(bad.stderr, /--data is not valid JSON/);
    const arr = await cli('emit', 'node.created', '--data', '[1]');
    ok(arr, 2);
    assert.match(arr.stderr, /--data must be a JSON object/);
    const unknown = await cli('emit', 'node.create');
    ok(unknown, 2);
    assert.match(unknown.stderr, /Did you mean node\.created/);
    ok(await cli('emit'), 2);
  });

  it('invoke prints the result: exit 0 on success, 1 on success:false', async () => {
    const r = ok(await cli('invoke', 'heimdall.http-actions.ok', '--params', '{"text":"hello"}'));
    assert.match(r.stdout, /^OK: ok: hello/m);
    const j = JSON.parse(ok(await cli('invoke', 'heimdall.http-actions.ok', '--params', '{"text":"x"}', '--json')).stdout) as { success: boolean };
    assert.equal(j.success, true);
    const refused = await cli('invoke', 'heimdall.http-actions.refuse');
    ok(refused, 1);
    assert.match(refused.stdout, /^FAILED: Refused on purpose\./m);
  });

  it('invoke exits 1 with the daemon\'s message for an unknown action, bad params or a thrown error', async () => {
    const unknown = await cli('invoke', 'heimdall.http-actions.okk');
    ok(unknown, 1);
    assert.match(unknown.stderr, /heimdall\.http-actions\.ok/);
    const unknownJson = await cli('invoke', 'heimdall.http-actions.okk', '--json');
    ok(unknownJson, 1);
    assert.equal((JSON.parse(unknownJson.stdout) as { error: { code: string } }).error.code, 'HMD_ERR_ACTION_NOT_FOUND');
    const params = await cli('invoke', 'heimdall.http-actions.ok', '--params', '{"text":1}');
    ok(params, 1);
    assert.match(params.stderr, /invalid/);
    const boom = await cli('invoke', 'heimdall.http-actions.boom');
    ok(boom, 1);
    assert.match(boom.stderr, /planned failure/);
  });

  it('invoke exits 2 when --params is not a JSON object, naming the option', async () => {
    const r = await cli('invoke', 'heimdall.http-actions.ok', '--params', 'text=hello');
    ok(r, 2);
    assert.match(r.stderr, /--params is not valid JSON/);
  });

  it('prompt answers without a model configured and exits 1', async () => {
    const r = await cli('prompt', 'Why did the queries fail?');
    ok(r, 1);
    assert.match(r.stdout + r.stderr, /model/i);
  });

  it('exits 1 without the token, with the daemon\'s explanation', async () => {
    const r = await runCli(['status'], { env: { HEIMDALL_URL: d.url } });
    ok(r, 1);
    assert.match(r.stderr, /bearer token/);
  });

  it('exits 1 with a message saying how to start the daemon when it cannot be reached', async () => {
    // A port that was free a moment ago: nothing listens there.
    const server = createServer();
    await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
    const port = (server.address() as AddressInfo).port;
    await new Promise((res) => server.close(res));
    const r = await runCli(['status', '--url', `http://127.0.0.1:${port}`]);
    ok(r, 1);
    assert.equal(r.stdout, '');
    assert.equal(r.stderr.trim(), `Cannot reach the Heimdall daemon at http://127.0.0.1:${port}: connect ECONNREFUSED 127.0.0.1:${port}. Start it with \`heimdall start\` or pass --url.`);
  });

  it('exits 2 for commander usage errors and 0 for --help on every command', async () => {
    // Independent runs, so they run side by side.
    const commands = ['start', 'validate', 'status', 'plugins', 'actions', 'emit', 'invoke', 'prompt'];
    const [bogusOption, bogus, invoke, badLevel, none, version, ...helps] = await Promise.all([
      cli('status', '--bogus'), cli('bogus'), cli('invoke'), cli('start', '--log-level', 'loud'), runCli([]), cli('--version'),
      ...commands.map((c) => cli(c, '--help')),
    ]);
    for (const r of [bogusOption, bogus, invoke, badLevel, none]) ok(r!, 2);
    ok(version!);
    helps.forEach((r, i) => assert.match(ok(r).stdout, new RegExp(`Usage: heimdall ${commands[i]}`)));
  });
});
