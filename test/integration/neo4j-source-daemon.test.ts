/**
 * At-least-once through the real daemon: `heimdall start` runs as a child process with the neo4j-apoc
 * source and a fixture plugin that appends every event id to a file; the daemon is killed with SIGKILL
 * while 10,000 changes are being written, started again, and the union of both runs' ids must cover
 * every change, with duplicates only as exact repeats (same id, same content). The plugin keeps the
 * default queue capacity (1024), smaller than a batch, so the source's back-pressure is exercised too.
 *
 * Every wait has a deadline, and `after` (which node:test also runs when the test times out) stops the
 * writers and the milestone loop and kills a daemon still running, so a failed assertion or a timeout never
 * leaves the file hanging on a child process.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import type { Driver } from 'neo4j-driver';
import { startDaemonProcess, type DaemonProcess } from '../helpers/daemon-process.js';
import { openTestDriver, testNeo4j } from '../helpers/neo4j.js';
import { removeTestOutbox } from '../helpers/outbox.js';
import { fixturePlugin } from '../helpers/paths.js';

const CHANGES = 10_000;
const WRITERS = 4;
const tmp = mkdtempSync(join(tmpdir(), 'heimdall-apoc-daemon-'));
let driver: Driver;
/** The daemon running now, if any (the test replaces it after the kill). */
let daemon: DaemonProcess | undefined;
/** Set by `after`: the writers and the milestone loop stop at their next step. */
let aborted = false;
/** The loop that kills and restarts the daemon during the writes (after waits for it before it kills what is left). */
let milestones: Promise<void> | undefined;

before(async () => {
  driver = await openTestDriver();
  await removeTestOutbox();
  await driver.executeQuery('MATCH (n) DETACH DELETE n');
});

after(async () => {
  aborted = true;
  await Promise.race([milestones?.catch(() => undefined), new Promise((r) => setTimeout(r, 70_000).unref())]);
  await daemon?.stop('SIGKILL', 10_000).catch(() => undefined);
  daemon = undefined;
  await removeTestOutbox().catch(() => undefined);
  await driver.executeQuery('MATCH (n) DETACH DELETE n').catch(() => undefined);
  await driver?.close();
  rmSync(tmp, { recursive: true, force: true });
});

interface Line {
  id: string;
  type: string;
  nodeId: string;
}

function readLines(file: string): Line[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const [id, type, nodeId] = l.split(' ') as [string, string, string];
      return { id, type, nodeId };
    });
}

it('delivers every one of 10,000 changes after a kill -9 of the daemon during the writes, duplicates only with the same ids', { timeout: 240_000 }, async (t0) => {
  const t = await testNeo4j();
  const file = join(tmp, 'ids.log');
  const yaml = [
    'database:',
    `  uri: ${JSON.stringify(t.uri)}`,
    `  user: ${JSON.stringify(t.user)}`,
    `  password: ${JSON.stringify(t.password)}`,
    'sources:',
    '  - type: neo4j-apoc',
    '    pollIntervalMs: 20',
    '    batchSize: 500',
    'plugins:',
    `  - path: ${JSON.stringify(fixturePlugin('neo4j-id-log.mjs'))}`,
    '    config:',
    `      file: ${JSON.stringify(file)}`,
    '',
  ].join('\n');

  daemon = await startDaemonProcess({ configYaml: yaml, timeoutMs: 60_000 });
  const status = (await (await daemon.fetch('/v1/status')).json()) as { sources: Array<{ name: string; state: string }> };
  assert.equal(status.sources.find((s) => s.name === 'neo4j-apoc')?.state, 'running', JSON.stringify(status.sources));

  // Writers: one node per transaction, CHANGES in all; remember each committed node's element id.
  const written: string[] = [];
  let next = 0;
  let killedAt = -1;
  let restartedAt = -1;
  let linesAtKill = 0;
  /** Waits until `written` reaches n; gives up (throws) when the writers are done or aborted first. */
  const reach = async (n: number): Promise<void> => {
    while (written.length < n) {
      if (aborted || writersDone) throw new Error(`the writers stopped at ${written.length} commits, before ${n}`);
      await new Promise((r) => setTimeout(r, 5));
    }
  };
  let writersDone = false;
  milestones = (async () => {
    await reach(CHANGES * 0.25);
    killedAt = written.length;
    await daemon!.stop('SIGKILL');
    linesAtKill = readLines(file).length;
    daemon = undefined;
    await reach(CHANGES * 0.5);
    restartedAt = written.length;
    if (aborted) return;
    daemon = await startDaemonProcess({ configYaml: yaml, timeoutMs: 60_000 });
  })();
  const writers = Promise.all(
    Array.from({ length: WRITERS }, async () => {
      const session = driver.session({ database: 'neo4j' });
      try {
        while (next < CHANGES && !aborted) {
          const i = next++;
          const id = await session.executeWrite(async (tx) => (await tx.run('CREATE (n:KillTest {i: $i}) RETURN elementId(n) AS id', { i })).records[0]!.get('id') as string);
          written.push(id);
        }
      } finally {
        await session.close();
      }
    }),
  ).finally(() => (writersDone = true));
  await Promise.all([writers, milestones]);
  assert.ok(killedAt > 0 && killedAt < CHANGES && restartedAt > killedAt, `the kill (${killedAt}) and restart (${restartedAt}) happened during the writes`);

  const expected = new Set(written);
  const deadline = Date.now() + 120_000;
  let lines: Line[] = [];
  for (;;) {
    lines = readLines(file);
    const created = new Set(lines.filter((l) => l.type === 'node.created').map((l) => l.nodeId));
    if ([...expected].every((id) => created.has(id))) break;
    if (Date.now() > deadline) {
      const missing = [...expected].filter((id) => !created.has(id));
      assert.fail(`${missing.length} of ${CHANGES} changes were never delivered (e.g. ${missing.slice(0, 5).join(', ')}).`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  await daemon!.stop('SIGTERM');
  daemon = undefined;

  const byId = new Map<string, Line>();
  let duplicates = 0;
  for (const l of lines) {
    const seen = byId.get(l.id);
    if (seen) {
      duplicates++;
      assert.deepEqual(l, seen, `a redelivered event has the same id and content (${l.id})`);
    } else byId.set(l.id, l);
  }
  const createdEvents = [...byId.values()].filter((l) => l.type === 'node.created');
  const commits = [...byId.values()].filter((l) => l.type === 'transaction.commit');
  assert.equal(createdEvents.length, CHANGES, 'one node.created per change, no phantom events');
  assert.equal(commits.length, CHANGES, 'one transaction.commit per transaction');
  assert.deepEqual(new Set(createdEvents.map((l) => l.nodeId)), expected);
  // Duplicates can only come from batches that were emitted but not yet deleted at the kill:
  // at most maxBatchesInFlight (4) × batchSize (500) entries of 2 events each.
  assert.ok(duplicates <= 4 * 500 * 2, `${duplicates} duplicate lines`);
  t0.diagnostic(`killed after ${killedAt} commits with ${linesAtKill} lines delivered, restarted after ${restartedAt}; ${lines.length} lines, ${duplicates} duplicates`);
  assert.ok(linesAtKill > 0, 'the first run delivered events before it was killed');
});
