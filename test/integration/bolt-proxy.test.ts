/**
 * The bolt-proxy source with the real Neo4j and the real neo4j-driver (JS) through it: reads and
 * writes, auto-commit and explicit transactions, syntax errors, constraint violations, rollback, the
 * system database, captureParams modes on three proxies at once, neo4j:// routing through the proxy,
 * and the daemon's own connections.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import neo4j, { type Driver } from 'neo4j-driver';
import { openTestDriver, testNeo4j, wipeDatabase } from '../helpers/neo4j.js';
import { bolt, ofType, proxyDriver, startTestProxy, type TestProxy } from '../helpers/bolt-proxy.js';

describe('bolt-proxy with neo4j-driver', () => {
  let direct: Driver;
  let proxy: TestProxy;
  let driver: Driver;
  let user: string;

  before(async () => {
    direct = await openTestDriver();
    await wipeDatabase(direct);
    await direct.executeQuery('CREATE CONSTRAINT bolt_proxy_test_unique IF NOT EXISTS FOR (u:BoltProxyUser) REQUIRE u.id IS UNIQUE', {}, { database: 'neo4j' });
    user = (await testNeo4j()).user;
    proxy = await startTestProxy();
    driver = await proxyDriver(proxy.address, 'bolt', { userAgent: 'bolt-proxy-test/1.0' });
  });

  after(async () => {
    await driver?.close();
    await proxy?.stop();
    await direct?.executeQuery('DROP CONSTRAINT bolt_proxy_test_unique IF EXISTS', {}, { database: 'neo4j' });
    await direct?.executeQuery('MATCH (n) DETACH DELETE n', {}, { database: 'neo4j' });
    await direct?.close();
  });

  it('an auto-commit write: query.executed with the pinned fields', async () => {
    const s = driver.session({ database: 'neo4j' });
    try {
      const r = await s.run('UNWIND range(1, $n) AS i CREATE (:BoltProxyItem {i: i, tag: $tag})', { n: neo4j.int(3), tag: 'w1' });
      assert.equal(r.summary.counters.updates().nodesCreated, 3);
    } finally {
      await s.close();
    }
    await proxy.quiet();
    const [e] = ofType(proxy.events, 'query.executed', /BoltProxyItem \{i: i, tag: \$tag\}/);
    assert.ok(e, 'a query.executed event for the write');
    assert.equal(e.source, 'bolt-proxy');
    assert.equal(e.database, 'neo4j');
    assert.equal(e.userId, user);
    assert.deepEqual(e.queryParams, { n: 'Integer', tag: 'String' });
    assert.equal(e.rowsAffected, 3 + 3 * 2 + 3); // nodes created + properties set + labels added
    assert.match(e.requestId!, /^bolt-[0-9a-f]{8}-\d+$/);
    assert.match(e.txId!, new RegExp(`^${e.requestId}:\\d+$`));
    assert.ok(typeof e.durationMs === 'number' && e.durationMs > 0);
    assert.ok(!Number.isNaN(Date.parse(e.timestamp)));
    const b = bolt(e);
    assert.equal(b.version, '5.8');
    assert.equal(b.userAgent, 'bolt-proxy-test/1.0');
    assert.equal(b.queryType, 'w');
    assert.equal(b.autoCommit, true);
    assert.deepEqual(b.stats, { containsUpdates: true, labelsAdded: 3, nodesCreated: 3, propertiesSet: 6 });
    assert.match(String(b.bookmark), /^FB:/);
    assert.equal(typeof b.tFirstMs, 'number');
    assert.equal(typeof b.tLastMs, 'number');
  });

  it('a read through executeQuery (a managed transaction): query.executed with the record count, then transaction.commit', async () => {
    const before = proxy.events.length;
    const r = await driver.executeQuery('MATCH (n:BoltProxyItem) RETURN n.i AS i ORDER BY i', {}, { database: 'neo4j', routing: neo4j.routing.READ });
    assert.deepEqual(r.records.map((x) => x.get('i').toNumber()), [1, 2, 3]);
    await proxy.quiet();
    const mine = proxy.events.slice(before);
    assert.deepEqual(mine.map((e) => e.type), ['query.executed', 'transaction.commit']);
    const [q, c] = mine;
    assert.equal(q!.rowsAffected, 3);
    assert.equal(bolt(q).records, 3);
    assert.equal(bolt(q).queryType, 'r');
    assert.equal(bolt(q).autoCommit, false);
    assert.equal(q!.txId, c!.txId);
    assert.equal(bolt(c).statements, 1);
    assert.equal(bolt(c).mode, 'r');
    assert.match(String(bolt(c).bookmark), /^FB:/);
    assert.equal(c!.database, 'neo4j');
    assert.equal(c!.userId, user);
    assert.ok(c!.durationMs! >= q!.durationMs!);
  });

  it('an explicit transaction with metadata and two statements, committed', async () => {
    const before = proxy.events.length;
    const s = driver.session({ database: 'neo4j' });
    try {
      const tx = await s.beginTransaction({ metadata: { app: 'shop', requestId: 'r-17' } });
      await tx.run('CREATE (:BoltProxyOrder {id: $id})', { id: 1 });
      await tx.run('MATCH (o:BoltProxyOrder) SET o.paid = true');
      await tx.commit();
    } finally {
      await s.close();
    }
    await proxy.quiet();
    const mine = proxy.events.slice(before);
    assert.deepEqual(mine.map((e) => e.type), ['query.executed', 'query.executed', 'transaction.commit']);
    const txId = mine[2]!.txId;
    assert.ok(mine.every((e) => e.txId === txId));
    assert.deepEqual(mine[2]!.metadata!.tx, { app: 'shop', requestId: 'r-17' });
    assert.equal(bolt(mine[2]).statements, 2);
    assert.equal(bolt(mine[2]).reason, 'commit');
    assert.equal(mine[1]!.rowsAffected, 1);
    assert.equal(mine[0]!.metadata!.origin, undefined);
  });

  it('an explicit transaction rolled back', async () => {
    const before = proxy.events.length;
    const s = driver.session({ database: 'neo4j' });
    try {
      const tx = await s.beginTransaction();
      await tx.run('CREATE (:BoltProxyGhost)');
      await tx.rollback();
    } finally {
      await s.close();
    }
    await proxy.quiet();
    const mine = proxy.events.slice(before);
    assert.deepEqual(mine.map((e) => e.type), ['query.executed', 'transaction.rollback']);
    assert.equal(bolt(mine[1]).reason, 'rollback');
    assert.equal(bolt(mine[1]).statements, 1);
    assert.equal(mine[1]!.error, undefined);
    const { records } = await direct.executeQuery('MATCH (g:BoltProxyGhost) RETURN count(g) AS c', {}, { database: 'neo4j' });
    assert.equal(records[0]!.get('c').toNumber(), 0);
  });

  it('a syntax error: query.failed with "code: message" and the GQL status', async () => {
    const before = proxy.events.length;
    const s = driver.session({ database: 'neo4j' });
    await assert.rejects(s.run('RETRN 1 AS x'), (err: Error & { code?: string }) => err.code === 'Neo.ClientError.Statement.SyntaxError');
    await s.close();
    await proxy.quiet();
    const mine = proxy.events.slice(before);
    assert.deepEqual(mine.map((e) => e.type), ['query.failed']);
    const f = mine[0]!;
    assert.equal(f.query, 'RETRN 1 AS x');
    assert.match(f.error!, /^Neo\.ClientError\.Statement\.SyntaxError: Invalid input 'RETRN'/);
    assert.equal(typeof bolt(f).gqlStatus, 'string');
    assert.equal(bolt(f).autoCommit, true);
    assert.equal(f.userId, user);
    assert.equal(f.database, 'neo4j');
  });

  it('a constraint violation, auto-commit and inside an explicit transaction (which counts as its rollback)', async () => {
    await driver.executeQuery('CREATE (:BoltProxyUser {id: 1})', {}, { database: 'neo4j' });
    const before = proxy.events.length;
    const s = driver.session({ database: 'neo4j' });
    await assert.rejects(s.run('CREATE (:BoltProxyUser {id: $id})', { id: neo4j.int(1) }), (err: Error & { code?: string }) => err.code === 'Neo.ClientError.Schema.ConstraintValidationFailed');
    const tx = await s.beginTransaction();
    await assert.rejects(tx.run('CREATE (:BoltProxyUser {id: 1})'), (err: Error & { code?: string }) => err.code === 'Neo.ClientError.Schema.ConstraintValidationFailed');
    await tx.close().catch(() => {});
    await s.close();
    await proxy.quiet();
    const mine = proxy.events.slice(before);
    assert.deepEqual(mine.map((e) => e.type), ['query.failed', 'query.failed', 'transaction.rollback']);
    for (const f of mine.slice(0, 2)) assert.match(f.error!, /^Neo\.ClientError\.Schema\.ConstraintValidationFailed: .*already exists/);
    assert.equal(bolt(mine[0]).autoCommit, true);
    assert.deepEqual(mine[0]!.queryParams, { id: 'Integer' });
    assert.equal(bolt(mine[1]).autoCommit, false);
    assert.equal(mine[2]!.txId, mine[1]!.txId);
    assert.equal(bolt(mine[2]).reason, 'failure');
    assert.equal(mine[2]!.error, mine[1]!.error);
  });

  it('a query on the system database', async () => {
    const before = proxy.events.length;
    const r = await driver.executeQuery('SHOW DATABASES YIELD name RETURN name ORDER BY name', {}, { database: 'system' });
    assert.ok(r.records.map((x) => x.get('name')).includes('neo4j'));
    await proxy.quiet();
    const q = ofType(proxy.events.slice(before), 'query.executed')[0]!;
    assert.equal(q.database, 'system');
    assert.equal(q.rowsAffected, r.records.length);
    assert.equal(ofType(proxy.events.slice(before), 'transaction.commit')[0]!.database, 'system');
  });

  it('captureParams none, keys and full on three proxies running at once', async () => {
    const proxies = await Promise.all((['none', 'keys', 'full'] as const).map((m) => startTestProxy({ captureParams: m })));
    try {
      // A plain JS number travels as a PackStream Float (neo4j-driver's rule); neo4j.int() as an Integer.
      const params = { name: 'Ada', age: neo4j.int(36), count: 7, score: 1.5, tags: ['a', 'b'], born: new neo4j.types.Date(1815, 12, 10), big: neo4j.int('9007199254740993'), nothing: null, nested: { k: true } };
      await Promise.all(
        proxies.map(async (p) => {
          const d = await proxyDriver(p.address);
          try {
            await d.executeQuery('RETURN $name AS name', params, { database: 'neo4j' });
          } finally {
            await d.close();
          }
          await p.quiet();
        }),
      );
      const [none, keys, full] = proxies.map((p) => ofType(p.events, 'query.executed')[0]!);
      assert.equal('queryParams' in none!, false);
      assert.deepEqual(keys!.queryParams, { name: 'String', age: 'Integer', count: 'Float', score: 'Float', tags: 'List', born: 'Date', big: 'Integer', nothing: 'Null', nested: 'Map' });
      assert.deepEqual(full!.queryParams, { name: 'Ada', age: 36, count: 7, score: 1.5, tags: ['a', 'b'], born: '1815-12-10', big: '9007199254740993', nothing: null, nested: { k: true } });
      assert.equal(new Set(proxies.map((p) => p.source.name)).size, 3);
    } finally {
      await Promise.all(proxies.map((p) => p.stop()));
    }
  });

  it('neo4j:// clients stay on the proxy: ROUTE answers name the advertised address', async () => {
    const p = await startTestProxy();
    const d = await proxyDriver(p.address, 'neo4j');
    try {
      const info = await d.getServerInfo();
      assert.equal(info.address, p.address);
      await d.executeQuery('CREATE (:BoltProxyRouted)', {}, { database: 'neo4j' });
      await d.executeQuery('MATCH (n:BoltProxyRouted) RETURN count(n) AS c', {}, { database: 'neo4j', routing: neo4j.routing.READ });
      await p.quiet();
      const st = p.source.status().details;
      assert.ok(st.routeRewrites >= 1, `route rewrites: ${st.routeRewrites}`);
      assert.deepEqual(ofType(p.events, 'query.executed').map((e) => e.query), ['CREATE (:BoltProxyRouted)', 'MATCH (n:BoltProxyRouted) RETURN count(n) AS c']);
    } finally {
      await d.close();
      await p.stop();
    }
  });

  it("marks events from the daemon's own driver (user agent heimdall) and own transactions with metadata.origin", async () => {
    const { user: u, password } = await testNeo4j();
    const own = neo4j.driver(`bolt://${proxy.address}`, neo4j.auth.basic(u, password), { userAgent: 'heimdall' });
    const before = proxy.events.length;
    try {
      await own.executeQuery('RETURN 1', {}, { database: 'neo4j' });
      await driver.executeQuery('RETURN 2', {}, { database: 'neo4j', transactionConfig: { metadata: { app: 'heimdall', plugin: 'audit', action: 'remediate' } } });
    } finally {
      await own.close();
    }
    await proxy.quiet();
    const mine = ofType(proxy.events.slice(before), 'query.executed');
    assert.deepEqual(mine[0]!.metadata!.origin, { plugin: 'heimdall' });
    assert.deepEqual(mine[1]!.metadata!.origin, { plugin: 'audit', action: 'remediate' });
  });

  it('reports its status: connections, bytes each way, events', async () => {
    await proxy.quiet();
    const st = proxy.source.status();
    assert.equal(st.type, 'bolt-proxy');
    assert.equal(st.state, 'running');
    assert.equal(st.emitted, proxy.events.length);
    const d = st.details;
    assert.equal(d.listen, proxy.address);
    assert.equal(d.upstream, (await testNeo4j()).uri);
    assert.equal(d.advertisedAddress, proxy.address);
    assert.ok(d.connections.total >= 1 && d.connections.open >= 1);
    assert.ok(d.bytes.clientToServer > 0 && d.bytes.serverToClient > 0);
    assert.deepEqual(d.passThrough, { open: 0, total: 0 });
    assert.equal(d.events.dropped, 0);
    assert.equal(d.events.emitted, proxy.events.length);
    assert.deepEqual(proxy.warnings(), []);
  });
});
