/** PackStream reader and writer against byte vectors (markers from the PackStream specification). */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { PackReader, PackStreamError, PackStruct, PackWriter } from '../../daemon/sources/bolt-proxy/packstream.js';
import { captureParams, cutText, plain } from '../../daemon/sources/bolt-proxy/values.js';
import { hex } from '../helpers/bolt-wire.js';

const read = (h: string): unknown => {
  const b = hex(h);
  const r = new PackReader(b);
  const v = r.value();
  assert.equal(r.pos, b.length, `value ${h} must be read to its end`);
  const s = new PackReader(b);
  s.skip();
  assert.equal(s.pos, b.length, `skip over ${h} must end where the value ends`);
  return v;
};
const write = (v: unknown): string => new PackWriter().value(v).toBuffer().toString('hex');

describe('PackStream reader', () => {
  it('reads integers of every width at their boundaries', () => {
    const cases: Array<[string, number | bigint]> = [
      ['00', 0],
      ['7f', 127],
      ['f0', -16],
      ['ff', -1],
      ['c8ef', -17],
      ['c880', -128],
      ['c90080', 128],
      ['c97fff', 32767],
      ['c98000', -32768],
      ['ca00008000', 32768],
      ['ca7fffffff', 2147483647],
      ['ca80000000', -2147483648],
      ['cb0000000080000000', 2147483648],
      ['cb001fffffffffffff', Number.MAX_SAFE_INTEGER],
      ['cb0020000000000000', 9007199254740992n],
      ['cb7fffffffffffffff', 9223372036854775807n],
      ['cb8000000000000000', -9223372036854775808n],
    ];
    for (const [h, v] of cases) {
      assert.equal(read(h), v, h);
      assert.equal(write(v), h, `encoding ${String(v)}`);
    }
  });

  it('reads null, booleans, floats, strings (tiny, 8-, 16-bit lengths, UTF-8) and bytes', () => {
    assert.equal(read('c0'), null);
    assert.equal(read('c3'), true);
    assert.equal(read('c2'), false);
    assert.equal(read('c13ff199999999999a'), 1.1);
    assert.equal(read('c1bff0000000000000'), -1);
    assert.equal(read('80'), '');
    assert.equal(read('8161'), 'a');
    assert.equal(read('8f' + '61'.repeat(15)), 'a'.repeat(15));
    assert.equal(read('d010' + '61'.repeat(16)), 'a'.repeat(16));
    assert.equal(read('d10100' + '62'.repeat(256)), 'b'.repeat(256));
    assert.equal(read('d2' + '00000003' + '616263'), 'abc');
    assert.equal(read('86c3a5c3a4c3b6'), 'åäö');
    assert.equal(read('84f09f9880'), '😀');
    assert.deepEqual(read('cc03010203'), Buffer.from([1, 2, 3]));
    assert.deepEqual(read('cd0002ffee'), Buffer.from([0xff, 0xee]));
    assert.equal(write('a'.repeat(16)), 'd010' + '61'.repeat(16));
    assert.equal(write(1.1), 'c13ff199999999999a');
  });

  it('reads lists, maps and structures, nested', () => {
    assert.deepEqual(read('93010203'), [1, 2, 3]);
    assert.deepEqual(read('d411' + '01'.repeat(17)), Array(17).fill(1));
    assert.deepEqual(read('d50001c0'), [null]);
    assert.deepEqual(read('a0'), {});
    assert.deepEqual(read('a2816101816292c3c2'), { a: 1, b: [true, false] });
    assert.deepEqual(read('d8018161a18162c0'), { a: { b: null } });
    const s = read('b37086616e7377657201a0') as PackStruct;
    assert.ok(s instanceof PackStruct);
    assert.equal(s.signature, 0x70);
    assert.deepEqual(s.fields, ['answer', 1, {}]);
    assert.equal(write({ a: 1, b: [true, false] }), 'a2816101816292c3c2');
    assert.equal(write(new PackStruct(0x44, [19000])), 'b144c94a38');
  });

  it('throws PackStreamError on unknown markers, values past the end and absurd sizes', () => {
    for (const h of ['c4', 'c7', 'cf', 'd3', 'd7', 'db', 'ef', 'e0']) {
      assert.throws(() => new PackReader(hex(h)).value(), PackStreamError, h);
      assert.throws(() => new PackReader(hex(h)).skip(), PackStreamError, h);
    }
    for (const h of ['c9ff', 'cb00000000', '8561', 'd0', 'd105', '93 01 02', 'a1 8161', 'ccff00', 'd6ffffffff', 'daffffffff']) {
      assert.throws(() => new PackReader(hex(h)).value(), PackStreamError, h);
      assert.throws(() => new PackReader(hex(h)).skip(), PackStreamError, h);
    }
    assert.throws(() => new PackReader(hex('91'.repeat(100) + 'c0')).value(), /nested deeper/);
    assert.throws(() => new PackReader(hex('93')).structHeader(), /Expected a PackStream structure/);
  });

  it('does not let a map key named __proto__ change the prototype', () => {
    const v = read('a189 5f5f70726f746f5f5f a1 8178 01'.replace(/ /g, '')) as Record<string, unknown>;
    assert.equal(Object.getPrototypeOf(v), Object.prototype);
    assert.deepEqual(Object.keys(v), ['__proto__']);
  });
});

describe('captureParams and values', () => {
  // RUN params {s: 'x', i: 1, f: 2.0, b: true, n: null, l: [1], m: {a: 1}, d: Date(19000), by: bytes[2], p: Point2D}
  const params = new PackWriter()
    .header('map', 10)
    .string('s').string('x')
    .string('i').int(1)
    .string('f').float(2)
    .string('b').value(true)
    .string('n').value(null)
    .string('l').value([1])
    .string('m').value({ a: 1 })
    .string('d').value(new PackStruct(0x44, [19000]))
    .string('by').value(Buffer.from([1, 2]))
    .string('p').structHeader(3, 0x58).int(7203).float(1.5).float(2.5)
    .toBuffer();
  const ref = { body: params, offset: 0 };

  it('keys: names with their type, floats that look whole still Float', () => {
    assert.deepEqual(captureParams(ref, 'keys', 100), {
      s: 'String', i: 'Integer', f: 'Float', b: 'Boolean', n: 'Null', l: 'List', m: 'Map', d: 'Date', by: 'Bytes', p: 'Point',
    });
  });

  it('full: JSON-safe values, temporal as ISO text; none: nothing', () => {
    assert.deepEqual(captureParams(ref, 'full', 100), {
      s: 'x', i: 1, f: 2, b: true, n: null, l: [1], m: { a: 1 }, d: '2022-01-08', by: { type: 'Bytes', length: 2 }, p: { srid: 7203, x: 1.5, y: 2.5 },
    });
    assert.equal(captureParams(ref, 'none', 100), undefined);
    assert.equal(plain(2n ** 60n, 10), '1152921504606846976');
    // DateTime (5.0+ UTC seconds) 2024-05-01T10:00:00+02:00 = 1714550400 UTC seconds, offset 7200
    assert.equal(plain(new PackStruct(0x49, [1714550400, 0, 7200]), 10), '2024-05-01T10:00:00+02:00');
    assert.equal(plain(new PackStruct(0x74, [3_723_000_000_001n]), 10), '01:02:03.000000001');
    assert.equal(plain(new PackStruct(0x45, [14, 3, 61, 500_000_000]), 10), 'P14M3DT61.5S');
  });

  it('cuts long text with a marker that says how long it was, never inside a surrogate pair', () => {
    assert.deepEqual(cutText('abc', 3), { text: 'abc', cut: false });
    assert.equal(cutText('abcdef', 3).text, 'abc…[cut by Heimdall: 6 characters in all]');
    const t = cutText('a😀b', 2).text;
    assert.ok(t.startsWith('a…'), t);
  });
});
