/**
 * The neo4j-apoc source across a Neo4j restart under load: a Neo4j of its own (the run's shared one
 * must not be restarted) is stopped while a writer keeps writing; the source goes degraded, keeps
 * retrying, and after Neo4j is back every transaction that committed is delivered.
 *
 * Every wait has a deadline, and the writer loop, the source, the drivers and the Neo4j are stopped by
 * one idempotent `cleanup` that runs in the test's finally and again in `after` (which node:test also
 * runs when the test times out), so a failed assertion or a timeout never leaves the file hanging.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, it } from 'node:test';
import neo4j, { type Driver } from 'neo4j-driver';
import { pino } from 'pino';
import { Database } from '../../daemon/db/database.js';
import { Neo4jApocSource } from '../../daemon/sources/neo4j-apoc/index.js';
import type { DatabaseEvent } from '../../sdk/index.js';
import { freePort, startNeo4j, type Neo4jInstance } from '../neo4j/launcher.js';

const home = mkdtempSync(join(tmpdir(), 'heimdall-apoc-restart-'));
let instance: Neo4jInstance | undefined;
let db: Database | undefined;
let src: Neo4jApocSource | undefined;
let writer: Driver | undefined;
let writing: Promise<void> | undefined;
let stopWriting = false;

/** Resolves with `p`, or after ms whatever happened to it (a cleanup step must not hang the next). */
const bounded = (p: Promise<unknown> | undefined, ms = 30_000): Promise<unknown> =>
  Promise.race([Promise.resolve(p).catch(() => undefined), new Promise((r) => setTimeout(r, ms).unref())]);

/** Stops everything this file started, in order; safe to call twice. */
async function cleanup(): Promise<void> {
  stopWriting = true;
  await bounded(writing);
  await bounded(src?.stop());
  src = undefined;
  await bounded(writer?.close());
  writer = undefined;
  await bounded(db?.close());
  db = undefined;
  await bounded(instance?.stop(), 60_000);
  instance = undefined;
}

after(async () => {
  await cleanup();
  rmSync(home, { recursive: true, force: true });
});

/** Polls `check` every `everyMs` until it holds; fails with `what` (and `why()`) after timeoutMs. */
async function until(what: string, check: () => boolean, timeoutMs: number, why: () => string = () => '', everyMs = 20): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) assert.fail(`Timed out after ${timeoutMs} ms waiting for ${what}${why() ? `: ${why()}` : ''}.`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

it('goes degraded while Neo4j restarts under load and then delivers every committed change', { timeout: 420_000 }, async (t) => {
  try {
    const port = await freePort();
    instance = await startNeo4j({ port, home, timeoutMs: 180_000 });
    const logger = pino({ level: process.env.HEIMDALL_TEST_LOG ?? 'silent' });
    db = new Database({ uri: instance.uri, user: 'neo4j', password: '', database: 'neo4j', queryTimeoutMs: 10_000, connectTimeoutMs: 2000 }, logger);
    await db.start(250);
    const events: DatabaseEvent[] = [];
    const source = new Neo4jApocSource({ db, config: { type: 'neo4j-apoc', pollIntervalMs: 20, batchSize: 1000, backlogWarning: 10_000, ordering: 'strict', capture: 'trigger', install: true, checkIntervalMs: 5000, reinstall: true }, emit: (e) => void events.push(...e), logger });
    src = source;
    await source.start();
    const state = (): string => JSON.stringify(source.status());
    // A Neo4j that has just started may refuse the first connections (cold JVM): the source retries until it runs.
    await until('the source to run', () => source.status().state === 'running', 120_000, state);

    const w = neo4j.driver(instance.uri, neo4j.auth.basic('neo4j', ''), { connectionTimeout: 1000, connectionAcquisitionTimeout: 2000, maxTransactionRetryTime: 0 });
    writer = w;
    const committed: number[] = [];
    const attempted = new Set<number>();
    writing = (async () => {
      for (let i = 0; !stopWriting; i++) {
        attempted.add(i);
        try {
          await w.executeQuery('CREATE (:RestartTest {i: $i})', { i }, { database: 'neo4j' });
          committed.push(i);
        } catch {
          await new Promise((r) => setTimeout(r, 50)); // Neo4j is down; the outcome of this one is unknown
        }
      }
    })();

    await until('300 commits before the restart', () => committed.length >= 300, 120_000, () => `${committed.length} so far`, 10);
    await instance.stop();
    const downAt = committed.length;
    await until('the source to go degraded', () => source.status().state === 'degraded', 20_000, state);
    assert.ok(source.status().reason, 'a degraded source says why');
    instance = await startNeo4j({ port, home, timeoutMs: 180_000 });
    await until('writes to resume after the restart', () => committed.length >= downAt + 300, 120_000, () => `${committed.length - downAt} since`, 10);
    stopWriting = true;
    await writing;

    const created = (): Set<number> => new Set(events.filter((e) => e.type === 'node.created').map((e) => e.properties?.['i'] as number));
    await until('every committed change to be delivered', () => committed.every((i) => created().has(i)), 60_000, () => {
      const missing = committed.filter((i) => !created().has(i));
      return `${missing.length} committed changes were not delivered (e.g. ${missing.slice(0, 5).join(', ')}); source: ${state()}`;
    }, 50);
    // the round that delivered the last entries reports healthy when it ends: wait for it
    await until('the source to run again', () => source.status().state === 'running', 10_000, state);
    for (const i of created()) assert.ok(attempted.has(i), `no phantom change (${i})`);
    t.diagnostic(`${committed.length} committed (${attempted.size - committed.length} failed or unknown while Neo4j was down), ${created().size} delivered`);
  } finally {
    await cleanup();
  }
});
