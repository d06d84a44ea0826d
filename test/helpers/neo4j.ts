/**
 * Access to the real Neo4j that test/run-tests.ts starts once per test run.
 *
 * Tests that need Neo4j call testNeo4j() (or openTestDriver()); when the run has no Neo4j these throw, so
 * such tests FAIL with the reason instead of being skipped.
 */
import neo4j, { type Driver } from 'neo4j-driver';
import { TRIGGER_NAME } from '../../daemon/sources/neo4j-apoc/outbox-trigger.js';
import { INTERNAL_KEY_FIELD, KEY_PARAM } from '../../daemon/db/own-state.js';

export interface TestNeo4j {
  uri: string;
  user: string;
  password: string;
}

/** Connection details of this run's Neo4j, from HEIMDALL_TEST_NEO4J_URI, _USER and _PASSWORD. */
export async function testNeo4j(): Promise<TestNeo4j> {
  const uri = process.env.HEIMDALL_TEST_NEO4J_URI;
  const user = process.env.HEIMDALL_TEST_NEO4J_USER;
  const password = process.env.HEIMDALL_TEST_NEO4J_PASSWORD;
  if (!uri || user === undefined || password === undefined) {
    const reason =
      process.env.HEIMDALL_TEST_NEO4J_ERROR ??
      'HEIMDALL_TEST_NEO4J_URI is not set; run the tests with `npm test` (node dist/test/run-tests.js), which starts Neo4j, or set HEIMDALL_TEST_NEO4J_URI, _USER and _PASSWORD yourself';
    throw new Error(`Neo4j is not available for this test run: ${reason}`);
  }
  return { uri, user, password };
}

/** A driver connected to this run's Neo4j (connectivity verified). Close it in an after/finally. */
export async function openTestDriver(): Promise<Driver> {
  const { uri, user, password } = await testNeo4j();
  const driver = neo4j.driver(uri, neo4j.auth.basic(user, password));
  try {
    await driver.verifyConnectivity();
  } catch (err) {
    await driver.close();
    throw new Error(`Neo4j is not reachable at ${uri} as ${user}: ${(err as Error).message}`);
  }
  return driver;
}

/**
 * Deletes every node and relationship in the database (default neo4j), Heimdall's own nodes too: while an outbox
 * trigger is loaded the wipe carries its internal key (read from the trigger's parameters), as the daemon's own
 * writes do, since the trigger refuses any other transaction that deletes them.
 */
export async function wipeDatabase(driver: Driver, database = 'neo4j'): Promise<void> {
  let key: unknown;
  try {
    const { records } = await driver.executeQuery('CALL apoc.trigger.list() YIELD name, params WHERE name = $name RETURN params', { name: TRIGGER_NAME }, { database });
    key = (records[0]?.get('params') as Record<string, unknown> | null | undefined)?.[KEY_PARAM];
  } catch {
    key = undefined; // no APOC triggers here, so no guard either
  }
  const metadata = typeof key === 'string' ? { [INTERNAL_KEY_FIELD]: key } : undefined;
  await driver.executeQuery('MATCH (n) DETACH DELETE n', {}, { database, ...(metadata ? { transactionConfig: { metadata } } : {}) });
}

/** Names of the APOC triggers that the trigger handler of `database` currently has loaded. */
export async function loadedTriggers(driver: Driver, database = 'neo4j'): Promise<string[]> {
  const { records } = await driver.executeQuery('CALL apoc.trigger.list() YIELD name RETURN name', {}, { database });
  return records.map((r) => r.get('name') as string);
}

/**
 * Waits until the trigger handler of `database` has (present = true) or no longer has (present = false) a trigger
 * loaded. apoc.trigger.install/drop write to the system database; each database picks the change up on its
 * next refresh (apoc.trigger.refresh, 100 ms in the test Neo4j), and apoc.trigger.list() shows what is loaded.
 */
export async function waitForTrigger(driver: Driver, name: string, present = true, database = 'neo4j', timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const names = await loadedTriggers(driver, database);
    if (names.includes(name) === present) return;
    if (Date.now() > deadline) {
      throw new Error(`APOC trigger "${name}" was still ${present ? 'not loaded' : 'loaded'} in database ${database} after ${timeoutMs} ms.`);
    }
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Drops every APOC trigger of `database` and waits until none is loaded. */
export async function dropAllTriggers(driver: Driver, database = 'neo4j'): Promise<void> {
  await driver.executeQuery('CALL apoc.trigger.dropAll($db)', { db: database }, { database: 'system' });
  const deadline = Date.now() + 10_000;
  while ((await loadedTriggers(driver, database)).length > 0) {
    if (Date.now() > deadline) throw new Error(`APOC triggers of database ${database} were still loaded 10 s after apoc.trigger.dropAll.`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
