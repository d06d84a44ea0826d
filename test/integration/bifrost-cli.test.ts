/**
 * The operator's terminal, in child processes, against a daemon: `heimdall tail` (lines, --json,
 * --no-follow, filters, reconnect after the daemon restarts, exit codes) and `heimdall
 * confirmations | approve | deny`; the file sink of that daemon.
 *
 * The CLI is the process under test; the daemon runs in this process, one for the whole file,
 * on a fixed port so that the last test can stop it and start its successor where the tail
 * reconnects.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { BifrostMessage } from '../../daemon/bifrost/bus.js';
import { childEnv, runCli } from '../helpers/daemon-process.js';
import { pluginYaml, startTestDaemon, waitFor, type TestDaemon } from '../helpers/in-process-daemon.js';
import { CLI, fixturePlugin } from '../helpers/paths.js';
import { bifrostStatus, postJson } from '../helpers/public-api.js';

const TOKEN = 's3cret-token';
const dir = mkdtempSync(join(tmpdir(), 'heimdall-bifrost-cli-'));
const SINK = join(dir, 'bifrost.jsonl');

/** The daemon of these tests, on `port`; both runs write to the same file sink. */
function startTheDaemon(port: number): Promise<TestDaemon> {
  return startTestDaemon(
    [pluginYaml(fixturePlugin('bifrost-notifier.mjs')), pluginYaml(fixturePlugin('bifrost-confirm.mjs'))],
    `  token: ${TOKEN}\nbifrost:\n  sinks:\n    - type: file\n      path: ${JSON.stringify(SINK)}\n`,
    { port },
  );
}

interface Tail {
  proc: ChildProcess;
  out: string[];
  err: string[];
  exit: Promise<number | null>;
  waitOut(what: string, pred: (lines: string[]) => boolean, timeoutMs?: number): Promise<void>;
  waitErr(what: string, re: RegExp, timeoutMs?: number): Promise<void>;
}

function startTail(args: string[], env: Record<string, string> = { HEIMDALL_TOKEN: TOKEN }): Tail {
  const proc = spawn(process.execPath, [CLI, 'tail', ...args], { env: childEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
  const out: string[] = [];
  const err: string[] = [];
  const split = (into: string[]) => {
    let partial = '';
    return (chunk: string) => {
      partial += chunk;
      const parts = partial.split('\n');
      partial = parts.pop()!;
      into.push(...parts);
    };
  };
  proc.stdout!.setEncoding('utf8').on('data', split(out));
  proc.stderr!.setEncoding('utf8').on('data', split(err));
  const exit = new Promise<number | null>((r) => proc.on('exit', (code) => r(code)));
  const dump = () => `stdout:\n${out.join('\n')}\nstderr:\n${err.join('\n')}`;
  return {
    proc, out, err, exit,
    waitOut: (what, pred, timeoutMs = 10_000) => waitFor(what, () => pred(out), timeoutMs).catch((e: Error) => {
      throw new Error(`${e.message}\n${dump()}`);
    }),
    waitErr: (what, re, timeoutMs = 10_000) => waitFor(what, () => err.some((l) => re.test(l)), timeoutMs).catch((e: Error) => {
      throw new Error(`${e.message}\n${dump()}`);
    }),
  };
}

async function stopTail(t: Tail): Promise<number | null> {
  if (t.proc.exitCode === null) t.proc.kill('SIGINT');
  return t.exit;
}

async function invoke(d: TestDaemon, action: string, params: Record<string, unknown>): Promise<{ data?: Record<string, unknown> }> {
  const res = await postJson(d, `/v1/actions/heimdall.${action}/invoke`, { params });
  assert.equal(res.status, 200, await res.clone().text());
  return (await res.json()) as { data?: Record<string, unknown> };
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** Starts `heimdall tail` and waits until the daemon has its stream (and no earlier tail's). */
async function connectedTail(d: TestDaemon, args: string[]): Promise<Tail> {
  await waitFor('earlier streams to be gone', async () => (await bifrostStatus(d)).stream.clients === 0);
  const t = startTail(args);
  await waitFor('the tail to connect', async () => (await bifrostStatus(d)).stream.clients === 1).catch(async (err: Error) => {
    await stopTail(t);
    throw err;
  });
  return t;
}

let port: number;
let d: TestDaemon;
before(async () => {
  port = await freePort();
  d = await startTheDaemon(port);
});
after(async () => {
  await d?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('heimdall tail', () => {
  it('prints one line per message with time, level, origin, title and message, and data with -v', async () => {
    const t = await connectedTail(d, ['--url', d.url, '--no-color', '-n', '0', '-v', '--plugin', 'bifrost-notifier']);
    try {
      await invoke(d, 'bifrost-notifier.notify', { count: 3, level: 'warning', title: 'Disk' });
      await t.waitOut('three lines', (lines) => lines.filter((l) => /Disk: notification \d/.test(l)).length === 3);
      const lines = t.out.filter((l) => /Disk: notification/.test(l));
      lines.forEach((l, i) => assert.match(l, new RegExp(`^\\d\\d:\\d\\d:\\d\\d\\.\\d{3} WARNING bifrost-notifier\\s+Disk: notification ${i}$`)));
      assert.ok(t.out.some((l) => /^\s+"seq": 0,?$/.test(l)), '-v prints the data');
      assert.ok(!t.out.join('\n').includes('\x1b['), '--no-color (and a pipe) means no escapes');
    } finally {
      assert.equal(await stopTail(t), 0, 'Ctrl-C exits 0');
    }
  });

  it('prints JSON lines with --json and filters by level', async () => {
    const base = (await bifrostStatus(d)).lastId;
    const t = await connectedTail(d, ['--url', d.url, '--json', '-n', '0', '--level', 'error']);
    try {
      await invoke(d, 'bifrost-notifier.notify', { count: 2, level: 'info' });
      await invoke(d, 'bifrost-notifier.notify', { count: 2, level: 'error' });
      // A marker after them: the stream is in id order, so once the marker is printed every
      // message before it that passes --level error has been printed too, and nothing else will be.
      await invoke(d, 'bifrost-notifier.notify', { count: 1, level: 'error', title: 'Marker' });
      await t.waitOut('the marker line', (lines) => lines.some((l) => (JSON.parse(l) as BifrostMessage).title === 'Marker'));
      const msgs = t.out.map((l) => JSON.parse(l) as BifrostMessage);
      assert.deepEqual(msgs.map((m) => [m.level, m.id]), [['error', base + 3], ['error', base + 4], ['error', base + 5]]);
    } finally {
      await stopTail(t);
    }
  });

  it('--no-follow prints the buffer (with --since) and exits 0; bad usage exits 2; an unreachable daemon exits 1', async () => {
    const all = await runCli(['tail', '--url', d.url, '--no-follow', '--since', '0', '--json'], { env: { HEIMDALL_TOKEN: TOKEN } });
    assert.equal(all.code, 0, all.stderr);
    const ids = all.stdout.trim().split('\n').map((l) => (JSON.parse(l) as BifrostMessage).id);
    assert.ok(ids.length >= 7);
    assert.deepEqual(ids, Array.from({ length: ids.length }, (_, i) => i + 1));
    const recent = await runCli(['tail', '--url', d.url, '--no-follow', '-n', '2', '--no-color'], { env: { HEIMDALL_TOKEN: TOKEN } });
    assert.equal(recent.code, 0);
    assert.equal(recent.stdout.trim().split('\n').length, 2);

    const usage = await runCli(['tail', '--url', d.url, '--level', 'loud']);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /level "loud" is not a Bifrost level/);
    const noAuth = await runCli(['tail', '--url', d.url, '-n', '0']);
    assert.equal(noAuth.code, 1);
    assert.match(noAuth.stderr, /needs a bearer token/);
    const port = await freePort();
    const gone = await runCli(['tail', '--url', `http://127.0.0.1:${port}`]);
    assert.equal(gone.code, 1);
    assert.match(gone.stderr, new RegExp(`Cannot reach the Heimdall daemon at http://127\\.0\\.0\\.1:${port}: ECONNREFUSED\\. Start it with`));
  });

  it('the daemon wrote every message to its file sink', async () => {
    const { lastId } = await bifrostStatus(d);
    assert.ok(lastId >= 8);
    await waitFor('the file sink', () => readFileSync(SINK, 'utf8').split('\n').filter(Boolean).length >= lastId);
    const lines = readFileSync(SINK, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as BifrostMessage);
    assert.deepEqual(lines.map((m) => m.id), Array.from({ length: lastId }, (_, i) => i + 1));
  });
});

describe('heimdall confirmations, approve, deny', () => {
  const cli = (...args: string[]) => runCli([...args, '--url', d.url], { env: { HEIMDALL_TOKEN: TOKEN } });

  it('lists pending requests, approves and denies them, and exits 1 on a second answer or an unknown id', async () => {
    const empty = await cli('confirmations');
    assert.equal(empty.code, 0);
    assert.match(empty.stdout, /No confirmation requests are waiting for an answer\./);

    const first = invoke(d, 'bifrost-confirm.ask', { action: 'drop index idx_a', details: { index: 'idx_a' } });
    const second = invoke(d, 'bifrost-confirm.ask', { action: 'delete orphans' });
    let ids: Record<string, string> = {};
    await waitFor('two pending requests', async () => {
      const r = await cli('confirmations', '--json');
      const body = JSON.parse(r.stdout) as { confirmations: { id: string; action: string }[] };
      ids = Object.fromEntries(body.confirmations.map((c) => [c.action, c.id]));
      return body.confirmations.length === 2;
    });
    const table = await cli('confirmations');
    assert.equal(table.code, 0);
    assert.match(table.stdout, /^ID\s+REQUESTED BY\s+ACTION\s+EXPIRES IN\s+DETAILS/);
    assert.match(table.stdout, new RegExp(`${ids['drop index idx_a']}\\s+bifrost-confirm\\s+drop index idx_a\\s+\\d+m`));

    const ok = await cli('approve', ids['drop index idx_a']!, '--reason', 'planned');
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, new RegExp(`^Approved ${ids['drop index idx_a']}: "drop index idx_a" requested by bifrost-confirm \\(reason: planned\\)\\.`));
    assert.deepEqual((await first).data, { approved: true });

    const no = await cli('deny', ids['delete orphans']!);
    assert.equal(no.code, 0);
    assert.deepEqual((await second).data, { approved: false });

    const twice = await cli('approve', ids['delete orphans']!);
    assert.equal(twice.code, 1);
    assert.match(twice.stderr, /cannot be approved: it was already denied at/);
    const unknown = await cli('deny', 'abcdef12');
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /There is no confirmation request with id abcdef12/);
    const bad = await cli('approve', 'not an id!');
    assert.equal(bad.code, 2);
  });
});

describe('heimdall tail across a daemon restart (the last test: it stops the daemon and starts its successor)', () => {
  it('reconnects with backoff, prints a visible gap line for the restart, and goes on with the new messages', async () => {
    const t = await connectedTail(d, ['--url', d.url, '--no-color', '-n', '0', '--plugin', 'bifrost-notifier']);
    try {
      await invoke(d, 'bifrost-notifier.notify', { count: 2, text: 'before' });
      await t.waitOut('the first messages', (l) => l.filter((x) => /before \d$/.test(x)).length === 2);
      await d.stop();
      await t.waitErr('the shutdown notice', /The daemon is stopping/);
      await t.waitErr('the lost connection', /Lost the connection to http:\/\/127\.0\.0\.1:\d+.*reconnecting with backoff and resume after message \d+\./);
      // Instead of sleeping: the tail says when a reconnect attempt fails, and is still running after it.
      await t.waitErr('a failed reconnect', /Still cannot reach http:\/\/127\.0\.0\.1:\d+/);
      assert.equal(t.proc.exitCode, null, 'tail keeps trying while the daemon is down');
      d = await startTheDaemon(port);
      // More than one attempt: it went on trying after the failed one.
      await t.waitErr('the reconnect', /Reconnected to http:\/\/127\.0\.0\.1:\d+ after ([2-9]|\d{2,}) attempts\./, 15_000);
      await invoke(d, 'bifrost-notifier.notify', { count: 2, text: 'after' });
      await t.waitOut('the new messages', (l) => l.filter((x) => /after \d$/.test(x)).length === 2);
      const gap = t.out.findIndex((l) => /^-- GAP: The daemon restarted after message \d+ of its previous run/.test(l));
      assert.ok(gap >= 0, `a gap line:\n${t.out.join('\n')}`);
      assert.ok(gap > t.out.findIndex((l) => /before 1$/.test(l)) && gap < t.out.findIndex((l) => /after 0$/.test(l)), 'the gap line sits between the runs');
      assert.equal(t.proc.exitCode, null);
    } finally {
      assert.equal(await stopTail(t), 0);
    }
  });
});
