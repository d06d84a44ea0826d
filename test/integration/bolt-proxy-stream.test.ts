/**
 * The relay under load and faults, with the real Neo4j and neo4j-driver: a 100,000-row result, 50
 * concurrent sessions, a client killed mid-stream, a consumer that falls behind, and the bytes the
 * server sends reaching the client unchanged (bolt://), or changed only in the ROUTE answer (neo4j://).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import neo4j, { type Driver } from 'neo4j-driver';
import type { DatabaseEvent } from '../../sdk/events.js';
import { repoRoot } from '../neo4j/launcher.js';
import { openTestDriver, testNeo4j } from '../helpers/neo4j.js';
import { bolt, ofType, proxyDriver, startTestProxy, TcpRecorder, type TestProxy } from '../helpers/bolt-proxy.js';
import { parseMessages } from '../helpers/bolt-wire.js';

describe('bolt-proxy under load and faults', () => {
  let direct: Driver;
  let proxy: TestProxy;
  let driver: Driver;

  before(async () => {
    direct = await openTestDriver();
    proxy = await startTestProxy({ captureParams: 'full' });
    driver = await proxyDriver(proxy.address);
  });

  after(async () => {
    await driver?.close();
    await proxy?.stop();
    await direct?.close();
  });

  it('streams a 100,000-row result to the client and counts its records', async () => {
    const before = proxy.events.length;
    const s = driver.session({ database: 'neo4j', fetchSize: 5000 });
    let n = 0;
    let sum = 0;
    try {
      const r = s.run('UNWIND range(1, 100000) AS i RETURN i, "row-" + i AS label');
      for await (const rec of r) {
        n++;
        sum += rec.get('i').toNumber();
      }
    } finally {
      await s.close();
    }
    assert.equal(n, 100_000);
    assert.equal(sum, (100_000 * 100_001) / 2);
    await proxy.quiet();
    const [e] = ofType(proxy.events.slice(before), 'query.executed');
    assert.ok(e);
    assert.equal(e.rowsAffected, 100_000);
    assert.equal(bolt(e).records, 100_000);
    assert.equal(bolt(e).fields, 2);
    assert.equal(bolt(e).queryType, 'r');
  });

  it('50 concurrent sessions: every query is one event with its own parameters, on its own connection', async () => {
    const before = proxy.events.length;
    const d = await proxyDriver(proxy.address, 'bolt', { maxConnectionPoolSize: 60 });
    try {
      await Promise.all(
        Array.from({ length: 50 }, async (_, s) => {
          const session = d.session({ database: 'neo4j' });
          try {
            for (let q = 0; q < 4; q++) {
              const r = await session.run('RETURN $s * 100 + $q AS v', { s: neo4j.int(s), q: neo4j.int(q) });
              assert.equal(r.records[0]!.get('v').toNumber(), s * 100 + q);
            }
          } finally {
            await session.close();
          }
        }),
      );
    } finally {
      await d.close();
    }
    await proxy.quiet();
    const mine = ofType(proxy.events.slice(before), 'query.executed', 'RETURN $s * 100 + $q AS v');
    assert.equal(mine.length, 200);
    const seen = new Set(mine.map((e) => `${(e.queryParams as { s: number }).s}:${(e.queryParams as { q: number }).q}`));
    assert.equal(seen.size, 200);
    const conns = new Set(mine.map((e) => e.requestId));
    assert.ok(conns.size >= 40, `queries ran on ${conns.size} connections`);
    const txIds = new Set(mine.map((e) => e.txId));
    assert.equal(txIds.size, 200, 'each auto-commit query has its own transaction id');
    assert.equal(proxy.source.status().details.events.dropped, 0);
  });

  it('a client killed mid-stream: its query ends as query.failed (incomplete), the server is released, the proxy carries on', async () => {
    const { user, password } = await testNeo4j();
    const before = proxy.events.length;
    const script = `
      import neo4j from 'neo4j-driver';
      const d = neo4j.driver('bolt://${proxy.address}', neo4j.auth.basic(${JSON.stringify(user)}, ${JSON.stringify(password)}));
      const s = d.session({ database: 'neo4j', fetchSize: 100 });
      let n = 0;
      for await (const r of s.run('UNWIND range(1, 50000000) AS i RETURN i, "killed-mid-stream" AS tag')) {
        if (++n === 500) console.log('streaming');
      }
    `;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { cwd: repoRoot(), stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((res, rej) => {
      child.stdout.on('data', (d: Buffer) => d.toString().includes('streaming') && res());
      child.on('exit', (code) => rej(new Error(`The streaming client exited (${code}) before it was killed.`)));
    });
    child.kill('SIGKILL');
    await proxy.waitFor((evs) => ofType(evs.slice(before), 'query.failed', /killed-mid-stream/).length === 1, 'the killed query to end');
    const [f] = ofType(proxy.events.slice(before), 'query.failed', /killed-mid-stream/);
    assert.match(f!.error!, /^Heimdall\.BoltProxy\.ConnectionClosed: /);
    assert.equal(bolt(f).incomplete, true);
    assert.ok((bolt(f).records as number) >= 500);
    // Neo4j lets go of the query once the proxy has closed the upstream connection.
    const deadline = Date.now() + 20_000;
    for (;;) {
      const { records } = await direct.executeQuery('SHOW TRANSACTIONS YIELD currentQuery WHERE currentQuery CONTAINS $tag RETURN count(*) AS c', { tag: 'killed-mid-stream' }, { database: 'neo4j' });
      if (records[0]!.get('c').toNumber() === 0) break;
      assert.ok(Date.now() < deadline, 'the killed query still runs in Neo4j after 20 s');
      await new Promise((r) => setTimeout(r, 50));
    }
    const r = await driver.executeQuery('RETURN 42 AS x', {}, { database: 'neo4j' });
    assert.equal(r.records[0]!.get('x').toNumber(), 42);
    assert.deepEqual(proxy.warnings(), []);
  });

  it('a consumer that falls behind: events beyond the buffer are dropped and counted, the client is not slowed', async () => {
    let release!: () => void;
    const blocked = new Promise<void>((r) => (release = r));
    const got: DatabaseEvent[] = [];
    let calls = 0;
    const slow = await startTestProxy({}, { bufferCapacity: 10, emit: async (evs) => {
      got.push(...evs);
      if (++calls === 1) await blocked;
    } });
    const d = await proxyDriver(slow.address);
    try {
      const s = d.session({ database: 'neo4j' });
      await s.run('RETURN 0'); // its event goes out in the first (blocked) batch
      await new Promise((r) => setImmediate(r));
      const t0 = performance.now();
      for (let i = 1; i <= 30; i++) await s.run('RETURN $i', { i: neo4j.int(i) });
      const ms = performance.now() - t0;
      await s.close();
      const st = slow.source.status().details.events;
      assert.equal(st.dropped, 20);
      assert.equal(st.buffered, 10);
      assert.ok(ms < 5000, `30 queries took ${ms} ms with the consumer blocked`);
      release();
      await slow.quiet();
      assert.deepEqual(got.map((e) => (e.query === 'RETURN 0' ? 0 : (e.queryParams as { i: string }).i)), [0, 'Integer', 'Integer', 'Integer', 'Integer', 'Integer', 'Integer', 'Integer', 'Integer', 'Integer', 'Integer']);
      assert.equal(slow.source.status().details.events.emitted, 11);
    } finally {
      release();
      await d.close();
      await slow.stop();
    }
  });

  it('bytes-identical: what the server sends reaches the client unchanged, and what the client sends reaches the server', async () => {
    const upstream = new TcpRecorder((await testNeo4j()).uri.replace('bolt://', ''));
    await upstream.start();
    const p = await startTestProxy({ upstream: `bolt://${upstream.address}` });
    const front = new TcpRecorder(p.address);
    await front.start();
    const d = await proxyDriver(front.address);
    try {
      const s = d.session({ database: 'neo4j' });
      await s.run('UNWIND range(1, 20000) AS i RETURN i, toString(i) AS t, [i, i * 2] AS l, {k: i} AS m');
      await s.run('CREATE (:BoltProxyBytes {x: $x})', { x: 'é😀' });
      await s.run('RETRN').catch(() => {});
      const tx = await s.beginTransaction({ metadata: { m: 1 } });
      await tx.run('MATCH (n:BoltProxyBytes) SET n.y = 1');
      await tx.commit();
      await s.close();
    } finally {
      await d.close();
    }
    await p.waitNoConnections();
    assert.equal(front.toClient.length, 1);
    const fromServer = upstream.bytes('toClient', 0);
    const toClient = front.bytes('toClient', 0);
    assert.ok(fromServer.length > 200_000, `only ${fromServer.length} bytes came from the server`);
    assert.equal(toClient.length, fromServer.length);
    assert.ok(toClient.equals(fromServer), 'the client received exactly the bytes the server sent');
    assert.ok(front.bytes('toServer', 0).equals(upstream.bytes('toServer', 0)), 'the server received exactly the bytes the client sent');
    assert.equal(ofType(p.events, 'query.executed').length, 3);
    await p.stop();
    await front.stop();
    await upstream.stop();
  });

  it('with neo4j:// the ROUTE answer is the only message that differs', async () => {
    const upstream = new TcpRecorder((await testNeo4j()).uri.replace('bolt://', ''));
    await upstream.start();
    const p = await startTestProxy({ upstream: `bolt://${upstream.address}`, advertisedAddress: 'bolt-proxy.test:7688' });
    const front = new TcpRecorder(p.address);
    await front.start();
    const d = await proxyDriver(front.address, 'neo4j');
    try {
      // The driver would connect to the advertised (unresolvable) address next; one routing fetch is all this needs.
      await d.getServerInfo().catch(() => {});
    } finally {
      await d.close();
    }
    await p.waitNoConnections();
    assert.ok(front.toClient.length >= 1);
    const server = parseMessages(upstream.bytes('toClient', 0).subarray(18));
    const client = parseMessages(front.bytes('toClient', 0).subarray(18));
    assert.equal(upstream.bytes('toClient', 0).subarray(0, 18).toString('hex'), front.bytes('toClient', 0).subarray(0, 18).toString('hex'));
    assert.equal(client.length, server.length);
    let routes = 0;
    for (let i = 0; i < server.length; i++) {
      const rt = (server[i]!.fields[0] as { rt?: { servers: Array<{ addresses: string[]; role: string }> } } | undefined)?.rt;
      if (!rt) {
        assert.deepEqual(client[i], server[i], `message ${i}`);
        continue;
      }
      routes++;
      const crt = (client[i]!.fields[0] as { rt: { servers: Array<{ addresses: string[]; role: string }>; ttl: unknown } }).rt;
      assert.deepEqual(crt.servers.map((s) => s.role), rt.servers.map((s) => s.role));
      for (const s of crt.servers) assert.deepEqual(s.addresses, ['bolt-proxy.test:7688']);
      assert.deepEqual({ ...crt, servers: [] }, { ...rt, servers: [] });
    }
    assert.equal(routes, 1);
    await p.stop();
    await front.stop();
    await upstream.stop();
  });
});
