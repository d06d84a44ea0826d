/**
 * Bolt bytes for tests: framed messages, handshakes, and a minimal raw Bolt client that speaks any
 * version over TCP (for versions neo4j-driver would not pick by itself, and for pass-through tests).
 */
import net from 'node:net';
import { frame } from '../../daemon/sources/bolt-proxy/framing.js';
import { PackReader, PackStruct, PackWriter } from '../../daemon/sources/bolt-proxy/packstream.js';

export const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

/** One message (structure `sig` with `fields`), framed. */
export function msg(sig: number, ...fields: unknown[]): Buffer {
  return frame(new PackWriter().value(new PackStruct(sig, fields)).toBuffer());
}

/** Integers that must go on the wire as PackStream integers even where JS would see a float. */
export const S = {
  HELLO: 0x01,
  GOODBYE: 0x02,
  RESET: 0x0f,
  RUN: 0x10,
  BEGIN: 0x11,
  COMMIT: 0x12,
  ROLLBACK: 0x13,
  DISCARD: 0x2f,
  PULL: 0x3f,
  TELEMETRY: 0x54,
  ROUTE: 0x66,
  LOGON: 0x6a,
  LOGOFF: 0x6b,
  SUCCESS: 0x70,
  RECORD: 0x71,
  IGNORED: 0x7e,
  FAILURE: 0x7f,
} as const;

/** The client's 20 handshake bytes for up to four [major, minor, range] proposals. */
export function clientHandshake(...proposals: Array<[number, number, number?]>): Buffer {
  const b = Buffer.alloc(20);
  b.set([0x60, 0x60, 0xb0, 0x17]);
  proposals.forEach(([major, minor, range], i) => b.set([0, range ?? 0, minor, major], 4 + i * 4));
  return b;
}

export interface RawMessage {
  signature: number;
  fields: unknown[];
}

/** Splits a byte stream of framed messages into decoded messages. */
export function parseMessages(bytes: Buffer): RawMessage[] {
  const out: RawMessage[] = [];
  let p = 0;
  let parts: Buffer[] = [];
  while (p + 2 <= bytes.length) {
    const n = bytes.readUInt16BE(p);
    p += 2;
    if (n === 0) {
      if (parts.length) {
        const body = Buffer.concat(parts);
        parts = [];
        const s = new PackReader(body).value() as PackStruct;
        out.push({ signature: s.signature, fields: s.fields });
      }
      continue;
    }
    parts.push(bytes.subarray(p, p + n));
    p += n;
  }
  return out;
}

/**
 * A tiny Bolt client: connect, shake hands with chosen proposals, then send messages and read whole
 * answers. Used to drive versions and byte sequences neo4j-driver would not produce.
 */
export class RawBoltClient {
  private buf = Buffer.alloc(0);
  private waiters: Array<() => void> = [];
  closed = false;
  readonly socket: net.Socket;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.on('data', (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.wake();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
    socket.on('error', () => {});
  }

  static async connect(address: string): Promise<RawBoltClient> {
    const i = address.lastIndexOf(':');
    const socket = net.connect({ host: address.slice(0, i), port: Number(address.slice(i + 1)) });
    await new Promise<void>((res, rej) => {
      socket.once('connect', () => res());
      socket.once('error', rej);
    });
    return new RawBoltClient(socket);
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  private async waitFor(n: number, timeoutMs = 15_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.buf.length < n) {
      if (this.closed) throw new Error(`The connection closed with ${this.buf.length} of ${n} expected bytes.`);
      if (Date.now() > deadline) throw new Error(`No ${n} bytes after ${timeoutMs} ms (have ${this.buf.length}).`);
      await new Promise<void>((res) => {
        this.waiters.push(res);
        setTimeout(res, 50).unref();
      });
    }
  }

  async take(n: number): Promise<Buffer> {
    await this.waitFor(n);
    const b = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    return Buffer.from(b);
  }

  /** Sends the handshake; returns the server's 4-byte answer [0, 0, minor, major]. */
  async handshake(...proposals: Array<[number, number, number?]>): Promise<Buffer> {
    this.socket.write(clientHandshake(...proposals));
    return this.take(4);
  }

  send(...messages: Buffer[]): void {
    this.socket.write(Buffer.concat(messages));
  }

  /** Reads the next whole message. */
  async next(): Promise<RawMessage> {
    const parts: Buffer[] = [];
    for (;;) {
      const n = (await this.take(2)).readUInt16BE(0);
      if (n === 0) {
        if (parts.length === 0) continue; // NOOP
        const s = new PackReader(Buffer.concat(parts)).value() as PackStruct;
        return { signature: s.signature, fields: s.fields };
      }
      parts.push(await this.take(n));
    }
  }

  /** Reads messages until one that is not a RECORD; returns the records and that summary. */
  async result(): Promise<{ records: unknown[][]; summary: RawMessage }> {
    const records: unknown[][] = [];
    for (;;) {
      const m = await this.next();
      if (m.signature !== S.RECORD) return { records, summary: m };
      records.push(m.fields[0] as unknown[]);
    }
  }

  close(): void {
    this.socket.destroy();
  }
}
