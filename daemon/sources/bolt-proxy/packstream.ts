/**
 * PackStream, the value encoding inside Bolt messages: a reader that decodes values (or skips them,
 * returning only their span) and a small writer used for the one message the proxy re-encodes
 * (ROUTE answers, see route-rewrite.ts).
 *
 * Markers (first byte of a value):
 *   00..7F tiny int 0..127, F0..FF tiny int -16..-1, C8/C9/CA/CB int 8/16/32/64,
 *   C0 null, C1 float 64, C2 false, C3 true,
 *   80..8F tiny string (length in the low nibble), D0/D1/D2 string with 8/16/32-bit length,
 *   90..9F tiny list, D4/D5/D6 list; A0..AF tiny map, D8/D9/DA map (keys are strings),
 *   B0..BF structure (field count in the low nibble, then one signature byte),
 *   CC/CD/CE bytes with 8/16/32-bit length.
 * Anything else (C4..C7, CF, D3, D7, DB..EF) is not PackStream: reading it throws PackStreamError,
 * which the tap turns into a pass-through connection.
 */

/** A structure the decoder does not interpret: its signature byte and decoded fields. */
export class PackStruct {
  constructor(
    readonly signature: number,
    readonly fields: unknown[],
  ) {}
}

/** The bytes could not be read as PackStream (unknown marker, or a value running past the end). */
export class PackStreamError extends Error {
  override name = 'PackStreamError';
}

/** Containers nested deeper than this are refused rather than recursed into. */
const MAX_DEPTH = 64;

export class PackReader {
  pos: number;
  constructor(
    readonly buf: Buffer,
    start = 0,
    readonly end = buf.length,
  ) {
    this.pos = start;
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  private need(n: number): void {
    if (this.pos + n > this.end) throw new PackStreamError(`A PackStream value runs past the end of its message (needs ${n} more byte(s) at offset ${this.pos} of ${this.end}).`);
  }

  u8(): number {
    this.need(1);
    return this.buf[this.pos++]!;
  }

  private u16(): number {
    this.need(2);
    const v = this.buf.readUInt16BE(this.pos);
    this.pos += 2;
    return v;
  }

  private u32(): number {
    this.need(4);
    const v = this.buf.readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }

  /** Reads a structure header: returns its field count and signature. Throws when the next value is not a structure. */
  structHeader(): { size: number; signature: number } {
    const m = this.u8();
    if (m < 0xb0 || m > 0xbf) throw new PackStreamError(`Expected a PackStream structure, found marker 0x${m.toString(16)}.`);
    return { size: m & 0x0f, signature: this.u8() };
  }

  /** Reads a list or map header: the number of items (map: entries). `kind` says which is expected. */
  containerHeader(kind: 'list' | 'map'): number {
    const m = this.u8();
    const tiny = kind === 'list' ? 0x90 : 0xa0;
    if (m >= tiny && m <= tiny + 0x0f) return m & 0x0f;
    const base = kind === 'list' ? 0xd4 : 0xd8;
    if (m === base) return this.u8();
    if (m === base + 1) return this.u16();
    if (m === base + 2) return this.u32();
    throw new PackStreamError(`Expected a PackStream ${kind}, found marker 0x${m.toString(16)}.`);
  }

  /** Reads a string value (throws if the next value is not a string). */
  string(): string {
    const m = this.u8();
    return this.stringBody(m);
  }

  private stringBody(m: number): string {
    let n: number;
    if (m >= 0x80 && m <= 0x8f) n = m & 0x0f;
    else if (m === 0xd0) n = this.u8();
    else if (m === 0xd1) n = this.u16();
    else if (m === 0xd2) n = this.u32();
    else throw new PackStreamError(`Expected a PackStream string, found marker 0x${m.toString(16)}.`);
    this.need(n);
    const s = this.buf.toString('utf8', this.pos, this.pos + n);
    this.pos += n;
    return s;
  }

  /** Decodes the next value: null, boolean, number (integers outside ±2^53 as bigint), string, Buffer, array, plain object, PackStruct. */
  value(depth = 0): unknown {
    if (depth > MAX_DEPTH) throw new PackStreamError(`PackStream values are nested deeper than ${MAX_DEPTH} levels.`);
    const m = this.u8();
    if (m <= 0x7f) return m;
    if (m >= 0xf0) return m - 0x100;
    const hi = m & 0xf0;
    if (hi === 0x80) return this.stringBody(m);
    if (hi === 0x90) return this.listBody(m & 0x0f, depth);
    if (hi === 0xa0) return this.mapBody(m & 0x0f, depth);
    if (hi === 0xb0) return this.structBody(m & 0x0f, depth);
    switch (m) {
      case 0xc0:
        return null;
      case 0xc1: {
        this.need(8);
        const v = this.buf.readDoubleBE(this.pos);
        this.pos += 8;
        return v;
      }
      case 0xc2:
        return false;
      case 0xc3:
        return true;
      case 0xc8: {
        this.need(1);
        return this.buf.readInt8(this.pos++);
      }
      case 0xc9: {
        this.need(2);
        const v = this.buf.readInt16BE(this.pos);
        this.pos += 2;
        return v;
      }
      case 0xca: {
        this.need(4);
        const v = this.buf.readInt32BE(this.pos);
        this.pos += 4;
        return v;
      }
      case 0xcb: {
        this.need(8);
        const v = this.buf.readBigInt64BE(this.pos);
        this.pos += 8;
        return v >= -9007199254740991n && v <= 9007199254740991n ? Number(v) : v;
      }
      case 0xcc:
      case 0xcd:
      case 0xce: {
        const n = m === 0xcc ? this.u8() : m === 0xcd ? this.u16() : this.u32();
        this.need(n);
        const b = Buffer.from(this.buf.subarray(this.pos, this.pos + n));
        this.pos += n;
        return b;
      }
      case 0xd0:
      case 0xd1:
      case 0xd2:
        return this.stringBody(m);
      case 0xd4:
        return this.listBody(this.u8(), depth);
      case 0xd5:
        return this.listBody(this.u16(), depth);
      case 0xd6:
        return this.listBody(this.u32(), depth);
      case 0xd8:
        return this.mapBody(this.u8(), depth);
      case 0xd9:
        return this.mapBody(this.u16(), depth);
      case 0xda:
        return this.mapBody(this.u32(), depth);
      default:
        throw new PackStreamError(`0x${m.toString(16)} at offset ${this.pos - 1} is not a PackStream marker.`);
    }
  }

  private listBody(n: number, depth: number): unknown[] {
    // Every item takes at least one byte: a count larger than what is left cannot be right.
    this.need(n);
    const out = new Array<unknown>(n);
    for (let i = 0; i < n; i++) out[i] = this.value(depth + 1);
    return out;
  }

  private mapBody(n: number, depth: number): Record<string, unknown> {
    this.need(n * 2);
    const out: Record<string, unknown> = {};
    for (let i = 0; i < n; i++) {
      const k = this.string();
      const v = this.value(depth + 1);
      if (k === '__proto__') Object.defineProperty(out, k, { value: v, enumerable: true, configurable: true, writable: true });
      else out[k] = v;
    }
    return out;
  }

  private structBody(n: number, depth: number): PackStruct {
    const signature = this.u8();
    const fields = new Array<unknown>(n);
    for (let i = 0; i < n; i++) fields[i] = this.value(depth + 1);
    return new PackStruct(signature, fields);
  }

  /** Skips the next value without building it; returns the offset where it started. */
  skip(depth = 0): number {
    const start = this.pos;
    if (depth > MAX_DEPTH) throw new PackStreamError(`PackStream values are nested deeper than ${MAX_DEPTH} levels.`);
    const m = this.u8();
    if (m <= 0x7f || m >= 0xf0) return start;
    const hi = m & 0xf0;
    let items = 0;
    let perItem = 1;
    if (hi === 0x80) this.advance(m & 0x0f);
    else if (hi === 0x90) items = m & 0x0f;
    else if (hi === 0xa0) (items = m & 0x0f), (perItem = 2);
    else if (hi === 0xb0) (items = m & 0x0f), this.advance(1);
    else
      switch (m) {
        case 0xc0:
        case 0xc2:
        case 0xc3:
          break;
        case 0xc8:
          this.advance(1);
          break;
        case 0xc9:
          this.advance(2);
          break;
        case 0xca:
          this.advance(4);
          break;
        case 0xc1:
        case 0xcb:
          this.advance(8);
          break;
        case 0xcc:
        case 0xd0:
          this.advance(this.u8());
          break;
        case 0xcd:
        case 0xd1:
          this.advance(this.u16());
          break;
        case 0xce:
        case 0xd2:
          this.advance(this.u32());
          break;
        case 0xd4:
          items = this.u8();
          break;
        case 0xd5:
          items = this.u16();
          break;
        case 0xd6:
          items = this.u32();
          break;
        case 0xd8:
          (items = this.u8()), (perItem = 2);
          break;
        case 0xd9:
          (items = this.u16()), (perItem = 2);
          break;
        case 0xda:
          (items = this.u32()), (perItem = 2);
          break;
        default:
          throw new PackStreamError(`0x${m.toString(16)} at offset ${start} is not a PackStream marker.`);
      }
    for (let i = 0, n = items * perItem; i < n; i++) this.skip(depth + 1);
    return start;
  }

  private advance(n: number): void {
    this.need(n);
    this.pos += n;
  }
}

/** Appends PackStream encodings to a growing list of buffers. Covers what the proxy writes: null, booleans, integers, floats, strings, lists, maps. */
export class PackWriter {
  private parts: Buffer[] = [];
  size = 0;

  raw(b: Buffer): this {
    this.parts.push(b);
    this.size += b.length;
    return this;
  }

  private bytes(...b: number[]): void {
    this.raw(Buffer.from(b));
  }

  header(kind: 'list' | 'map', n: number): this {
    const tiny = kind === 'list' ? 0x90 : 0xa0;
    const base = kind === 'list' ? 0xd4 : 0xd8;
    if (n < 16) this.bytes(tiny + n);
    else if (n < 0x100) this.bytes(base, n);
    else if (n < 0x10000) this.bytes(base + 1, n >> 8, n & 0xff);
    else {
      const b = Buffer.alloc(5);
      b[0] = base + 2;
      b.writeUInt32BE(n, 1);
      this.raw(b);
    }
    return this;
  }

  structHeader(size: number, signature: number): this {
    this.bytes(0xb0 + size, signature);
    return this;
  }

  string(s: string): this {
    const body = Buffer.from(s, 'utf8');
    const n = body.length;
    if (n < 16) this.bytes(0x80 + n);
    else if (n < 0x100) this.bytes(0xd0, n);
    else if (n < 0x10000) this.bytes(0xd1, n >> 8, n & 0xff);
    else {
      const b = Buffer.alloc(5);
      b[0] = 0xd2;
      b.writeUInt32BE(n, 1);
      this.raw(b);
    }
    return this.raw(body);
  }

  int(v: number | bigint): this {
    const n = BigInt(v);
    if (n >= -16n && n <= 127n) this.bytes(Number(n) & 0xff);
    else if (n >= -128n && n <= 127n) this.bytes(0xc8, Number(n) & 0xff);
    else if (n >= -32768n && n <= 32767n) {
      const b = Buffer.alloc(3);
      b[0] = 0xc9;
      b.writeInt16BE(Number(n), 1);
      this.raw(b);
    } else if (n >= -2147483648n && n <= 2147483647n) {
      const b = Buffer.alloc(5);
      b[0] = 0xca;
      b.writeInt32BE(Number(n), 1);
      this.raw(b);
    } else {
      const b = Buffer.alloc(9);
      b[0] = 0xcb;
      b.writeBigInt64BE(n, 1);
      this.raw(b);
    }
    return this;
  }

  float(v: number): this {
    const b = Buffer.alloc(9);
    b[0] = 0xc1;
    b.writeDoubleBE(v, 1);
    return this.raw(b);
  }

  /** Encodes a JavaScript value: integers (Number.isInteger or bigint) as PackStream integers, other numbers as floats. */
  value(v: unknown): this {
    if (v === null || v === undefined) this.bytes(0xc0);
    else if (v === true) this.bytes(0xc3);
    else if (v === false) this.bytes(0xc2);
    else if (typeof v === 'bigint') this.int(v);
    else if (typeof v === 'number') Number.isInteger(v) ? this.int(v) : this.float(v);
    else if (typeof v === 'string') this.string(v);
    else if (Buffer.isBuffer(v)) {
      if (v.length < 0x100) this.bytes(0xcc, v.length);
      else if (v.length < 0x10000) this.bytes(0xcd, v.length >> 8, v.length & 0xff);
      else {
        const b = Buffer.alloc(5);
        b[0] = 0xce;
        b.writeUInt32BE(v.length, 1);
        this.raw(b);
      }
      this.raw(v);
    } else if (Array.isArray(v)) {
      this.header('list', v.length);
      for (const x of v) this.value(x);
    } else if (v instanceof PackStruct) {
      this.structHeader(v.fields.length, v.signature);
      for (const x of v.fields) this.value(x);
    } else if (typeof v === 'object') {
      const entries = Object.entries(v as Record<string, unknown>);
      this.header('map', entries.length);
      for (const [k, x] of entries) this.string(k).value(x);
    } else throw new TypeError(`PackWriter cannot encode a ${typeof v}.`);
    return this;
  }

  toBuffer(): Buffer {
    return this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts, this.size);
  }
}
