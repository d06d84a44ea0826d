/**
 * The Bolt handshake, followed on both directions of one connection.
 *
 *   client → server   60 60 B0 17, then four proposals of 4 bytes each: [00, range, minor, major]
 *                     (major.minor down to major.(minor - range)); 00 00 00 00 is an empty slot.
 *   server → client   4 bytes: the chosen [00, 00, minor, major], 00 00 00 00 for none, or the
 *                     manifest-v1 marker 00 00 01 FF (Bolt 5.7+ servers, when the client offered it).
 *   manifest v1       server: varint N, N version ranges (4 bytes each), varint capability mask;
 *                     client: the chosen version (4 bytes) and a varint capability mask.
 *
 * Varints are unsigned LEB128 (7 bits a byte, low bits first, high bit = more). The tracker hands on
 * the bytes after the handshake in each direction, holding back any that arrive before the version is
 * known (a client never sends messages before it has chosen, so this is only for odd peers).
 */

export const BOLT_MAGIC = Buffer.from([0x60, 0x60, 0xb0, 0x17]);

export interface BoltVersion {
  major: number;
  minor: number;
}

/** One proposal slot: major.minor and how many minors below it are also accepted. */
export interface VersionRange extends BoltVersion {
  range: number;
}

/** The handshake cannot be followed (not Bolt, or a form this code does not know). */
export class HandshakeError extends Error {
  override name = 'HandshakeError';
}

export function versionString(v: BoltVersion): string {
  return `${v.major}.${v.minor}`;
}

/** Reads the 4-byte word [reserved, range, minor, major] at `off`. */
export function decodeVersionWord(buf: Buffer, off = 0): VersionRange {
  return { range: buf[off + 1]!, minor: buf[off + 2]!, major: buf[off + 3]! };
}

export function encodeVersionWord(v: BoltVersion & { range?: number }): Buffer {
  return Buffer.from([0, v.range ?? 0, v.minor, v.major]);
}

/** True for the manifest-v1 marker 00 00 01 FF (read as version 255.1). */
export function isManifestV1(v: BoltVersion): boolean {
  return v.major === 0xff && v.minor === 1;
}

/** Versions whose messages the tap understands: 4.x, 5.x and 6.x. Others are relayed without being read. */
export function isTappable(v: BoltVersion): boolean {
  return v.major === 4 || v.major === 5 || v.major === 6;
}

/** Every version a list of ranges covers, highest first. */
export function expandRanges(ranges: readonly VersionRange[]): BoltVersion[] {
  const out: BoltVersion[] = [];
  for (const r of ranges) for (let m = r.minor; m >= Math.max(0, r.minor - r.range); m--) out.push({ major: r.major, minor: m });
  return out.sort((a, b) => b.major - a.major || b.minor - a.minor);
}

/** Reads an unsigned LEB128 varint; null when `buf` ends first. Values above 2^53 lose precision (capability masks are tiny today). */
export function readVarint(buf: Buffer, off: number): { value: number; next: number } | null {
  let value = 0;
  let scale = 1;
  for (let i = off; i < buf.length; i++) {
    if (i - off >= 10) throw new HandshakeError('A handshake varint is longer than 10 bytes.');
    const b = buf[i]!;
    value += (b & 0x7f) * scale;
    scale *= 128;
    if ((b & 0x80) === 0) return { value, next: i + 1 };
  }
  return null;
}

export function encodeVarint(value: number): Buffer {
  const out: number[] = [];
  let v = value;
  do {
    let b = v % 128;
    v = Math.floor(v / 128);
    if (v > 0) b |= 0x80;
    out.push(b);
  } while (v > 0);
  return Buffer.from(out);
}

export interface ClientPreamble {
  proposals: VersionRange[];
}

/** Parses the client's 20 bytes; null when fewer have arrived. Throws when the magic is wrong. */
export function parseClientPreamble(buf: Buffer): ClientPreamble | null {
  const magicSeen = Math.min(4, buf.length);
  if (!buf.subarray(0, magicSeen).equals(BOLT_MAGIC.subarray(0, magicSeen))) {
    throw new HandshakeError(`The connection did not start with the Bolt magic 60 60 B0 17 (it started with ${buf.subarray(0, magicSeen).toString('hex')}).`);
  }
  if (buf.length < 20) return null;
  const proposals: VersionRange[] = [];
  for (let i = 0; i < 4; i++) proposals.push(decodeVersionWord(buf, 4 + 4 * i));
  return { proposals };
}

export interface Manifest {
  ranges: VersionRange[];
  capabilities: number;
  /** Offset just past the manifest. */
  next: number;
}

/** Parses the server's manifest-v1 body at `off`; null when it has not all arrived. */
export function parseManifest(buf: Buffer, off: number): Manifest | null {
  const count = readVarint(buf, off);
  if (!count) return null;
  if (count.value > 256) throw new HandshakeError(`The server's handshake manifest lists ${count.value} version ranges, which is not plausible.`);
  let p = count.next;
  if (buf.length < p + 4 * count.value) return null;
  const ranges: VersionRange[] = [];
  for (let i = 0; i < count.value; i++, p += 4) ranges.push(decodeVersionWord(buf, p));
  const caps = readVarint(buf, p);
  if (!caps) return null;
  return { ranges, capabilities: caps.value, next: caps.next };
}

/** Parses the client's manifest-v1 selection at `off`; null when it has not all arrived. */
export function parseSelection(buf: Buffer, off: number): { version: BoltVersion; capabilities: number; next: number } | null {
  if (buf.length < off + 5) return null;
  const w = decodeVersionWord(buf, off);
  const caps = readVarint(buf, off + 4);
  if (!caps) return null;
  return { version: { major: w.major, minor: w.minor }, capabilities: caps.value, next: caps.next };
}

type ClientPhase = 'preamble' | 'await-choice' | 'selection' | 'messages';
type ServerPhase = 'choice' | 'manifest' | 'messages';

export interface HandshakeResult {
  version: BoltVersion;
  proposals: VersionRange[];
  /** Present when manifest v1 was used. */
  manifest?: { ranges: VersionRange[]; serverCapabilities: number; clientCapabilities: number };
}

/**
 * Follows both directions of one connection's handshake. Feed each direction's bytes as they come;
 * once the version is known, `onReady` is called, then the message-phase bytes of each direction go
 * to `onClientBytes` / `onServerBytes` (held ones first).
 */
export class HandshakeTracker {
  result: HandshakeResult | undefined;
  /** The server refused every proposal (00 00 00 00). */
  refused = false;
  private clientPhase: ClientPhase = 'preamble';
  private serverPhase: ServerPhase = 'choice';
  private clientBuf: Buffer = Buffer.alloc(0);
  private serverBuf: Buffer = Buffer.alloc(0);
  private proposals: VersionRange[] = [];
  private manifest: Manifest | undefined;

  constructor(
    private readonly onReady: (r: HandshakeResult) => void,
    private readonly onClientBytes: (b: Buffer) => void,
    private readonly onServerBytes: (b: Buffer) => void,
  ) {}

  get done(): boolean {
    return this.result !== undefined;
  }

  client(chunk: Buffer): void {
    if (this.clientPhase === 'messages' && this.result) return this.onClientBytes(chunk);
    this.clientBuf = this.clientBuf.length ? Buffer.concat([this.clientBuf, chunk]) : Buffer.from(chunk);
    this.stepClient();
  }

  server(chunk: Buffer): void {
    if (this.serverPhase === 'messages' && this.result) return this.onServerBytes(chunk);
    this.serverBuf = this.serverBuf.length ? Buffer.concat([this.serverBuf, chunk]) : Buffer.from(chunk);
    this.stepServer();
  }

  private stepClient(): void {
    if (this.clientPhase === 'preamble') {
      const pre = parseClientPreamble(this.clientBuf);
      if (!pre) return;
      this.proposals = pre.proposals;
      this.clientBuf = this.clientBuf.subarray(20);
      this.clientPhase = 'await-choice';
      this.stepServer();
      return;
    }
    if (this.clientPhase === 'selection') {
      const sel = parseSelection(this.clientBuf, 0);
      if (!sel) return;
      this.clientBuf = this.clientBuf.subarray(sel.next);
      const m = this.manifest!;
      this.finish({ version: sel.version, proposals: this.proposals, manifest: { ranges: m.ranges, serverCapabilities: m.capabilities, clientCapabilities: sel.capabilities } });
    }
  }

  private stepServer(): void {
    if (this.clientPhase === 'preamble') {
      if (this.serverBuf.length) throw new HandshakeError('The server sent bytes before the client had finished its handshake.');
      return;
    }
    if (this.serverPhase === 'choice') {
      if (this.serverBuf.length < 4) return;
      const w = decodeVersionWord(this.serverBuf, 0);
      if (this.serverBuf.subarray(0, 4).toString('latin1') === 'HTTP') throw new HandshakeError('The upstream answered the Bolt handshake with HTTP.');
      this.serverBuf = this.serverBuf.subarray(4);
      if (w.major === 0 && w.minor === 0) {
        this.refused = true;
        this.serverPhase = 'messages';
        return;
      }
      if (isManifestV1(w)) {
        this.serverPhase = 'manifest';
      } else if (w.major === 0xff) {
        throw new HandshakeError(`The server chose handshake manifest v${w.minor}, which this proxy cannot read.`);
      } else {
        this.serverPhase = 'messages';
        this.clientPhase = 'messages';
        this.finish({ version: { major: w.major, minor: w.minor }, proposals: this.proposals });
        return;
      }
    }
    if (this.serverPhase === 'manifest') {
      const m = parseManifest(this.serverBuf, 0);
      if (!m) return;
      this.manifest = m;
      this.serverBuf = this.serverBuf.subarray(m.next);
      this.serverPhase = 'messages';
      this.clientPhase = 'selection';
      this.stepClient();
    }
  }

  private finish(r: HandshakeResult): void {
    this.clientPhase = 'messages';
    this.serverPhase = 'messages';
    this.result = r;
    this.onReady(r);
    const c = this.clientBuf;
    const s = this.serverBuf;
    this.clientBuf = Buffer.alloc(0);
    this.serverBuf = Buffer.alloc(0);
    if (c.length) this.onClientBytes(c);
    if (s.length) this.onServerBytes(s);
  }
}
