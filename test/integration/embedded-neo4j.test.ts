/**
 * `npm start` for real: the committed heimdall.config.yaml (pointed at a temporary data folder and
 * free ports) makes the daemon start its embedded Neo4j, install the capture, and hand a write made
 * through neo4j-driver to a plugin as node.created; SIGTERM stops the JVM with the daemon, and so
 * does a daemon that is killed; without Java the daemon says so in one line and HTTP ingest works.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, describe, it } from 'node:test';
import neo4j from 'neo4j-driver';
import { parseDocument } from 'yaml';
import { freePort } from '../../neo4j/launcher.js';
import { startDaemonProcess, type DaemonProcess } from '../helpers/daemon-process.js';
import { waitFor } from '../helpers/in-process-daemon.js';
import { fixturePlugin, REPO_ROOT } from '../helpers/paths.js';

const tmp = mkdtempSync(join(tmpdir(), 'heimdall-embedded-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
const START_TIMEOUT_MS = 240_000;

/** The committed config, with its relative paths made absolute, a free Bolt port, the data under tmp, and a recording plugin. */
function committedConfig(boltPort: number): string {
  const doc = parseDocument(readFileSync(join(REPO_ROOT, 'heimdall.config.yaml'), 'utf8'));
  assert.equal(doc.getIn(['database', 'embedded']), true, 'the committed config asks for the embedded Neo4j');
  doc.setIn(['server', 'port'], 0);
  doc.setIn(['database', 'uri'], `bolt://127.0.0.1:${boltPort}`);
  doc.setIn(['database', 'dataDir'], join(tmp, 'neo4j'));
  doc.setIn(['audit', 'path'], join(tmp, 'audit.jsonl'));
  const plugins = doc.get('plugins') as { items: Array<{ get(k: string): unknown; set(k: string, v: unknown): void }> };
  for (const p of plugins.items) p.set('path', resolve(REPO_ROOT, String(p.get('path'))));
  doc.addIn(['plugins'], doc.createNode({ path: fixturePlugin('recorder.mjs') }));
  return doc.toString();
}

function jvmPid(d: DaemonProcess): number {
  const line = d.lines.find((l) => /^Neo4j is ready on .* \(pid \d+\)\.$/.test(String(l.json?.['msg'])));
  assert.ok(line, 'the launcher logged the JVM pid');
  return Number(/\(pid (\d+)\)/.exec(String(line.json!['msg']))![1]);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('the embedded Neo4j of the committed config', () => {
  it('starts, captures a write made through neo4j-driver for a plugin, says how to write a first node, and stops with the daemon', async () => {
    const port = await freePort();
    const d = await startDaemonProcess({ configYaml: committedConfig(port), timeoutMs: START_TIMEOUT_MS });
    const pid = jvmPid(d);
    let stopped = false;
    try {
      const ready = d.lines.find((l) => /^The embedded Neo4j is ready on/.test(String(l.json?.['msg'])));
      assert.ok(ready);
      assert.match(String(ready.json!['msg']), new RegExp(`bolt://127\\.0\\.0\\.1:${port}.*Write a first node: npx heimdall invoke heimdall\\.remediate\\.cypher`));
      // the source installs the capture at start-up, and in the background when that takes long
      await d.waitForLog((l) => /captures the changes of the database neo4j/.test(String(l.json?.['msg'])), 120_000);

      const driver = neo4j.driver(`bolt://127.0.0.1:${port}`, neo4j.auth.basic('neo4j', ''));
      try {
        await driver.executeQuery("CREATE (:Person {name: 'Ada'})");
      } finally {
        await driver.close();
      }
      await waitFor('the recorder plugin to receive node.created', async () => {
        const r = await d.fetch('/v1/actions/heimdall.recorder.seen/invoke', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
        const events = ((await r.json()) as { data: { events: Array<{ id: string; type: string }> } }).data.events;
        // ids <database>:<epoch>:<seq>:<i> are the neo4j-apoc source's
        return events.some((e) => e.type === 'node.created' && /^neo4j:\d+:\d+(\.\d+)?:\d+$/.test(e.id));
      }, 30_000);

      assert.equal(await d.stop('SIGTERM', 60_000), 0);
      stopped = true;
      assert.equal(alive(pid), false, 'no JVM is left after SIGTERM');
      assert.ok(d.lines.some((l) => /^Neo4j \(pid \d+\) stopped \(exit code 0\)/.test(String(l.json?.['msg']))));
    } finally {
      if (!stopped) await d.stop('SIGKILL');
    }
  });

  it('a daemon that is killed leaves no JVM behind: the launcher stops when its stdin closes', async () => {
    const port = await freePort();
    const d = await startDaemonProcess({ configYaml: committedConfig(port), timeoutMs: START_TIMEOUT_MS });
    const pid = jvmPid(d);
    assert.equal(alive(pid), true);
    await d.stop('SIGKILL');
    await waitFor('the JVM to exit after its parent was killed', () => !alive(pid), 60_000);
  });

  it('without Java it says in one line what is missing, and starts with HTTP ingest only', async () => {
    const port = await freePort();
    const d = await startDaemonProcess({ configYaml: committedConfig(port), env: { PATH: join(tmp, 'empty-bin') }, timeoutMs: 60_000 });
    try {
      const lines = d.lines.filter((l) => /embedded Neo4j/.test(String(l.json?.['msg'])));
      assert.equal(lines.length, 1, JSON.stringify(lines.map((l) => l.json?.['msg'])));
      assert.match(String(lines[0]!.json!['msg']), /was not started: Java 17 \(or newer\) is not installed or not on PATH; install it .*HTTP ingest only/);
      const status = (await (await d.fetch('/v1/status')).json()) as { database: { configured: boolean }; sources: Array<{ name: string }> };
      assert.equal(status.database.configured, false);
      assert.deepEqual(status.sources.map((s) => s.name), ['http', 'system']);
      const r = await d.fetch('/v1/events', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ type: 'node.created', nodeLabels: ['Person'] }) });
      assert.equal(r.status, 200);
      assert.equal(((await r.json()) as { accepted: number }).accepted, 1);
    } finally {
      await d.stop();
    }
  });
});
