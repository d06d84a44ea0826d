/** The bolt-proxy settings (defaults, upstream from database.uri, the non-loopback rule) and the bounded event buffer. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { DatabaseEvent } from '../../sdk/events.js';
import { BoltProxyConfigError, isLoopback, resolveBoltProxyConfig, upstreamFromDatabaseUri } from '../../config/bolt-proxy.js';
import { EventBuffer } from '../../daemon/sources/bolt-proxy/event-buffer.js';
import { makeSelfSignedCert } from '../helpers/self-signed.js';

describe('resolveBoltProxyConfig', () => {
  it('applies the pinned defaults', () => {
    const c = resolveBoltProxyConfig({ type: 'bolt-proxy' });
    assert.equal(c.host, '127.0.0.1');
    assert.equal(c.port, 7688);
    assert.deepEqual(c.upstream, { host: '127.0.0.1', port: 7687, tls: 'none', uri: 'bolt://127.0.0.1:7687' });
    assert.equal(c.advertisedAddress, undefined); // = the listen address once listening
    assert.equal(c.captureParams, 'keys');
    assert.equal(c.maxQueryChars, 4096);
    assert.equal(c.tls, undefined);
  });

  it('takes the upstream from database.uri: its host, spoken to directly, keeping its TLS choice', () => {
    assert.equal(upstreamFromDatabaseUri('neo4j://db.example:7777'), 'bolt://db.example:7777');
    assert.equal(upstreamFromDatabaseUri('neo4j+s://db.example'), 'bolt+s://db.example:7687');
    assert.equal(upstreamFromDatabaseUri('bolt+ssc://[::1]:7687'), 'bolt+ssc://[::1]:7687');
    assert.equal(resolveBoltProxyConfig({ type: 'bolt-proxy' }, { databaseUri: 'neo4j+ssc://10.1.2.3:7690' }).upstream.tls, 'trust-any');
    assert.equal(resolveBoltProxyConfig({ type: 'bolt-proxy', upstream: 'bolt://other:1' }, { databaseUri: 'bolt://db:2' }).upstream.host, 'other');
  });

  it('refuses a non-loopback listen address without tls, and accepts it with tls', () => {
    assert.throws(() => resolveBoltProxyConfig({ type: 'bolt-proxy', listen: '0.0.0.0:7688' }), (err: Error) => err instanceof BoltProxyConfigError && /not a loopback address, without tls/.test(err.message));
    const cert = makeSelfSignedCert();
    try {
      const c = resolveBoltProxyConfig({ type: 'bolt-proxy', listen: '0.0.0.0:7688', tls: { cert: cert.cert, key: cert.key } });
      assert.ok(c.tls!.cert.toString().includes('BEGIN CERTIFICATE'));
    } finally {
      cert.remove();
    }
    assert.ok(isLoopback('127.0.0.5') && isLoopback('::1') && isLoopback('localhost'));
    assert.ok(!isLoopback('0.0.0.0') && !isLoopback('10.0.0.1') && !isLoopback('::'));
  });

  it('says what is wrong with a bad value', () => {
    const bad: Array<[Record<string, unknown>, RegExp]> = [
      [{ listen: '7688' }, /listen address "7688" is not host:port/],
      [{ upstream: 'http://x:1' }, /scheme http; use bolt:\/\//],
      [{ upstream: 'not a uri' }, /not a URI/],
      [{ captureParams: 'some' }, /captureParams "some" is not one of none, keys, full/],
      [{ maxQueryChars: 0 }, /maxQueryChars must be a whole number/],
      [{ advertisedAddress: 'x' }, /advertisedAddress "x" is not host:port/],
      [{ tls: { cert: '/nonexistent/cert.pem', key: '/nonexistent/key.pem' } }, /tls\.cert file \/nonexistent\/cert\.pem cannot be read/],
    ];
    for (const [cfg, re] of bad) assert.throws(() => resolveBoltProxyConfig({ type: 'bolt-proxy', ...cfg } as never), re);
  });
});

describe('EventBuffer', () => {
  const ev = (i: number): DatabaseEvent => ({ id: String(i), type: 'query.executed', timestamp: '', database: 'neo4j', source: 'bolt-proxy' });

  it('hands events over in batches once the pushing callback has returned, in order', async () => {
    const got: string[][] = [];
    const b = new EventBuffer(100, (evs) => void got.push(evs.map((e) => e.id)), () => {}, 3);
    for (let i = 0; i < 7; i++) b.push(ev(i));
    assert.deepEqual(got, []);
    await b.drain();
    assert.deepEqual(got, [['0', '1', '2'], ['3', '4', '5'], ['6']]);
    assert.equal(b.emitted, 7);
  });

  it('drops newest and counts while an async consumer is behind, then catches up', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const got: string[] = [];
    const b = new EventBuffer(2, async (evs) => {
      got.push(...evs.map((e) => e.id));
      await gate;
    }, () => {});
    b.push(ev(0));
    await new Promise((r) => setImmediate(r));
    assert.deepEqual([b.push(ev(1)), b.push(ev(2)), b.push(ev(3)), b.push(ev(4))], [true, true, false, false]);
    assert.equal(b.dropped, 2);
    release();
    await b.drain();
    assert.deepEqual(got, ['0', '1', '2']);
    assert.equal(b.size, 0);
  });

  it('reports a consumer that throws and goes on', async () => {
    const errors: unknown[] = [];
    let n = 0;
    const b = new EventBuffer(10, () => {
      if (n++ === 0) throw new Error('router down');
    }, (e) => errors.push(e), 1);
    b.push(ev(0));
    b.push(ev(1));
    await b.drain();
    assert.equal(errors.length, 1);
    assert.equal(b.consumerErrors, 1);
    assert.equal(n, 2);
  });
});
