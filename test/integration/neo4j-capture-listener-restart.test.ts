/**
 * The listener of Heimdall's Neo4j extension across a Neo4j restart, on a Neo4j of its own (the run's shared one
 * cannot restart): the settings heimdall.capture.install wrote are kept in the data directory, so after a restart
 * with no daemon running every committed change is still written to the outbox, with the internal key still
 * recognised; a settings file that is not valid leaves the listener off, the database starts anyway, and Neo4j's
 * log says why and how to fix it.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, it } from 'node:test';
import neo4j, { type Driver } from 'neo4j-driver';
import { freePort, startNeo4j, type Neo4jInstance } from '../neo4j/launcher.js';

const home = mkdtempSync(join(tmpdir(), 'heimdall-listener-restart-'));
const KEY = 'restart-test-internal-key-0123456789';
let instance: Neo4jInstance | undefined;
let driver: Driver | undefined;
const lines: string[] = [];

async function start(): Promise<Driver> {
  instance = await startNeo4j({ port: await freePort(), home, timeoutMs: 180_000, onOutput: (l) => void lines.push(l) });
  driver = neo4j.driver(instance.uri, neo4j.auth.basic('neo4j', ''));
  return driver;
}

async function stop(): Promise<void> {
  await driver?.close();
  driver = undefined;
  await instance?.stop();
  instance = undefined;
}

after(async () => {
  await stop().catch(() => undefined);
  rmSync(home, { recursive: true, force: true });
});

const q = (d: Driver, cypher: string, metadata?: Record<string, unknown>) =>
  d.executeQuery(cypher, {}, { database: 'neo4j', ...(metadata ? { transactionConfig: { metadata } } : {}) });
const entries = async (d: Driver): Promise<string[]> =>
  (await q(d, 'MATCH (o:HeimdallOutbox) RETURN o.changes AS c ORDER BY o.seq')).records.map((r) => r.get('c') as string);

it('keeps capturing after a restart with no daemon, and starts with the listener off when its settings are not valid', { timeout: 600_000 }, async () => {
  let d = await start();
  await q(d, 'CREATE CONSTRAINT heimdall_outbox_counter IF NOT EXISTS FOR (c:HeimdallOutboxSeq) REQUIRE c.name IS UNIQUE');
  await d.executeQuery("CALL heimdall.capture.install('strict', $key)", { key: KEY }, { database: 'neo4j' });
  await q(d, "CREATE (:HeimdallOutboxSeq {name: 'outbox', value: 0, epoch: 1})", { heimdallKey: KEY });
  await q(d, "CREATE (:Restart {k: 'before'})");
  assert.equal((await entries(d)).length, 1);
  const settings = join(home, 'data', 'heimdall-capture', 'neo4j.properties');
  assert.ok(existsSync(settings), `the settings are kept in ${settings}`);
  assert.match(readFileSync(settings, 'utf8'), /^ordering=strict$/m);
  await stop();

  d = await start();
  const st = (await q(d, 'CALL heimdall.capture.status()')).records[0]!.toObject();
  assert.equal(st['installed'], true);
  assert.equal(st['ordering'], 'strict');
  await q(d, "CREATE (:Restart {k: 'after'})");
  const after = await entries(d);
  assert.equal(after.length, 2, 'the write after the restart was captured with no daemon running');
  assert.match(after[1]!, /"k":"after"/);
  const seqs = (await q(d, 'MATCH (o:HeimdallOutbox) RETURN o.seq AS s ORDER BY s')).records.map((r) => Number(r.get('s')));
  assert.deepEqual(seqs, [1, 2], 'the strict sequence goes on');
  await assert.rejects(q(d, 'MATCH (o:HeimdallOutbox) DELETE o'), /Heimdall refuses this transaction/);
  await q(d, 'MATCH (o:HeimdallOutbox) DELETE o', { heimdallKey: KEY }); // the key is still the one installed
  assert.equal((await entries(d)).length, 0);
  await stop();

  writeFileSync(settings, 'ordering=sideways\nkey=short\n');
  d = await start();
  const off = (await q(d, 'CALL heimdall.capture.status()')).records[0]!.toObject();
  assert.equal(off['running'], true, 'the database started');
  assert.equal(off['installed'], false, 'a settings file that is not valid leaves the listener off');
  assert.ok(
    lines.some((l) => l.includes(`Heimdall's outbox listener settings ${settings} are not valid`) && l.includes('until heimdall db install')),
    `Neo4j's output says why and how to fix it:\n${lines.filter((l) => /Heimdall/.test(l)).join('\n')}`,
  );
  await q(d, "CREATE (:Restart {k: 'while-off'})");
  assert.equal((await entries(d)).length, 0, 'nothing is captured while it is off');
});
