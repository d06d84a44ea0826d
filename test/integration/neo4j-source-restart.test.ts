/**
 * The neo4j-apoc source across a Neo4j restart under load: a Neo4j of its own (the run's shared one
 * must not be restarted) is stopped while a writer keeps writing; the source goes degraded, keeps
 * retrying, and after Neo4j is back every transaction that committed is delivered.
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
after(async () => {
  await instance?.stop();
  rmSync(home, { recursive: true, force: true });
});

it('goes degraded while Neo4j restarts under load and then delivers every committed change', { timeout: 300_000 }, async (t) => {
  const port = await freePort();
  instance = await startNeo4j({ port, home, timeoutMs: 180_000 });
  const logger = pino({ level: process.env.HEIMDALL_TEST_LOG ?? 'silent' });
  const db = new Database({ uri: instance.uri, user: 'neo4j', password: '', database: 'neo4j', queryTimeoutMs: 10_000, connectTimeoutMs: 2000 }, logger);
  await db.start(250);
  const events: DatabaseEvent[] = [];
  const src = new Neo4jApocSource({ db, config: { type: 'neo4j-apoc', pollIntervalMs: 20, batchSize: 1000, backlogWarning: 10_000, ordering: 'strict', install: true, checkIntervalMs: 5000, reinstall: true }, emit: (e) => void events.push(...e), logger });
  await src.start();
  assert.equal(src.status().state, 'running', src.status().reason);

  const writer: Driver = neo4j.driver(instance.uri, neo4j.auth.basic('neo4j', ''), { connectionTimeout: 1000, connectionAcquisitionTimeout: 2000, maxTransactionRetryTime: 0 });
  const committed: number[] = [];
  const attempted = new Set<number>();
  let stopWriting = false;
  const writing = (async () => {
    for (let i = 0; !stopWriting; i++) {
      attempted.add(i);
      try {
        await writer.executeQuery('CREATE (:RestartTest {i: $i})', { i }, { database: 'neo4j' });
        committed.push(i);
      } catch {
        await new Promise((r) => setTimeout(r, 50)); // Neo4j is down; the outcome of this one is unknown
      }
    }
  })();
  try {
    while (committed.length < 300) await new Promise((r) => setTimeout(r, 10));
    await instance.stop();
    const downAt = committed.length;
    const degradedBy = Date.now() + 20_000;
    while (src.status().state !== 'degraded') {
      if (Date.now() > degradedBy) assert.fail(`the source did not go degraded: ${JSON.stringify(src.status())}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.ok(src.status().reason, 'a degraded source says why');
    instance = await startNeo4j({ port, home, timeoutMs: 180_000 });
    const backBy = Date.now() + 60_000;
    while (committed.length < downAt + 300) {
      if (Date.now() > backBy) assert.fail('writes did not resume after the restart');
      await new Promise((r) => setTimeout(r, 10));
    }
    stopWriting = true;
    await writing;
    const deliveredBy = Date.now() + 60_000;
    const created = (): Set<number> => new Set(events.filter((e) => e.type === 'node.created').map((e) => e.properties?.['i'] as number));
    while (!committed.every((i) => created().has(i))) {
      if (Date.now() > deliveredBy) {
        const missing = committed.filter((i) => !created().has(i));
        assert.fail(`${missing.length} committed changes were not delivered (e.g. ${missing.slice(0, 5).join(', ')}); source: ${JSON.stringify(src.status())}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    // the round that delivered the last entries reports healthy when it ends: wait for it
    const runningBy = Date.now() + 10_000;
    while (src.status().state !== 'running' && Date.now() < runningBy) await new Promise((r) => setTimeout(r, 20));
    assert.equal(src.status().state, 'running');
    for (const i of created()) assert.ok(attempted.has(i), `no phantom change (${i})`);
    t.diagnostic(`${committed.length} committed (${attempted.size - committed.length} failed or unknown while Neo4j was down), ${created().size} delivered`);
  } finally {
    stopWriting = true;
    await writing;
    await src.stop();
    await writer.close();
    await db.close();
  }
});
