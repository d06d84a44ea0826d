/**
 * A fixture for the tests that drive the neo4j-apoc source directly against the run's real Neo4j: a
 * driver for the test's own writes, a started Database (the source's router), the OutboxStore, an
 * emit that collects, a logger that keeps its lines, and the helpers those tests share. `driver`,
 * `db` and `store` are live bindings, set by openSourceFixture() (call it in a before hook).
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import neo4j, { type Driver } from 'neo4j-driver';
import { pino, type Logger } from 'pino';
import type { Neo4jApocSourceConfig } from '../../config/types.js';
import { Database } from '../../daemon/db/database.js';
import { GUARDED_LABELS, Neo4jApocSource, OutboxStore, type Neo4jApocSourceOptions } from '../../daemon/sources/neo4j-apoc/index.js';
import type { DatabaseEvent } from '../../sdk/index.js';
import { openTestDriver, testNeo4j } from './neo4j.js';

/** Collects emitted events; `failNext` makes the next emit throw after recording (a crash before the delete). */
export class Collector {
  events: DatabaseEvent[] = [];
  failNext = 0;
  emit = (evs: DatabaseEvent[]): void => {
    this.events.push(...evs);
    if (this.failNext > 0) {
      this.failNext--;
      throw new Error('simulated failure after emit');
    }
  };
  async waitFor(what: string, check: (evs: DatabaseEvent[]) => boolean, timeoutMs = 15_000): Promise<void> {
    const end = Date.now() + timeoutMs;
    while (!check(this.events)) {
      if (Date.now() > end) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}; got ${this.events.length} events:\n${this.events.map((e) => `${e.id} ${e.type}`).join('\n')}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }
  commits(): number {
    return this.events.filter((e) => e.type === 'transaction.commit').length;
  }
}

/** A logger whose lines are kept for assertions. */
export function memoryLogger(): { logger: Logger; lines: Array<{ level: number; msg: string }> } {
  const lines: Array<{ level: number; msg: string }> = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString('utf8').split('\n').filter(Boolean)) lines.push(JSON.parse(l) as { level: number; msg: string });
      cb();
    },
  });
  return { logger: pino({ level: 'info' }, stream), lines };
}

export const sourceConfig = (over: Partial<Neo4jApocSourceConfig> = {}): Neo4jApocSourceConfig => ({
  type: 'neo4j-apoc',
  pollIntervalMs: 20,
  batchSize: 1000,
  backlogWarning: 10_000,
  ordering: 'strict',
  capture: 'trigger',
  install: true,
  checkIntervalMs: 60_000, // the watchdog stays out of the way unless a test drives it (timer option)
  reinstall: true,
  ...over,
});

export let driver: Driver;
export let db: Database;
export let store: OutboxStore;
export const mem = memoryLogger();

export async function count(cypher: string): Promise<number> {
  const { records } = await driver.executeQuery(cypher);
  return neo4j.integer.toNumber(records[0]!.get(0) as neo4j.Integer);
}

/** Waits until the outbox is empty (everything emitted and deleted). */
export async function drained(timeoutMs = 15_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while ((await count('MATCH (o:HeimdallOutbox) RETURN count(o)')) > 0) {
    if (Date.now() > end) throw new Error(`The outbox was not drained within ${timeoutMs} ms.`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Deletes test data (not Heimdall's own nodes, which the trigger protects). */
export async function clean(): Promise<void> {
  await driver.executeQuery(`MATCH (n) WHERE NOT any(l IN labels(n) WHERE l IN ${JSON.stringify(GUARDED_LABELS)}) DETACH DELETE n`);
}

/** Runs `cypher` as one of the daemon's internal writes (with the install's key, so the trigger lets it through and captures nothing). */
export async function internalWrite(cypher: string, params: Record<string, unknown> = {}): Promise<void> {
  await driver.executeQuery(cypher, params, { database: 'neo4j', transactionConfig: { metadata: await store.internalMetadata() } });
}

/** Deletes test data and every outbox entry and dead letter (as the daemon's acknowledgements do, so nothing is captured). */
export async function cleanAll(): Promise<void> {
  await clean();
  await internalWrite('MATCH (o) WHERE o:HeimdallOutbox OR o:HeimdallOutboxFailed DETACH DELETE o');
}

export async function startSource(
  c: Collector,
  over: Partial<Neo4jApocSourceConfig> = {},
  logger: Logger = mem.logger,
  keepOutbox = false,
  more: Partial<Neo4jApocSourceOptions> = {},
): Promise<Neo4jApocSource> {
  if (!keepOutbox) await cleanAll();
  const src = new Neo4jApocSource({ db, config: sourceConfig(over), emit: c.emit, logger, ...more });
  await src.start();
  assert.equal(src.status().state, 'running', `the source should be running: ${src.status().reason ?? ''}`);
  return src;
}

/**
 * Writes a marker transaction and waits until its events arrive. Delivery is in commit order, so everything
 * committed before the marker has been delivered by then, and the source has read the outbox at least once more.
 */
let markers = 0;
export async function marker(c: Collector): Promise<void> {
  const n = c.commits();
  const k = `marker-${++markers}`;
  await write('CREATE (:Test {k: $k})', { k });
  await c.waitFor(`the ${k} transaction`, () => c.events.some((e) => e.properties?.['k'] === k));
  assert.equal(c.commits(), n + 1, 'nothing arrived between the last commit and the marker');
}

export async function write(cypher: string, params: Record<string, unknown> = {}, metadata?: Record<string, unknown>): Promise<string[]> {
  const { records } = await driver.executeQuery(cypher, params, { database: 'neo4j', ...(metadata ? { transactionConfig: { metadata } } : {}) });
  return records.map((r) => String(r.get(0)));
}

/** Opens the driver and the Database, and removes any outbox and test data left behind. */
export async function openSourceFixture(): Promise<void> {
  driver = await openTestDriver();
  const t = await testNeo4j();
  db = new Database({ uri: t.uri, user: t.user, password: t.password, database: 'neo4j', queryTimeoutMs: 30_000, connectTimeoutMs: 5000 }, mem.logger);
  await db.start();
  store = new OutboxStore(db, { database: 'neo4j' });
  await store.uninstall({ purge: true });
  await driver.executeQuery('MATCH (n) DETACH DELETE n'); // no trigger now, so Heimdall's nodes (audit mirror, dead letters) go too
}

/** Removes the outbox and the test data, and closes the Database and the driver. */
export async function closeSourceFixture(): Promise<void> {
  await store.uninstall({ purge: true });
  await driver.executeQuery('MATCH (n) DETACH DELETE n'); // no trigger now, so Heimdall's nodes (audit mirror, dead letters) go too
  await db?.close();
  await driver?.close();
}
