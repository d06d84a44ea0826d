/**
 * Every Bolt version Neo4j 5.26 and neo4j-driver 6 can agree on, spoken by a raw client through the
 * real proxy to the real Neo4j (the driver always picks the newest, so the older ones are driven by
 * hand): 4.4 and 5.0 (credentials in HELLO), 5.1–5.8 (LOGON), 5.7+ (GQL failures), the manifest-v1
 * handshake; and a connection that is not Bolt at all (a WebSocket upgrade), which is relayed as
 * pass-through with one warning.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { testNeo4j } from '../helpers/neo4j.js';
import { bolt, ofType, startTestProxy, type TestProxy } from '../helpers/bolt-proxy.js';
import { RawBoltClient, msg, S } from '../helpers/bolt-wire.js';

async function logIn(c: RawBoltClient, major: number, minor: number, user: string, password: string): Promise<void> {
  const agent = `raw-bolt/${major}.${minor}`;
  if (major === 4 || (major === 5 && minor === 0)) {
    c.send(msg(S.HELLO, { user_agent: agent, scheme: 'basic', principal: user, credentials: password }));
  } else {
    c.send(msg(S.HELLO, { user_agent: agent, bolt_agent: { product: agent } }), msg(S.LOGON, { scheme: 'basic', principal: user, credentials: password }));
    assert.equal((await c.next()).signature, S.SUCCESS, 'HELLO answered');
  }
  const ok = await c.next();
  assert.equal(ok.signature, S.SUCCESS, `log-in answered with ${JSON.stringify(ok.fields)}`);
}

/** A small workload: a read with a parameter, a syntax error (then RESET), an explicit committed write. */
async function workload(c: RawBoltClient, tag: string): Promise<void> {
  c.send(msg(S.RUN, 'RETURN $x AS x', { x: 41 }, { db: 'neo4j' }), msg(S.PULL, { n: -1 }));
  assert.equal((await c.next()).signature, S.SUCCESS);
  const r = await c.result();
  assert.deepEqual(r.records, [[41]]);
  assert.equal(r.summary.signature, S.SUCCESS);
  // RESET is not pipelined behind the failing RUN: the server acts on a RESET as soon as it reads it
  // and IGNOREs the requests queued before it.
  c.send(msg(S.RUN, 'RETRN 1', {}, { db: 'neo4j' }), msg(S.PULL, { n: -1 }));
  const f = await c.next();
  assert.equal(f.signature, S.FAILURE);
  assert.equal((await c.next()).signature, S.IGNORED);
  c.send(msg(S.RESET));
  assert.equal((await c.next()).signature, S.SUCCESS);
  c.send(msg(S.BEGIN, { db: 'neo4j', tx_metadata: { tag } }), msg(S.RUN, 'CREATE (:BoltProxyVersion {tag: $tag})', { tag }, {}), msg(S.PULL, { n: -1 }), msg(S.COMMIT));
  for (let i = 0; i < 4; i++) assert.equal((await c.next()).signature, S.SUCCESS, `answer ${i} of the explicit transaction`);
  c.send(msg(S.GOODBYE));
}

describe('bolt-proxy: every version the driver and Neo4j 5.26 agree on', () => {
  let proxy: TestProxy;
  let user: string;
  let password: string;

  before(async () => {
    ({ user, password } = await testNeo4j());
    proxy = await startTestProxy();
  });

  after(async () => {
    await proxy?.stop();
  });

  for (const [major, minor] of [
    [4, 4],
    [5, 0],
    [5, 1],
    [5, 2],
    [5, 3],
    [5, 4],
    [5, 6],
    [5, 7],
    [5, 8],
  ] as const) {
    it(`Bolt ${major}.${minor}: query, failure (${major === 5 && minor >= 7 ? 'GQL' : 'code/message'} shape), commit`, async () => {
      const tag = `v${major}.${minor}`;
      const c = await RawBoltClient.connect(proxy.address);
      try {
        assert.equal((await c.handshake([major, minor])).toString('hex'), `0000${minor.toString(16).padStart(2, '0')}0${major}`);
        await logIn(c, major, minor, user, password);
        await workload(c, tag);
      } finally {
        c.close();
      }
      await proxy.waitFor((evs) => ofType(evs, 'transaction.commit').some((e) => (e.metadata?.tx as { tag?: string } | undefined)?.tag === tag), `the ${tag} commit`);
      const mine = proxy.events.filter((e) => bolt(e).userAgent === `raw-bolt/${major}.${minor}`);
      assert.deepEqual(mine.map((e) => e.type), ['query.executed', 'query.failed', 'query.executed', 'transaction.commit']);
      for (const e of mine) {
        assert.equal(bolt(e).version, `${major}.${minor}`);
        assert.equal(e.userId, user);
        assert.equal(e.database, 'neo4j');
      }
      assert.deepEqual(mine[0]!.queryParams, { x: 'Integer' });
      assert.equal(mine[0]!.rowsAffected, 1);
      assert.match(mine[1]!.error!, /^Neo\.ClientError\.Statement\.SyntaxError: /);
      assert.equal(typeof bolt(mine[1]).gqlStatus, major === 5 && minor >= 7 ? 'string' : 'undefined');
      assert.equal(mine[2]!.txId, mine[3]!.txId);
      assert.equal(bolt(mine[3]).statements, 1);
      assert.match(String(bolt(mine[3]).bookmark), /^FB:/);
    });
  }

  it('the manifest-v1 handshake, negotiated by hand, relayed both ways', async () => {
    const c = await RawBoltClient.connect(proxy.address);
    try {
      assert.equal((await c.handshake([255, 1], [5, 8, 8])).toString('hex'), '000001ff');
      const count = (await c.take(1))[0]!;
      const ranges = await c.take(4 * count);
      const caps = await c.take(1);
      assert.equal(caps[0], 0);
      assert.ok(ranges.toString('hex').includes('00020805'), `ranges ${ranges.toString('hex')}`);
      c.send(Buffer.from([0, 0, 7, 5, 0])); // choose 5.7, no capabilities
      await logIn(c, 5, 7, user, password);
      c.send(msg(S.RUN, 'RETURN "manifest" AS m', {}, {}), msg(S.PULL, { n: -1 }));
      assert.equal((await c.next()).signature, S.SUCCESS);
      assert.equal((await c.result()).records.length, 1);
      c.send(msg(S.GOODBYE)); // not pipelined: the server closes as soon as it reads GOODBYE
    } finally {
      c.close();
    }
    await proxy.waitFor((evs) => ofType(evs, 'query.executed', 'RETURN "manifest" AS m').length === 1, 'the manifest query');
    assert.equal(bolt(ofType(proxy.events, 'query.executed', 'RETURN "manifest" AS m')[0]).version, '5.7');
  });

  it('a connection that is not Bolt (a WebSocket upgrade) is relayed as pass-through, with one warning, and not closed by the proxy', async () => {
    const c = await RawBoltClient.connect(proxy.address);
    try {
      c.socket.write(
        'GET / HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
      );
      const head = (await c.take(12)).toString('latin1');
      assert.match(head, /^HTTP\/1\.1 \d{3}/);
      const st = proxy.source.status().details;
      assert.equal(st.passThrough.total, 1);
      assert.equal(st.passThrough.open, 1);
      assert.equal(c.closed, false);
      const w = proxy.warnings();
      assert.equal(w.length, 1);
      assert.match(w[0]!, /relayed unobserved from now on .*Bolt magic/);
    } finally {
      c.close();
    }
  });
});
