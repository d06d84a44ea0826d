/**
 * Small things seen while using Heimdall as a new user would, each fixed and pinned here:
 * `heimdall plugins` shows `(none)` for `events: []`; `heimdall status | true` exits quietly; a
 * start with a healthy database logs no "schema could not be read" and publishes no "Database is
 * back"; `heimdall audit verify` accepts a log that does not exist yet; POST /v1/prompt takes
 * `async`; `prompt --async` without a model prints the id of a record that says why.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { runCli, startDaemonProcess } from '../helpers/daemon-process.js';
import { testNeo4j } from '../helpers/neo4j.js';
import { CLI } from '../helpers/paths.js';

const tmp = mkdtempSync(join(tmpdir(), 'heimdall-mends-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

function file(name: string, text: string): string {
  const p = join(tmp, name);
  writeFileSync(p, text);
  return p;
}

describe('mends', () => {
  it('heimdall plugins shows (none) for a plugin that subscribes to nothing, * for one that takes everything', async () => {
    const deaf = file('deaf.mjs', "export default { name: 'deaf', version: '1.0.0', events: [] };\n");
    const all = file('all.mjs', "export default { name: 'all', version: '1.0.0' };\n");
    const d = await startDaemonProcess({ configYaml: `plugins:\n  - path: ${JSON.stringify(deaf)}\n  - path: ${JSON.stringify(all)}\n` });
    try {
      const r = await runCli(['plugins', '--url', d.url]);
      assert.equal(r.code, 0, r.stderr);
      const row = (name: string) => r.stdout.split('\n').find((l) => l.startsWith(`${name} `)) ?? '';
      assert.match(row('deaf'), /\s\(none\)\s/);
      assert.match(row('all'), /\s\*\s/);
    } finally {
      await d.stop();
    }
  });

  it('heimdall status into a pipe that is already closed exits 0 without a stack trace', async () => {
    const d = await startDaemonProcess({ configYaml: 'plugins: []\n' });
    try {
      const errFile = join(tmp, 'epipe.err');
      // `true` exits without reading, so the CLI's write meets a closed pipe (EPIPE)
      const code = await new Promise<string>((res) => {
        const sh = spawn('bash', ['-c', `${JSON.stringify(process.execPath)} ${JSON.stringify(CLI)} status --url ${d.url} 2>${JSON.stringify(errFile)} | true; echo "\${PIPESTATUS[0]}"`]);
        let out = '';
        sh.stdout.on('data', (c: Buffer) => (out += c.toString()));
        sh.on('close', () => res(out.trim()));
      });
      const { readFileSync } = await import('node:fs');
      const stderr = readFileSync(errFile, 'utf8');
      assert.equal(stderr, '', 'nothing on stderr');
      assert.equal(code, '0');
    } finally {
      await d.stop();
    }
  });

  it('a start with a healthy database logs no "schema could not be read" and publishes no "Database is back"', async () => {
    const n = await testNeo4j();
    const d = await startDaemonProcess({
      configYaml: `database:\n  uri: ${n.uri}\n  user: ${n.user}\n  password: ${JSON.stringify(n.password)}\nplugins: []\n`,
    });
    try {
      // refresh: true waits for the schema read the start-up began (and reads once more)
      const r = await d.fetch('/v1/actions/heimdall.db.schema/invoke', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ params: { refresh: true } }) });
      const schema = (await r.json()) as { success: boolean; message: string };
      assert.equal(schema.success, true, schema.message);
      const notes = (await (await d.fetch('/v1/bifrost/notifications?limit=100')).json()) as { messages: Array<{ title?: string }> };
      assert.deepEqual(notes.messages.filter((m) => /Database is (back|down)/.test(m.title ?? '')), []);
      assert.ok(!d.lines.some((l) => /schema could not be read/.test(String(l.json?.['msg']))), 'no schema warning at start-up');
    } finally {
      await d.stop();
    }
  });

  it('heimdall audit verify on a fresh install: an absent log is a valid, empty chain', async () => {
    const path = join(tmp, 'never-written', 'audit.jsonl');
    const r = await runCli(['audit', 'verify', '--file', path]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /does not exist yet, because nothing has been audited; an absent log is a valid, empty hash chain/);
    const j = await runCli(['audit', 'verify', '--file', path, '--json']);
    assert.equal(j.code, 0);
    assert.deepEqual(JSON.parse(j.stdout), { file: path, ok: true, entries: 0, absent: true });
  });

  it('POST /v1/prompt takes async, and prompt --async without a model prints the id of a record that says why', async () => {
    const d = await startDaemonProcess({ configYaml: 'plugins: []\n' });
    try {
      const res = await d.fetch('/v1/prompt', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ prompt: 'Hello?', async: true }) });
      assert.equal(res.status, 202);
      const body = (await res.json()) as { invocationId: string; status: string; url: string };
      assert.equal(body.status, 'rejected');
      assert.equal(body.url, `/v1/invocations/${body.invocationId}`);
      const rec = (await (await d.fetch(body.url)).json()) as { rejectedBecause: string; result: { message: string; data: { code: string } } };
      assert.equal(rec.rejectedBecause, 'no_model');
      assert.equal(rec.result.data.code, 'HMD_ERR_NO_MODEL');
      const bad = await d.fetch('/v1/prompt', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ prompt: 'Hello?', async: 'yes' }) });
      assert.equal(bad.status, 400);

      const cli = await runCli(['prompt', 'Summarise the day.', '--async', '--url', d.url]);
      assert.equal(cli.code, 1);
      const id = /invocation ([0-9a-f-]{36})/.exec(cli.stdout)?.[1];
      assert.ok(id, cli.stdout);
      assert.match(cli.stderr, new RegExp(`The prompt was refused; see \`heimdall invocations ${id}\``));
      const shown = await runCli(['invocations', id, '--url', d.url]);
      assert.match(shown.stdout, /rejected \(no_model\)/);
      assert.match(shown.stdout, /No language model is configured/i);
    } finally {
      await d.stop();
    }
  });
});
