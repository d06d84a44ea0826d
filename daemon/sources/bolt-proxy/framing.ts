/**
 * Bolt chunk framing, read incrementally from a byte stream that TCP may split anywhere.
 *
 * After the handshake every message travels as chunks: a two-byte big-endian length, then that many
 * bytes; a chunk of length 0 (`00 00`) ends the message. A `00 00` between messages is a NOOP
 * (keep-alive) and carries nothing. Every message body is one PackStream structure, so its first two
 * bytes are the structure marker (B0..BF) and the message signature.
 *
 * The Deframer never holds on to the caller's buffers: what it keeps (bodies it collects) is copied.
 * Bodies are collected only for signatures the caller asks for (the server's RECORDs are counted,
 * not kept), and only up to maxMessageBytes (beyond that the head is kept and `truncated` is set).
 */

export interface DeframedMessage {
  /** First byte of the body (a PackStream structure marker, B0..BF), or -1 for an empty body. */
  marker: number;
  /** Second byte of the body: the message signature, or -1 when the body is shorter than 2 bytes. */
  signature: number;
  /** Total body length in bytes. */
  size: number;
  /** The body (or its first maxMessageBytes when truncated); null when the signature was not collected. */
  body: Buffer | null;
  truncated: boolean;
}

export interface DeframerOptions {
  /** Whether to keep the body of a message with this signature. */
  collect(signature: number): boolean;
  /** Most bytes kept of one body. */
  maxMessageBytes: number;
}

export class Deframer {
  /** NOOP chunks seen. */
  noops = 0;
  /** Messages completed. */
  messages = 0;
  private headerPending = false;
  private headerHi = 0;
  private chunkLeft = 0;
  private msgSize = 0;
  private marker = -1;
  private signature = -1;
  private collecting = false;
  private parts: Buffer[] = [];
  private collected = 0;
  private truncated = false;

  constructor(
    private readonly opts: DeframerOptions,
    private readonly onMessage: (m: DeframedMessage) => void,
  ) {}

  /** True between messages: no chunk header, chunk or message body is half read. */
  get atBoundary(): boolean {
    return !this.headerPending && this.chunkLeft === 0 && this.msgSize === 0;
  }

  /** Processes every byte of `buf`. */
  push(buf: Buffer): void {
    let p = 0;
    while (p < buf.length) {
      const e = this.feed(buf, p);
      if (e < 0) return;
      p = e;
    }
  }

  /**
   * Processes `buf` from `start` up to and including the end marker of the next complete message
   * (onMessage has been called; returns the offset just past its `00 00`), or to the end of `buf`
   * (returns -1).
   */
  feed(buf: Buffer, start: number): number {
    const n = buf.length;
    let p = start;
    while (p < n) {
      if (this.chunkLeft > 0) {
        const take = Math.min(this.chunkLeft, n - p);
        this.payload(buf, p, take);
        p += take;
        this.chunkLeft -= take;
        continue;
      }
      let size: number;
      if (this.headerPending) {
        size = (this.headerHi << 8) | buf[p]!;
        this.headerPending = false;
        p += 1;
      } else if (p + 1 < n) {
        size = (buf[p]! << 8) | buf[p + 1]!;
        p += 2;
      } else {
        this.headerHi = buf[p]!;
        this.headerPending = true;
        return -1;
      }
      if (size !== 0) {
        this.chunkLeft = size;
        continue;
      }
      if (this.msgSize === 0) {
        this.noops++;
        continue;
      }
      this.finish();
      return p;
    }
    return -1;
  }

  private payload(buf: Buffer, p: number, take: number): void {
    const before = this.msgSize;
    this.msgSize += take;
    if (before < 2) {
      if (before === 0) this.marker = buf[p]!;
      if (before + take < 2) return; // only the marker so far
      this.signature = buf[p + 1 - before]!;
      this.collecting = this.opts.collect(this.signature);
      if (!this.collecting) return;
      if (before === 1) this.keep(Buffer.from([this.marker]), 0, 1);
    } else if (!this.collecting) return;
    this.keep(buf, p, take);
  }

  private keep(buf: Buffer, p: number, take: number): void {
    const room = this.opts.maxMessageBytes - this.collected;
    if (room <= 0) {
      this.truncated = true;
      return;
    }
    const n = Math.min(room, take);
    if (n < take) this.truncated = true;
    this.parts.push(Buffer.from(buf.subarray(p, p + n)));
    this.collected += n;
  }

  private finish(): void {
    const m: DeframedMessage = {
      marker: this.marker,
      signature: this.signature,
      size: this.msgSize,
      body: this.collecting ? (this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts, this.collected)) : null,
      truncated: this.truncated,
    };
    this.msgSize = 0;
    this.marker = -1;
    this.signature = -1;
    this.collecting = false;
    this.parts = [];
    this.collected = 0;
    this.truncated = false;
    this.messages++;
    this.onMessage(m);
  }
}

/** Frames one message body as chunks of at most `maxChunk` bytes followed by `00 00`. */
export function frame(body: Buffer, maxChunk = 0xffff): Buffer {
  const chunks = Math.max(1, Math.ceil(body.length / maxChunk));
  const out = Buffer.alloc(body.length + chunks * 2 + 2);
  let o = 0;
  for (let i = 0; i < body.length; i += maxChunk) {
    const n = Math.min(maxChunk, body.length - i);
    out.writeUInt16BE(n, o);
    body.copy(out, o + 2, i, i + n);
    o += 2 + n;
  }
  out.writeUInt16BE(0, o);
  return out.subarray(0, o + 2);
}
