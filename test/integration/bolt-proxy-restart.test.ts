/**
 * Neo4j restarted under open connections, on a Neo4j of this test's own (started twice on the same
 * folder and port): the proxy closes every client connection as the server does, ends the open
 * transaction as rolled back, logs one warning for the whole outage, keeps listening, and relays
 * again once the server is back.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import neo4j, { type Driver } from 'neo4j-driver';
import { freePort, startNeo4j, type Neo4jInstance } from '../neo4j/launcher.js';
import { ofType, startTestProxy, type TestProxy } from '../helpers/bolt-proxy.js';
import { RawBoltClient, msg, S } from '../helpers/bolt-wire.js';

const PASSWORD = 'restart-test-pw';

describe('bolt-proxy: Neo4j restarted under open connections', () => {
  let home: string;
  let port: number;
  let db: Neo4jInstance | undefined;
  let proxy: TestProxy;
  let driver: Driver;

  before(async () => {
    home = mkdtempSync(join(tmpdir(), 'heimdall-bolt-restart-'));
    port = await freePort();
    db = await startNeo4j({ auth: true, password: PASSWORD, home, port });
    proxy = await startTestProxy({ upstream: db.uri });
    driver = neo4j.driver(`bolt://${proxy.address}`, neo4j.auth.basic('neo4j', PASSWORD), { maxTransactionRetryTime: 120_000, logging: { level: 'error', logger: () => {} } });
  });

  after(async () => {
    await driver?.close();
    await proxy?.stop();
    await db?.stop();
    if (home) rmSync(home, { recursive: true, force: true });
  });

  it('closes client connections as the server goes, logs once, keeps listening and relays again after the restart', async () => {
    await driver.executeQuery('CREATE (:BeforeRestart)', {}, { database: 'neo4j' });

    // An idle raw connection, authenticated, and a session with an open transaction.
    const raw = await RawBoltClient.connect(proxy.address);
    assert.equal((await raw.handshake([5, 8, 8], [4, 4])).toString('hex'), '00000805');
    raw.send(msg(S.HELLO, { user_agent: 'raw/1', bolt_agent: { product: 'raw/1' } }), msg(S.LOGON, { scheme: 'basic', principal: 'neo4j', credentials: PASSWORD }));
    assert.equal((await raw.next()).signature, S.SUCCESS);
    assert.equal((await raw.next()).signature, S.SUCCESS);
    const session = driver.session({ database: 'neo4j' });
    const tx = await session.beginTransaction();
    await tx.run('CREATE (:InFlight)');
    await proxy.quiet();
    const beforeStop = proxy.events.length;
    assert.ok(proxy.source.status().details.connections.open >= 2);

    await db!.stop();
    db = undefined;
    await proxy.waitNoConnections(30_000);
    assert.ok(raw.closed, 'the idle raw connection was closed');
    await assert.rejects(tx.commit());
    await session.close().catch(() => {});
    await proxy.quiet();
    const rb = ofType(proxy.events.slice(beforeStop), 'transaction.rollback');
    assert.equal(rb.length, 1);
    assert.equal((rb[0]!.metadata!.bolt as Record<string, unknown>).reason, 'connection closed');

    // While it is down, new connections are closed at once and the proxy says it is degraded.
    const s2 = driver.session({ database: 'neo4j' });
    await assert.rejects(s2.run('RETURN 1'));
    await s2.close();
    await proxy.waitNoConnections();
    const down = proxy.source.status();
    assert.equal(down.state, 'degraded');
    assert.equal(down.details.upstreamReachable, false);
    assert.ok(down.details.upstreamFailures >= 1);

    db = await startNeo4j({ auth: true, password: PASSWORD, home, port });
    const r = await driver.executeQuery('MATCH (n:BeforeRestart) RETURN count(n) AS c', {}, { database: 'neo4j' });
    assert.equal(r.records[0]!.get('c').toNumber(), 1);
    const { records } = await driver.executeQuery('MATCH (n:InFlight) RETURN count(n) AS c', {}, { database: 'neo4j' });
    assert.equal(records[0]!.get('c').toNumber(), 0, 'the open transaction did not commit');
    await proxy.quiet();
    assert.equal(proxy.source.status().state, 'running');
    assert.ok(ofType(proxy.events, 'query.executed', 'MATCH (n:BeforeRestart) RETURN count(n) AS c').length === 1);
    const warnings = proxy.warnings();
    assert.equal(warnings.length, 1, `one warning for the outage, got:\n${warnings.join('\n')}`);
    assert.match(warnings[0]!, /keeps listening/);
    assert.ok(proxy.logs.some((l) => l.level === 30 && /accepts connections again/.test(l.msg)));
  });
});
