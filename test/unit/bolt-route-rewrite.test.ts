/** The ROUTE answer rewrite against a real answer from Neo4j 5.26 (Bolt 5.8). */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { PackReader, PackStruct, PackWriter } from '../../daemon/sources/bolt-proxy/packstream.js';
import { rewriteRouteSuccess } from '../../daemon/sources/bolt-proxy/route-rewrite.js';
import { hex } from '../helpers/bolt-wire.js';

// SUCCESS {rt: {servers: [{addresses: ['127.0.0.1:34923'], role: 'WRITE'}, {…, role: 'READ'}, {…, role: 'ROUTE'}], ttl: 300, db: 'neo4j'}}
const ROUTE_SUCCESS = hex(
  'b170a1827274a3877365727665727393a289616464726573736573918f3132372e302e302e313a333439323384726f6c65855752495445a289616464726573736573918f3132372e302e302e313a333439323384726f6c658452454144a289616464726573736573918f3132372e302e302e313a333439323384726f6c6585524f5554458374746cc9012c826462856e656f346a',
);

describe('rewriteRouteSuccess', () => {
  it('makes every role the advertised address and keeps everything else byte for byte', () => {
    const out = rewriteRouteSuccess(ROUTE_SUCCESS, 'proxy.example:7688')!;
    assert.equal(out.replaced, 3);
    const s = new PackReader(out.body).value() as PackStruct;
    assert.equal(s.signature, 0x70);
    const rt = (s.fields[0] as { rt: { servers: Array<{ addresses: string[]; role: string }>; ttl: number; db: string } }).rt;
    assert.deepEqual(rt.servers, [
      { addresses: ['proxy.example:7688'], role: 'WRITE' },
      { addresses: ['proxy.example:7688'], role: 'READ' },
      { addresses: ['proxy.example:7688'], role: 'ROUTE' },
    ]);
    assert.equal(rt.ttl, 300);
    assert.equal(rt.db, 'neo4j');
    // ttl is still the 16-bit integer c9 012c, not re-encoded as anything else
    assert.ok(out.body.toString('hex').endsWith('8374746cc9012c826462856e656f346a'));
    // with the same address, the bytes come out unchanged
    assert.deepEqual(rewriteRouteSuccess(ROUTE_SUCCESS, '127.0.0.1:34923')!.body, ROUTE_SUCCESS);
  });

  it('replaces several addresses per role with one, and keeps unknown keys', () => {
    const body = new PackWriter()
      .value(new PackStruct(0x70, [{ rt: { servers: [{ addresses: ['a:1', 'b:2'], role: 'READ', extra: [1, 2.5] }], ttl: 10, db: 'x', future: { k: true } }, other: 'y' }]))
      .toBuffer();
    const out = rewriteRouteSuccess(body, 'p:9')!;
    const s = new PackReader(out.body).value() as PackStruct;
    assert.deepEqual(s.fields[0], { rt: { servers: [{ addresses: ['p:9'], role: 'READ', extra: [1, 2.5] }], ttl: 10, db: 'x', future: { k: true } }, other: 'y' });
  });

  it('leaves FAILURE, IGNORED and SUCCESS without a routing table alone', () => {
    assert.equal(rewriteRouteSuccess(hex('b07e'), 'p:1'), null);
    assert.equal(rewriteRouteSuccess(new PackWriter().value(new PackStruct(0x7f, [{ code: 'X', message: 'y' }])).toBuffer(), 'p:1'), null);
    assert.equal(rewriteRouteSuccess(new PackWriter().value(new PackStruct(0x70, [{}])).toBuffer(), 'p:1'), null);
  });

  it('throws on bytes that are not PackStream', () => {
    assert.throws(() => rewriteRouteSuccess(hex('b170a1827274c7'), 'p:1'));
  });
});
