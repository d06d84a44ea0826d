/**
 * TLS on both sides with a self-signed certificate made by the test: a proxy that accepts bolt+s
 * clients (neo4j-driver with bolt+ssc://, and with the certificate as its trusted CA), a second
 * proxy whose upstream is the first over bolt+ssc://, and one whose bolt+s:// upstream does not
 * verify (refused, counted, logged once).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import neo4j from 'neo4j-driver';
import { testNeo4j } from '../helpers/neo4j.js';
import { bolt, ofType, startTestProxy, type TestProxy } from '../helpers/bolt-proxy.js';
import { makeSelfSignedCert, type SelfSigned } from '../helpers/self-signed.js';

describe('bolt-proxy with TLS', () => {
  let cert: SelfSigned;
  let front: TestProxy;

  before(async () => {
    cert = makeSelfSignedCert();
    front = await startTestProxy({ tls: { cert: cert.cert, key: cert.key } });
  });

  after(async () => {
    await front?.stop();
    cert?.remove();
  });

  it('accepts a bolt+ssc:// client and observes its queries', async () => {
    const { user, password } = await testNeo4j();
    const d = neo4j.driver(`bolt+ssc://${front.address}`, neo4j.auth.basic(user, password));
    try {
      const r = await d.executeQuery('RETURN $word AS w', { word: 'over tls' }, { database: 'neo4j' });
      assert.equal(r.records[0]!.get('w'), 'over tls');
      assert.equal(r.summary.server.address, front.address);
    } finally {
      await d.close();
    }
    await front.quiet();
    const [e] = ofType(front.events, 'query.executed', 'RETURN $word AS w');
    assert.ok(e);
    assert.equal(e.userId, user);
    assert.deepEqual(e.queryParams, { word: 'String' });
    assert.equal(front.source.status().details.tls, true);
  });

  it('accepts a client that verifies the certificate against it as a trusted CA', async () => {
    const { user, password } = await testNeo4j();
    const d = neo4j.driver(`bolt://${front.address}`, neo4j.auth.basic(user, password), {
      encrypted: 'ENCRYPTION_ON',
      trust: 'TRUST_CUSTOM_CA_SIGNED_CERTIFICATES',
      trustedCertificates: [cert.cert],
    });
    try {
      const r = await d.executeQuery('RETURN 7 AS seven', {}, { database: 'neo4j' });
      assert.equal(r.records[0]!.get('seven').toNumber(), 7);
    } finally {
      await d.close();
    }
  });

  it('relays to a bolt+ssc:// upstream (a second proxy in front of the TLS one); both observe the query', async () => {
    const back = await startTestProxy({ upstream: `bolt+ssc://${front.address}` });
    const { user, password } = await testNeo4j();
    const d = neo4j.driver(`bolt://${back.address}`, neo4j.auth.basic(user, password));
    try {
      await d.executeQuery('RETURN "chained" AS c', {}, { database: 'neo4j' });
    } finally {
      await d.close();
    }
    await back.quiet();
    await front.quiet();
    const b = ofType(back.events, 'query.executed', 'RETURN "chained" AS c');
    const f = ofType(front.events, 'query.executed', 'RETURN "chained" AS c');
    assert.equal(b.length, 1);
    assert.equal(f.length, 1);
    assert.equal(bolt(b[0]).version, bolt(f[0]).version);
    assert.equal(back.source.status().details.upstream, `bolt+ssc://${front.address}`);
    await back.stop();
  });

  it('refuses a bolt+s:// upstream whose certificate does not verify: the client sees the connection close, the proxy logs once and keeps listening', async () => {
    const strict = await startTestProxy({ upstream: `bolt+s://${front.address}` });
    const { user, password } = await testNeo4j();
    const d = neo4j.driver(`bolt://${strict.address}`, neo4j.auth.basic(user, password), { connectionAcquisitionTimeout: 5000 });
    try {
      for (let i = 0; i < 3; i++) {
        const s = d.session({ database: 'neo4j' });
        await assert.rejects(s.run('RETURN 1'), (err: Error & { code?: string }) => err.code === 'ServiceUnavailable' || /closed|connect/i.test(err.message));
        await s.close();
      }
    } finally {
      await d.close();
    }
    await strict.waitNoConnections();
    const st = strict.source.status();
    assert.ok(st.details.upstreamFailures >= 3, `upstream failures: ${st.details.upstreamFailures}`);
    assert.equal(st.state, 'degraded');
    assert.equal(st.details.upstreamReachable, false);
    const warnings = strict.warnings();
    assert.equal(warnings.length, 1, warnings.join('\n'));
    assert.match(warnings[0]!, /cannot be reached .*keeps listening/);
    await strict.stop();
  });
});
