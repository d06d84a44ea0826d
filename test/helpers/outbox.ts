/**
 * The neo4j-apoc outbox of this run's Neo4j, for tests: a Database (router) connected to it and the
 * OutboxStore of its `neo4j` database, the way the daemon and `heimdall db` reach the outbox.
 *
 *   const outbox = await openTestOutbox();   …   await outbox.close();
 *   await removeTestOutbox();                 // uninstall with purge, for before/after hooks
 */
import { pino, type Logger } from 'pino';
import { Database } from '../../daemon/db/database.js';
import { OutboxStore, type OutboxStoreOptions } from '../../daemon/sources/neo4j-apoc/outbox-store.js';
import { testNeo4j } from './neo4j.js';

export interface TestOutbox {
  db: Database;
  store: OutboxStore;
  close(): Promise<void>;
}

/** A connected Database for this run's Neo4j (default database `neo4j`) and the store of its outbox. */
export async function openTestOutbox(opts: Partial<OutboxStoreOptions> = {}, logger: Logger = pino({ level: 'silent' })): Promise<TestOutbox> {
  const t = await testNeo4j();
  const database = opts.database ?? 'neo4j';
  const db = new Database({ uri: t.uri, user: t.user, password: t.password, database, queryTimeoutMs: 30_000, connectTimeoutMs: 5000 }, logger);
  try {
    await db.connect();
  } catch (err) {
    await db.close();
    throw err;
  }
  return { db, store: new OutboxStore(db, { ...opts, database }), close: () => db.close() };
}

/** Drops the trigger and every outbox entry, counter, index and constraint of the `neo4j` database. */
export async function removeTestOutbox(): Promise<void> {
  const outbox = await openTestOutbox();
  try {
    await outbox.store.uninstall({ purge: true });
  } finally {
    await outbox.close();
  }
}
