/** The Bolt handshake tracker against real byte vectors (neo4j-driver 6.3 ↔ Neo4j 5.26), split at every byte. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  HandshakeError,
  HandshakeTracker,
  encodeVarint,
  expandRanges,
  isTappable,
  parseClientPreamble,
  readVarint,
  type HandshakeResult,
} from '../../daemon/sources/bolt-proxy/handshake.js';
import { hex } from '../helpers/bolt-wire.js';

// What neo4j-driver 6.3.0 sends: magic, manifest-v1 marker (255.1), 5.8 range 8 (5.0–5.8), 4.4 range 2, 3.0.
const CLIENT = '6060b017 000001ff 00080805 00020404 00000003';
// Neo4j 5.26.19's answer: manifest v1, 3 ranges (4.0–4.4, 5.0–5.4, 5.6–5.8), capabilities 0.
const SERVER = '000001ff 03 00040404 00040405 00020805 00';
// The client's choice (5.8, capabilities 0) and the start of its HELLO.
const SELECTION = '00000805 00';
const HELLO_START = '0010b101a18a757365725f6167656e74';
const SERVER_MSG = '0003b170a00000';

interface Trace {
  result?: HandshakeResult;
  client: Buffer[];
  server: Buffer[];
}

function tracker(): { t: HandshakeTracker; trace: Trace } {
  const trace: Trace = { client: [], server: [] };
  const t = new HandshakeTracker(
    (r) => (trace.result = r),
    (b) => trace.client.push(Buffer.from(b)),
    (b) => trace.server.push(Buffer.from(b)),
  );
  return { t, trace };
}

function run(steps: Array<['c' | 's', Buffer]>): Trace {
  const { t, trace } = tracker();
  for (const [side, b] of steps) (side === 'c' ? t.client(b) : t.server(b));
  return trace;
}

/** Feeds `bytes` for `side` split at `at` (two pieces). */
const split = (side: 'c' | 's', bytes: Buffer, at: number): Array<['c' | 's', Buffer]> => [
  [side, bytes.subarray(0, at)],
  [side, bytes.subarray(at)],
];

describe('HandshakeTracker', () => {
  const client = hex(CLIENT);
  const server = Buffer.concat([hex(SERVER), hex(SERVER_MSG)]);
  const selection = Buffer.concat([hex(SELECTION), hex(HELLO_START)]);

  it('follows manifest v1 both ways and hands on the bytes after it', () => {
    const trace = run([
      ['c', client],
      ['s', server],
      ['c', selection],
    ]);
    assert.deepEqual(trace.result?.version, { major: 5, minor: 8 });
    assert.deepEqual(trace.result?.manifest?.ranges, [
      { major: 4, minor: 4, range: 4 },
      { major: 5, minor: 4, range: 4 },
      { major: 5, minor: 8, range: 2 },
    ]);
    assert.equal(trace.result?.manifest?.serverCapabilities, 0);
    assert.equal(trace.result?.manifest?.clientCapabilities, 0);
    assert.deepEqual(trace.result?.proposals, [
      { major: 255, minor: 1, range: 0 },
      { major: 5, minor: 8, range: 8 },
      { major: 4, minor: 4, range: 2 },
      { major: 3, minor: 0, range: 0 },
    ]);
    assert.equal(Buffer.concat(trace.client).toString('hex'), HELLO_START);
    assert.equal(Buffer.concat(trace.server).toString('hex'), SERVER_MSG);
  });

  it('gives the same result when any of the three parts is split at any byte', () => {
    for (const [name, bytes] of [
      ['client', client],
      ['server', server],
      ['selection', selection],
    ] as const) {
      for (let i = 1; i < bytes.length; i++) {
        const steps: Array<['c' | 's', Buffer]> = [
          ...(name === 'client' ? split('c', client, i) : [['c', client] as ['c', Buffer]]),
          ...(name === 'server' ? split('s', server, i) : [['s', server] as ['s', Buffer]]),
          ...(name === 'selection' ? split('c', selection, i) : [['c', selection] as ['c', Buffer]]),
        ];
        const trace = run(steps);
        assert.deepEqual(trace.result?.version, { major: 5, minor: 8 }, `${name} split at ${i}`);
        assert.equal(Buffer.concat(trace.client).toString('hex'), HELLO_START, `${name} split at ${i}`);
        assert.equal(Buffer.concat(trace.server).toString('hex'), SERVER_MSG, `${name} split at ${i}`);
      }
    }
  });

  it('follows the legacy answer (one version), with the client\'s first message in the same packet', () => {
    const c = hex('6060b017 00000404 00000000 00000000 00000000');
    const trace = run([
      ['c', c],
      ['s', hex('00000404' + SERVER_MSG)],
      ['c', hex(HELLO_START)],
    ]);
    assert.deepEqual(trace.result?.version, { major: 4, minor: 4 });
    assert.equal(trace.result?.manifest, undefined);
    assert.equal(Buffer.concat(trace.server).toString('hex'), SERVER_MSG);
    assert.equal(Buffer.concat(trace.client).toString('hex'), HELLO_START);
  });

  it('holds client bytes that arrive before the server has chosen', () => {
    const c = Buffer.concat([hex('6060b017 00000804 00000000 00000000 00000000'), hex(HELLO_START)]);
    const trace = run([
      ['c', c],
      ['s', hex('00000805')],
    ]);
    assert.deepEqual(trace.result?.version, { major: 5, minor: 8 });
    assert.equal(Buffer.concat(trace.client).toString('hex'), HELLO_START);
  });

  it('notes a refusal (00 00 00 00) and throws on a connection that is not Bolt', () => {
    const { t } = tracker();
    t.client(hex('6060b017 00000405 00000000 00000000 00000000'));
    t.server(hex('00000000'));
    assert.equal(t.refused, true);
    assert.equal(t.done, false);
    assert.throws(() => tracker().t.client(Buffer.from('GET / HTTP/1.1\r\n')), HandshakeError);
    assert.throws(() => tracker().t.client(hex('6061')), /Bolt magic/);
    const h = tracker().t;
    h.client(hex(CLIENT));
    assert.throws(() => h.server(Buffer.from('HTTP/1.1 400')), /HTTP/);
    const m2 = tracker().t;
    m2.client(hex(CLIENT));
    assert.throws(() => m2.server(hex('000002ff')), /manifest v2/);
  });
});

describe('handshake helpers', () => {
  it('parses proposals with ranges and expands ranges highest first', () => {
    const pre = parseClientPreamble(hex(CLIENT))!;
    assert.deepEqual(expandRanges(pre.proposals.slice(1, 3)).map((v) => `${v.major}.${v.minor}`), ['5.8', '5.7', '5.6', '5.5', '5.4', '5.3', '5.2', '5.1', '5.0', '4.4', '4.3', '4.2']);
    assert.equal(parseClientPreamble(hex(CLIENT).subarray(0, 19)), null);
  });

  it('reads and writes LEB128 varints', () => {
    for (const v of [0, 1, 127, 128, 300, 16_383, 16_384, 2 ** 31, 2 ** 40]) {
      const b = encodeVarint(v);
      assert.deepEqual(readVarint(b, 0), { value: v, next: b.length }, String(v));
      assert.equal(readVarint(b.subarray(0, b.length - 1), 0), null);
    }
    assert.deepEqual([...encodeVarint(300)], [0xac, 0x02]);
    assert.throws(() => readVarint(Buffer.alloc(11, 0xff), 0), HandshakeError);
  });

  it('taps 4.x, 5.x and 6.x only', () => {
    assert.ok(isTappable({ major: 4, minor: 4 }));
    assert.ok(isTappable({ major: 5, minor: 0 }));
    assert.ok(isTappable({ major: 5, minor: 8 }));
    assert.ok(isTappable({ major: 6, minor: 0 }));
    assert.ok(!isTappable({ major: 3, minor: 0 }));
    assert.ok(!isTappable({ major: 7, minor: 0 }));
  });
});
