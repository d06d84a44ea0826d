/**
 * The connected SSE clients of GET /v1/bifrost/stream and the fan-out of bus messages to them.
 *
 * Memory is bounded per client: messages waiting for a client that is not reading (its socket
 * does not drain) are counted, and past `clientBufferMessages` or `clientBufferBytes` the client
 * is cut off — told why in a last `cutoff` event when its socket takes it, then disconnected — so
 * that one slow reader neither slows the others nor grows the daemon's memory. Writes are
 * coalesced: each client gets at most one socket write per event-loop turn. A message is
 * serialized once, whatever the number of clients.
 */
import type { ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { BifrostBus, BifrostGap, BifrostMessage } from './bus.js';
import type { Clock, ClockTimer } from './clock.js';
import { compileFilter, type BifrostFilter } from './filter.js';
import type { SincePoint } from './since.js';
import { commentFrame, controlFrame, messageFrame, retryFrame } from './sse-format.js';
import { ErrorCode } from '../../sdk/errors.js';

export interface SseHubOptions {
  heartbeatMs: number;
  maxClients: number;
  clientBufferBytes: number;
  clientBufferMessages: number;
  /** How long a cut-off or closing client may take to read its last event before its socket is destroyed, ms. */
  closeGraceMs?: number;
  /** Heartbeats and the close grace run on it. Default: the bus's clock. */
  clock?: Clock;
}

/** Why a new stream is refused: too many clients (429) or shutting down (503). */
export interface StreamRefusal {
  status: 429 | 503;
  code: typeof ErrorCode.HMD_ERR_RATE_LIMITED | typeof ErrorCode.HMD_ERR_SHUTTING_DOWN;
  message: string;
}

export interface StreamRequest {
  since?: SincePoint;
  sinceText?: string;
  filter?: BifrostFilter;
  /** Without since: replay the latest N matching messages first. Default 0. */
  last?: number;
  /** Who connected, for log lines. */
  remote?: string;
}

export interface SseHubStats {
  clients: number;
  maxClients: number;
  connectedTotal: number;
  cutOff: number;
  /** Bytes waiting for all clients (ours plus what the sockets' write buffers hold). */
  bufferedBytes: number;
  /** The largest backlog of a single client, bytes. */
  maxClientBufferedBytes: number;
}

class SseClient {
  private pending: string[] = [];
  private pendingBytes = 0;
  private waitingDrain = false;
  closed = false;
  private destroyTimer: ClockTimer | undefined;

  constructor(
    readonly id: number,
    readonly remote: string,
    private readonly res: ServerResponse,
    readonly pass: ((m: BifrostMessage) => boolean) | undefined,
    private readonly hub: SseHub,
  ) {
    res.on('drain', () => {
      this.waitingDrain = false;
      if (this.pending.length > 0) this.flush();
    });
  }

  get backlogBytes(): number {
    return this.pendingBytes + (this.res.writableLength ?? 0);
  }

  /** Writes now, ignoring limits (the stream's opening: hello, gap, replay). */
  writeNow(chunk: string): void {
    if (this.closed) return;
    if (!this.res.write(chunk)) this.waitingDrain = true;
  }

  /**
   * Queues a frame for the next flush. A client whose socket is not draining is cut off once what
   * it holds (queued here plus the socket's write buffer) passes the limits. A client that keeps up
   * gets the whole of one event-loop turn's messages at the turn's end (frames are shared strings,
   * so queueing them costs little), up to a safety cap of 16 times the limits.
   */
  enqueue(frame: string): void {
    if (this.closed) return;
    this.pending.push(frame);
    this.pendingBytes += frame.length;
    const o = this.hub.opts;
    const over = this.waitingDrain
      ? this.pending.length > o.clientBufferMessages || this.pendingBytes + (this.res.writableLength ?? 0) > o.clientBufferBytes
      : this.pending.length > o.clientBufferMessages * 16 || this.pendingBytes > o.clientBufferBytes * 16;
    if (over) {
      this.cutOff();
      return;
    }
    if (!this.waitingDrain) this.hub.markDirty(this);
  }

  flush(): void {
    if (this.closed || this.waitingDrain || this.pending.length === 0) return;
    const chunk = this.pending.length === 1 ? this.pending[0]! : this.pending.join('');
    this.pending = [];
    this.pendingBytes = 0;
    if (!this.res.write(chunk)) this.waitingDrain = true;
  }

  /** Heartbeat: only to a client that is keeping up (a blocked one gets nothing more). */
  heartbeat(text: string): void {
    if (this.closed || this.waitingDrain || this.pending.length > 0) return;
    this.writeNow(text);
  }

  private cutOff(): void {
    const pendingMessages = this.pending.length;
    const pendingBytes = this.pendingBytes;
    this.hub.onCutOff(this, pendingMessages, pendingBytes);
    this.end(controlFrame('cutoff', {
      reason: 'slow_client',
      pendingMessages,
      pendingBytes,
      message:
        `This client was disconnected because it did not read fast enough: ${pendingMessages} messages (${pendingBytes} bytes) were waiting for it, ` +
        `over the limit of ${this.hub.opts.clientBufferMessages} messages or ${this.hub.opts.clientBufferBytes} bytes. ` +
        'Reconnect with Last-Event-ID to resume; messages no longer in the replay buffer will be reported as a gap.',
    }));
  }

  /** Writes (`keep`) or drops what is waiting, then a last event when given, and ends the response. */
  end(last?: string, keep = false): void {
    if (this.closed) return;
    this.closed = true;
    if (keep && this.pending.length > 0) last = this.pending.join('') + (last ?? '');
    this.pending = [];
    this.pendingBytes = 0;
    this.hub.detach(this);
    try {
      if (last) this.res.write(last);
      this.res.end();
    } catch {
      // The socket is already gone.
    }
    // A client that is not reading never finishes the response: do not hold its socket forever.
    const clock = this.hub.clock;
    this.destroyTimer = clock.setTimeout(() => this.res.destroy(), this.hub.opts.closeGraceMs ?? 5000);
    this.destroyTimer.unref();
    this.res.once('close', () => clock.clear(this.destroyTimer));
  }

  /** The socket closed (client went away). */
  gone(): void {
    if (this.closed) return;
    this.closed = true;
    this.pending = [];
    this.pendingBytes = 0;
    this.hub.detach(this);
  }
}

export class SseHub {
  private readonly clients = new Set<SseClient>();
  private readonly dirty = new Set<SseClient>();
  private flushScheduled = false;
  private nextClientId = 1;
  private readonly heartbeatTimer: ClockTimer;
  /** The time source of heartbeats and close graces. */
  readonly clock: Clock;
  private readonly unsubscribe: () => void;
  connectedTotal = 0;
  cutOff = 0;
  private closing = false;

  constructor(private readonly bus: BifrostBus, readonly opts: SseHubOptions, private readonly log: Logger) {
    this.clock = opts.clock ?? bus.clock;
    this.unsubscribe = bus.subscribe((m) => this.onMessage(m));
    this.heartbeatTimer = this.clock.setInterval(() => this.heartbeat(), opts.heartbeatMs);
    this.heartbeatTimer.unref();
  }

  get size(): number {
    return this.clients.size;
  }

  /** Whether another client may connect; why not when it may not. */
  refusal(): StreamRefusal | undefined {
    if (this.closing) return { status: 503, code: ErrorCode.HMD_ERR_SHUTTING_DOWN, message: 'The daemon is shutting down and accepts no new Bifrost streams; reconnect once it is back.' };
    if (this.clients.size >= this.opts.maxClients) {
      return {
        status: 429,
        code: ErrorCode.HMD_ERR_RATE_LIMITED,
        message: `${this.clients.size} Bifrost stream clients are already connected, the most bifrost.maxClients allows; disconnect one or raise bifrost.maxClients.`,
      };
    }
    return undefined;
  }

  /**
   * Starts a stream on `res`: headers, the hello event, the gap event when the replay is
   * incomplete, the replay, then live messages. Synchronous from replay to subscription, so no
   * message can fall between them or come twice.
   */
  open(res: ServerResponse, req: StreamRequest): { clientId: number; replayed: number; gap?: BifrostGap } {
    const pass = compileFilter(req.filter);
    const replay = req.since !== undefined
      ? this.bus.query({ since: req.since, ...(req.sinceText ? { sinceText: req.sinceText } : {}), ...(req.filter ? { filter: req.filter } : {}) })
      : req.last
        ? this.bus.query({ last: req.last, ...(req.filter ? { filter: req.filter } : {}) })
        : { messages: [] as BifrostMessage[], gap: undefined };
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    res.socket?.setNoDelay(true);
    const client = new SseClient(this.nextClientId++, req.remote ?? 'unknown', res, pass, this);
    const parts = [
      retryFrame(),
      controlFrame('hello', {
        epoch: this.bus.epoch,
        lastId: this.bus.lastId(),
        oldestId: this.bus.oldestId(),
        heartbeatMs: this.opts.heartbeatMs,
        replayed: replay.messages.length,
        clientId: client.id,
      }),
    ];
    if (replay.gap) parts.push(controlFrame('gap', { ...replay.gap }));
    for (const m of replay.messages) parts.push(messageFrame(this.bus.epoch, m));
    client.writeNow(parts.join(''));
    this.clients.add(client);
    this.connectedTotal++;
    this.bus.clients = this.clients.size;
    res.on('close', () => client.gone());
    res.on('error', () => client.gone());
    this.log.debug({ clientId: client.id, remote: client.remote, replayed: replay.messages.length }, `A Bifrost stream client connected from ${client.remote}; ${this.clients.size} connected.`);
    return { clientId: client.id, replayed: replay.messages.length, ...(replay.gap ? { gap: replay.gap } : {}) };
  }

  private onMessage(m: BifrostMessage): void {
    if (this.clients.size === 0) return;
    let frame: string | undefined;
    for (const c of this.clients) {
      if (c.pass && !c.pass(m)) continue;
      frame ??= messageFrame(this.bus.epoch, m);
      c.enqueue(frame);
    }
  }

  markDirty(c: SseClient): void {
    this.dirty.add(c);
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      const batch = [...this.dirty];
      this.dirty.clear();
      for (const d of batch) d.flush();
    });
  }

  onCutOff(c: SseClient, pendingMessages: number, pendingBytes: number): void {
    this.cutOff++;
    this.log.warn(
      { clientId: c.id, remote: c.remote, pendingMessages, pendingBytes, cutOff: this.cutOff },
      `Disconnected the Bifrost stream client ${c.id} (${c.remote}) because it stopped reading: ${pendingMessages} messages (${pendingBytes} bytes) were waiting for it, ` +
      `over bifrost.clientBufferMessages (${this.opts.clientBufferMessages}) or bifrost.clientBufferBytes (${this.opts.clientBufferBytes}). It can reconnect and resume with Last-Event-ID.`,
    );
  }

  detach(c: SseClient): void {
    if (!this.clients.delete(c)) return;
    this.dirty.delete(c);
    this.bus.clients = this.clients.size;
    this.log.debug({ clientId: c.id }, `A Bifrost stream client (${c.remote}) disconnected; ${this.clients.size} connected.`);
  }

  private heartbeat(): void {
    if (this.clients.size === 0) return;
    const text = commentFrame(`heartbeat ${new Date(this.clock.now()).toISOString()}`);
    for (const c of this.clients) c.heartbeat(text);
  }

  stats(): SseHubStats {
    let bufferedBytes = 0;
    let maxClientBufferedBytes = 0;
    for (const c of this.clients) {
      const b = c.backlogBytes;
      bufferedBytes += b;
      if (b > maxClientBufferedBytes) maxClientBufferedBytes = b;
    }
    return { clients: this.clients.size, maxClients: this.opts.maxClients, connectedTotal: this.connectedTotal, cutOff: this.cutOff, bufferedBytes, maxClientBufferedBytes };
  }

  /** Ends every stream with a `shutdown` event and stops taking new ones. */
  close(message = 'The daemon is stopping and ends this stream; reconnect with Last-Event-ID to resume once it is back.'): void {
    if (this.closing) return;
    this.closing = true;
    this.clock.clear(this.heartbeatTimer);
    this.unsubscribe();
    const last = controlFrame('shutdown', { message });
    // Messages already queued for a client (e.g. the daemon's own "stopping" notice) go out first.
    for (const c of [...this.clients]) c.end(last, true);
  }
}
