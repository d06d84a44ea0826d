/** Chunk de-framing against byte vectors, with the stream split at every byte boundary. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Deframer, frame, type DeframedMessage } from '../../daemon/sources/bolt-proxy/framing.js';
import { hex } from '../helpers/bolt-wire.js';

// A real server stream (Neo4j 5.26, Bolt 5.8): SUCCESS {t_first, fields, qid}, RECORD [1], SUCCESS {…, type 'r', t_last, db}.
const RUN_SUCCESS = '001db170a387745f6669727374c901fb866669656c647391817883716964000000';
const RECORD_1 = '0004b17191010000';
const PULL_SUCCESS =
  '0068b170a488737461747573657391a28a67716c5f737461747573853030303030d0127374617475735f6465736372697074696f6ed01b6e6f74653a207375636365737366756c20636f6d706c6574696f6e8474797065817286745f6c6173741f826462856e656f346a0000';

function collectAll(stream: Buffer, splits: number[], max = 1 << 20, collect = (s: number) => s !== 0x71): { msgs: DeframedMessage[]; d: Deframer } {
  const msgs: DeframedMessage[] = [];
  const d = new Deframer({ collect, maxMessageBytes: max }, (m) => msgs.push(m));
  let last = 0;
  for (const s of [...splits, stream.length]) {
    d.push(stream.subarray(last, s));
    last = s;
  }
  return { msgs, d };
}

const summary = (ms: DeframedMessage[]) => ms.map((m) => ({ sig: m.signature, marker: m.marker, size: m.size, body: m.body?.toString('hex') ?? null, truncated: m.truncated }));

describe('Deframer', () => {
  const stream = hex(RUN_SUCCESS + '0000' + RECORD_1 + '0000' + PULL_SUCCESS); // with two NOOPs between messages
  const whole = collectAll(stream, []);

  it('reads the messages of a real server stream, skips NOOPs and does not keep RECORD bodies', () => {
    assert.deepEqual(
      whole.msgs.map((m) => [m.signature, m.size, m.body === null]),
      [
        [0x70, 0x1d, false],
        [0x71, 4, true],
        [0x70, 0x68, false],
      ],
    );
    assert.equal(whole.msgs[0]!.body!.toString('hex'), RUN_SUCCESS.slice(4, -4));
    assert.equal(whole.d.noops, 2);
    assert.ok(whole.d.atBoundary);
  });

  it('gives the same messages whichever byte the stream is split at (one split, and every byte alone)', () => {
    const expected = summary(whole.msgs);
    for (let i = 1; i < stream.length; i++) assert.deepEqual(summary(collectAll(stream, [i]).msgs), expected, `split at ${i}`);
    const everyByte = Array.from({ length: stream.length - 1 }, (_, i) => i + 1);
    assert.deepEqual(summary(collectAll(stream, everyByte).msgs), expected);
    // two splits at all pairs in the first 40 bytes
    for (let i = 1; i < 40; i++) for (let j = i + 1; j < 40; j++) assert.deepEqual(summary(collectAll(stream, [i, j]).msgs), expected, `split at ${i},${j}`);
  });

  it('joins a message sent as several chunks, and reports a body split before its signature byte', () => {
    const body = hex('b170a1816101');
    const multi = Buffer.concat([hex('0001'), body.subarray(0, 1), hex('0002'), body.subarray(1, 3), hex('0003'), body.subarray(3), hex('0000')]);
    for (let i = 0; i <= multi.length; i++) {
      const { msgs } = collectAll(multi, i === 0 || i === multi.length ? [] : [i]);
      assert.equal(msgs.length, 1);
      assert.equal(msgs[0]!.signature, 0x70);
      assert.equal(msgs[0]!.body!.toString('hex'), body.toString('hex'), `split at ${i}`);
    }
  });

  it('keeps at most maxMessageBytes of a body and marks it truncated', () => {
    const big = Buffer.concat([hex('b310'), Buffer.alloc(100_000, 0x61)]);
    const { msgs } = collectAll(frame(big), [3, 70_000], 1000, () => true);
    assert.equal(msgs.length, 1);
    assert.equal(msgs[0]!.size, big.length);
    assert.equal(msgs[0]!.body!.length, 1000);
    assert.ok(msgs[0]!.truncated);
    assert.deepEqual(msgs[0]!.body, big.subarray(0, 1000));
  });

  it('does not keep references to the buffers it was given', () => {
    const input = hex(RUN_SUCCESS);
    const { msgs } = collectAll(input, []);
    input.fill(0);
    assert.equal(msgs[0]!.body!.toString('hex'), RUN_SUCCESS.slice(4, -4));
  });

  it('feed() stops just past the end marker of each message, so a caller can cut the stream there', () => {
    const msgs: DeframedMessage[] = [];
    const d = new Deframer({ collect: () => true, maxMessageBytes: 1 << 20 }, (m) => msgs.push(m));
    const ends: number[] = [];
    for (let p = 0; ; ) {
      const e = d.feed(stream, p);
      if (e < 0) break;
      ends.push(e);
      p = e;
    }
    const a = RUN_SUCCESS.length / 2;
    const b = a + 2 + RECORD_1.length / 2;
    assert.deepEqual(ends, [a, b, stream.length]);
  });
});

describe('frame', () => {
  it('frames small and large bodies as chunks of at most 65535 bytes and ends with 00 00', () => {
    assert.equal(frame(hex('b0 0f')).toString('hex'), '0002b00f0000');
    const big = Buffer.alloc(70_000, 7);
    const f = frame(big);
    assert.equal(f.readUInt16BE(0), 0xffff);
    assert.equal(f.readUInt16BE(2 + 0xffff), 70_000 - 0xffff);
    assert.equal(f.length, 70_000 + 6);
    assert.equal(f.readUInt16BE(f.length - 2), 0);
    const { msgs } = collectAll(f, [], 1 << 20, () => true);
    assert.deepEqual(msgs[0]!.body, big);
  });
});
