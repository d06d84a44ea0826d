/**
 * The observe-only tap of one connection: handshake → chunk de-framing → message decoding → session.
 *
 * The relay forwards every byte before the tap sees it (client → server always; server → client
 * too, except while a ROUTE answer is due, see forwardServer). The tap reads and never changes
 * what it is given. Anything it cannot follow — an unknown version or signature, bytes that are not
 * PackStream, a response with no request — turns the connection into pass-through: the tap stops,
 * `onPassThrough` is called once with the reason, and the relay carries on (it never closes the
 * connection for that).
 */
import type { DatabaseEvent } from '../../../sdk/events.js';
import type { EventSettings } from './events.js';
import { Deframer, frame, type DeframedMessage } from './framing.js';
import { HandshakeTracker, isTappable, versionString, type HandshakeResult } from './handshake.js';
import { decodeRequest, decodeResponse, failureOf, runQueryText, SIG, type Request, type Response } from './messages.js';
import { rewriteRouteSuccess } from './route-rewrite.js';
import { BoltSession, type SessionCounters } from './session.js';

export interface TapOptions {
  connectionId: string;
  settings: EventSettings;
  /** What every ROUTE answer's addresses become. */
  advertisedAddress: () => string;
  emit: (ev: DatabaseEvent) => void;
  counters: SessionCounters & { routeRewrites: number };
  onPassThrough: (reason: string) => void;
  /** Most bytes of one client message body kept (longer RUNs keep their query text, not their parameters). */
  maxClientMessageBytes?: number;
  /** Most bytes of one server summary kept. */
  maxServerMessageBytes?: number;
}

export class ConnectionTap {
  passThrough = false;
  /** The client said GOODBYE: the server closing the connection next is expected. */
  goodbye = false;
  passThroughReason: string | undefined;
  handshake: HandshakeResult | undefined;
  session: BoltSession | undefined;
  private readonly hs: HandshakeTracker;
  private readonly clientFrames: Deframer;
  private readonly serverFrames: Deframer;
  private routesWaiting = 0;
  private holding = false;
  private heldNoops = 0;
  private held: Buffer[] = [];
  /** Set when the ROUTE answer completes: the bytes to send instead of what was held (null: send it as it was). */
  private routeOutput: Buffer | null | undefined;

  constructor(private readonly o: TapOptions) {
    this.hs = new HandshakeTracker(
      (r) => this.ready(r),
      (b) => this.clientFrames.push(b),
      (b) => this.serverFrames.push(b),
    );
    this.clientFrames = new Deframer({ collect: () => true, maxMessageBytes: o.maxClientMessageBytes ?? 4 << 20 }, (m) => this.clientMessage(m));
    this.serverFrames = new Deframer({ collect: (sig) => sig !== SIG.RECORD, maxMessageBytes: o.maxServerMessageBytes ?? 16 << 20 }, (m) => this.serverMessage(m));
  }

  /** The negotiated version as text, once known. */
  get version(): string | undefined {
    return this.handshake ? versionString(this.handshake.version) : undefined;
  }

  /** True while the server's next answers include one to ROUTE: the relay then lets forwardServer forward. */
  get serverRewriting(): boolean {
    return !this.passThrough && this.routesWaiting > 0;
  }

  client(chunk: Buffer): void {
    if (this.passThrough) return;
    try {
      this.hs.client(chunk);
    } catch (err) {
      this.stop(err);
    }
  }

  server(chunk: Buffer): void {
    if (this.passThrough) return;
    try {
      this.hs.server(chunk);
    } catch (err) {
      this.stop(err);
    }
  }

  /**
   * Forwards `chunk` through `write` itself, holding back the bytes of the ROUTE answer until it is
   * complete and writing its rewritten form instead. Bytes before and after go through unchanged.
   */
  forwardServer(chunk: Buffer, write: (b: Buffer) => void): void {
    let fwd = 0;
    let pos = 0;
    try {
      while (pos < chunk.length && !this.passThrough) {
        if (!this.holding && this.serverFrames.atBoundary && this.session?.nextAnswerFor === 'ROUTE') {
          if (pos > fwd) write(chunk.subarray(fwd, pos));
          fwd = pos;
          this.holding = true;
          this.held = [];
          this.heldNoops = this.serverFrames.noops;
          this.routeOutput = undefined;
        }
        const end = this.serverFrames.feed(chunk, pos);
        if (end < 0) {
          pos = chunk.length;
          break;
        }
        pos = end;
        if (this.holding && this.routeOutput !== undefined) {
          const original = Buffer.concat([...this.held, chunk.subarray(fwd, pos)]);
          const noops = this.serverFrames.noops - this.heldNoops; // NOOPs held before the answer began go out as they came
          write(this.routeOutput ? (noops ? Buffer.concat([Buffer.alloc(2 * noops), this.routeOutput]) : this.routeOutput) : original);
          this.holding = false;
          this.held = [];
          this.routeOutput = undefined;
          fwd = pos;
        }
        if (this.routesWaiting === 0) break;
      }
      if (!this.passThrough && pos < chunk.length) this.serverFrames.push(chunk.subarray(pos));
    } catch (err) {
      this.stop(err);
    }
    if (this.holding && !this.passThrough) {
      if (fwd < chunk.length) this.held.push(Buffer.from(chunk.subarray(fwd)));
      return;
    }
    this.flushHeld(write);
    if (fwd < chunk.length) write(chunk.subarray(fwd));
  }

  /** Writes whatever a half-received ROUTE answer held back (the connection is closing or the tap stopped). */
  flushHeld(write: (b: Buffer) => void): void {
    if (this.held.length) write(Buffer.concat(this.held));
    this.held = [];
    this.holding = false;
  }

  /** The connection closed: in-flight results and an open transaction end (events), the tap stops. */
  close(): void {
    if (!this.passThrough) {
      try {
        this.session?.close();
      } catch {
        // nothing more to observe
      }
    }
    this.passThrough = true;
  }

  private ready(r: HandshakeResult): void {
    this.handshake = r;
    const v = versionString(r.version);
    if (!isTappable(r.version)) throw new Error(`The client and server agreed on Bolt ${v}, which this proxy does not read (it reads 4.x, 5.x and 6.x).`);
    this.session = new BoltSession({ id: this.o.connectionId, version: v, own: false }, this.o.settings, this.o.emit, this.o.counters);
  }

  private clientMessage(m: DeframedMessage): void {
    const session = this.session!;
    let req: Request;
    if (m.truncated && m.signature === SIG.RUN) {
      const query = runQueryText(m.body!) ?? '';
      req = { kind: 'RUN', query, params: undefined, extra: {}, truncated: true };
    } else {
      req = decodeRequest(m.signature, m.body!, m.truncated);
    }
    if (req.kind === 'ROUTE') this.routesWaiting++;
    else if (req.kind === 'GOODBYE') this.goodbye = true;
    session.request(req);
  }

  private serverMessage(m: DeframedMessage): void {
    const session = this.session!;
    let res: Response;
    if (m.truncated && m.signature === SIG.SUCCESS) res = { kind: 'SUCCESS', meta: {} };
    else if (m.truncated && m.signature === SIG.FAILURE) res = { kind: 'FAILURE', failure: failureOf({}) };
    else res = decodeResponse(m.signature, m.body);
    if (res.kind !== 'RECORD' && session.nextAnswerFor === 'ROUTE') {
      this.routesWaiting--;
      let out: Buffer | null = null;
      if (res.kind === 'SUCCESS' && m.body && !m.truncated) {
        const rw = rewriteRouteSuccess(m.body, this.o.advertisedAddress());
        if (rw) {
          out = frame(rw.body);
          this.o.counters.routeRewrites++;
        }
      }
      if (this.holding) this.routeOutput = out;
    }
    session.response(res);
  }

  private stop(err: unknown): void {
    if (this.passThrough) return;
    this.passThrough = true;
    this.passThroughReason = err instanceof Error ? err.message : String(err);
    this.session = undefined;
    this.o.onPassThrough(this.passThroughReason);
  }
}
