import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import neo4j, { type Driver } from 'neo4j-driver';
import { dropAllTriggers, openTestDriver, testNeo4j, waitForTrigger, wipeDatabase } from '../helpers/neo4j.js';
import { pinnedVersions, startNeo4j } from '../neo4j/launcher.js';

let shared: Driver | undefined;
async function driver(): Promise<Driver> {
  shared ??= await openTestDriver();
  return shared;
}
after(async () => {
  await shared?.close();
});

test('the test run has a Neo4j that stores and reads a node over Bolt', async () => {
  const d = await driver();
  await wipeDatabase(d);
  const marker = `launcher-${Date.now()}`;
  await d.executeQuery('CREATE (:LauncherSmoke {marker: $marker, n: 42})', { marker });
  const { records } = await d.executeQuery('MATCH (s:LauncherSmoke {marker: $marker}) RETURN s.n AS n', { marker });
  assert.equal(records.length, 1);
  assert.equal(neo4j.integer.toNumber(records[0]!.get('n')), 42);
});

test('Neo4j and APOC are the versions pinned in test/neo4j/pom.xml', async () => {
  const d = await driver();
  const pinned = pinnedVersions();
  const apoc = await d.executeQuery('RETURN apoc.version() AS v');
  assert.equal(apoc.records[0]!.get('v'), pinned.apoc);
  const kernel = await d.executeQuery("CALL dbms.components() YIELD name, versions, edition WHERE name = 'Neo4j Kernel' RETURN versions[0] AS v, edition");
  assert.equal(kernel.records[0]!.get('v'), pinned.neo4j);
  assert.equal(kernel.records[0]!.get('edition'), 'community');
});

test('a before-phase APOC trigger installed through the system database fires inside the writing transaction', async () => {
  const d = await driver();
  await dropAllTriggers(d);
  await wipeDatabase(d);
  const statement =
    'UNWIND $createdNodes AS n WITH n WHERE n:LauncherProbe ' +
    'CREATE (:LauncherMarker {of: elementId(n), name: n.name, origin: $metaData.origin, trigger: $trigger})';
  const installed = await d.executeQuery(
    "CALL apoc.trigger.install('neo4j', 'launcher_marker', $statement, {phase: 'before'}) YIELD name, installed RETURN name, installed",
    { statement },
    { database: 'system' },
  );
  assert.equal(installed.records[0]!.get('installed'), true);
  await waitForTrigger(d, 'launcher_marker');

  const session = d.session({ database: 'neo4j' });
  let probeId: string;
  try {
    probeId = await session.executeWrite(
      async (tx) => (await tx.run("CREATE (p:LauncherProbe {name: 'probe'}) RETURN elementId(p) AS id")).records[0]!.get('id') as string,
      { metadata: { origin: 'launcher-test' } },
    );
  } finally {
    await session.close();
  }
  const markers = await d.executeQuery('MATCH (m:LauncherMarker) RETURN m.of AS of, m.name AS name, m.origin AS origin, m.trigger AS trigger');
  assert.deepEqual(
    markers.records.map((r) => r.toObject()),
    [{ of: probeId, name: 'probe', origin: 'launcher-test', trigger: 'launcher_marker' }],
  );

  // A before-phase trigger runs in the writer's transaction: when it fails, the write is rolled back.
  await d.executeQuery("CALL apoc.trigger.install('neo4j', 'launcher_fail', 'UNWIND $createdNodes AS n WITH n WHERE n:LauncherBoom RETURN 1/0', {phase: 'before'})", {}, { database: 'system' });
  await waitForTrigger(d, 'launcher_fail');
  await assert.rejects(d.executeQuery('CREATE (:LauncherBoom)'), /Error executing triggers/);
  const boom = await d.executeQuery('MATCH (b:LauncherBoom) RETURN count(b) AS c');
  assert.equal(neo4j.integer.toNumber(boom.records[0]!.get('c')), 0);

  const dropped = await d.executeQuery("CALL apoc.trigger.drop('neo4j', 'launcher_marker') YIELD name RETURN name", {}, { database: 'system' });
  assert.equal(dropped.records[0]!.get('name'), 'launcher_marker');
  await dropAllTriggers(d);
  await d.executeQuery("CREATE (:LauncherProbe {name: 'after-drop'})");
  const after = await d.executeQuery('MATCH (m:LauncherMarker) RETURN count(m) AS c');
  assert.equal(neo4j.integer.toNumber(after.records[0]!.get('c')), 1, 'the dropped trigger must not fire any more');
  await wipeDatabase(d);
});

test('a second Neo4j started by the launcher runs with the settings and the collector it was given and stops cleanly on SIGTERM', async () => {
  await testNeo4j(); // Fails like the other Neo4j tests when this run has no Neo4j (e.g. HEIMDALL_TEST_NO_NEO4J=1).
  // one setting of its own, one in place of a line the launcher writes itself (Neo4j refuses a setting declared twice)
  const instance = await startNeo4j({ auth: false, initialHeap: '128m', gc: 'g1', settings: { 'dbms.cypher.min_replan_interval': '1h', 'db.tx_log.rotation.size': '2M' } });
  try {
    const d = neo4j.driver(instance.uri, neo4j.auth.basic('neo4j', ''));
    try {
      const { records } = await d.executeQuery('RETURN 1 AS one');
      assert.equal(neo4j.integer.toNumber(records[0]!.get('one')), 1);
      const config = await d.executeQuery('CALL dbms.listConfig() YIELD name, value', {}, { database: 'system' });
      const value = (name: string) => config.records.find((r) => r.get('name') === name)?.get('value') as string | undefined;
      assert.equal(value('dbms.cypher.min_replan_interval'), '1h');
      assert.equal(value('db.tx_log.rotation.size'), '2.00MiB');
      // and with the collector it was asked for
      const gcs = await d.executeQuery("CALL dbms.queryJmx('java.lang:type=GarbageCollector,name=*') YIELD name RETURN name");
      assert.ok(gcs.records.some((r) => String(r.get('name')).includes('G1')), `the JVM runs G1 (collectors: ${gcs.records.map((r) => r.get('name')).join(', ')})`);
    } finally {
      await d.close();
    }
    const log = instance.logFile;
    await instance.stop();
    assert.deepEqual(await instance.exited, { code: 0, signal: null });
    assert.equal(existsSync(instance.home), false, 'stop() removes the temporary home it created');
    assert.equal(existsSync(log), false);
  } catch (err) {
    instance.kill();
    if (existsSync(instance.logFile)) console.error(readFileSync(instance.logFile, 'utf8').split('\n').slice(-30).join('\n'));
    throw err;
  }
});

test('the launcher refuses a setting, heap size or collector it cannot pass to Neo4j, naming it, before it starts anything', async () => {
  await assert.rejects(startNeo4j({ settings: { 'Bad Name': 'x' } }), /The Neo4j setting "Bad Name" cannot be passed/);
  await assert.rejects(startNeo4j({ settings: { 'db.logs.query.enabled': 'OFF\nserver.bolt.enabled=false' } }), /"db.logs.query.enabled" cannot be passed: .* a value is one line/);
  await assert.rejects(startNeo4j({ initialHeap: '1 GB' }), /The Neo4j initialHeap "1 GB" is not a JVM heap size: give a whole number with k, m or g/);
  await assert.rejects(startNeo4j({ gc: 'zgc' as 'g1' }), /The Neo4j gc "zgc" is not one the launcher knows: use serial or g1/);
});
