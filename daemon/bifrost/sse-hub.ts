/**
 * The connected SSE clients of GET /v1/bifrost/stream and the fan-out of bus messages to them.
 *
 * Writes are deferred and coalesced: a message is serialized once, queued for every client, and
 * each client gets at most one socket write per flush. A flush runs at the end of an event-loop
 * turn, at least `minFlushIntervalMs` (5 ms) and at most `maxFlushIntervalMs` (20 ms) after the
 * last one, eight times as long as the last one's writes took: what was published meanwhile goes out
 * in one write. Clients with the same filter are a group (sse-group.ts): the filter runs and the
 * frame is made and encoded once per message and group, and what a client writes is a slice of the
 * group's buffer, the same bytes for every client, not a copy each. A flush to hundreds of
 * clients is sliced (a few ms of writes per turn), so it never holds the event loop long. Memory is
 * bounded per client: at most `clientBufferMessages` / `clientBufferBytes` wait for it here (past
 * them the oldest are skipped, and a `skipped` event tells the client which ids to fetch), plus what
 * its socket holds from the last write. A client is judged over time, not inside one turn: it is
 * cut off — told why in a last `cutoff` event when its socket takes it, then disconnected — only
 * when it stays over its limits without its socket draining at all for `clientStallMs` and across
 * at least two flush turns. So a burst that fills every socket for a moment cuts off nobody, a
 * client that keeps reading more slowly than messages come gets a counted sample, and one that
 * stopped reading is cut off.
 */
import type { ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { BifrostBus, BifrostGap, BifrostMessage } from './bus.js';
import { systemClock, type Clock, type ClockTimer } from './clock.js';
import { compileFilter, type BifrostFilter } from './filter.js';
import { FilterGroup, type QueuedFrame } from './sse-group.js';
import type { SincePoint } from './since.js';
import { commentFrame, controlFrame, messageFrame, retryFrame } from './sse-format.js';
import { ErrorCode } from '../../sdk/errors.js';

export interface SseHubOptions {
  heartbeatMs: number;
  maxClients: number;
  clientBufferBytes: number;
  clientBufferMessages: number;
  /** How long a client may stay over its limits without its socket draining before it is cut off, ms. Default 2000. */
  clientStallMs?: number;
  /** How long a cut-off or closing client may take to read its last event before its socket is destroyed, ms. */
  closeGraceMs?: number;
  /** Heartbeats and the close grace run on it. Default: the bus's clock. */
  clock?: Clock;
  /**
   * Least time between two flushes, ms (on `flushClock`): messages published meanwhile go out
   * together, one write per client instead of one per message. Default 5; 0 flushes at the end of
   * every turn (no pacing at all).
   */
  minFlushIntervalMs?: number;
  /**
   * Most time between two flushes, ms. The gap after a flush is FLUSH_COST_FACTOR times what its
   * writes took (on `flushClock`), between minFlushIntervalMs and this: a cheap flush (few clients, few
   * messages) is followed soon, so latency stays low, and a costly one (hundreds of clients under a
   * burst) makes the next wait longer, so more messages share each write. Default 20.
   */
  maxFlushIntervalMs?: number;
  /**
   * The time of the flush interval. Default the real, monotonic one (it paces socket writes, so it
   * is not Bifrost's clock, which a test may hold still); a unit test passes a fake.
   */
  flushClock?: Clock;
  /** Longest run of socket writes in one event-loop turn, ms (real time); the rest go in the next turn. Default 4. */
  flushSliceMs?: number;
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
  /** Messages left out for clients that read more slowly than they were published. */
  skipped: number;
}

/**
 * The gap after a flush, as a multiple of the time its writes took: writes hold at most about an
 * eighth of the event loop while the gap is between its bounds (the clients, often on the same
 * machine, pay about as much again to read what each write sends).
 */
const FLUSH_COST_FACTOR = 8;

/** Real, monotonic time for the flush interval (a wall-clock step cannot hold a flush back). */
const monotonicClock: Clock = Object.freeze({ ...systemClock, now: () => performance.now() });

/**
 * Bytes the socket of `res` really holds. A write larger than the socket's high-water mark
 * returns false even when the kernel took all of it at once, and `writableLength` still counts
 * those bytes until the next tick; judging by either would treat every client that keeps up as
 * stalled whenever a flush is large. So: nothing when libuv's write queue (Node-internal
 * `_handle.writeQueueSize`, what the kernel has not taken) is empty, else `writableLength` (which
 * also counts what waits behind the write in flight). Where the handle does not say (not a TCP or
 * pipe socket), `writableLength`.
 */
function socketPendingBytes(res: ServerResponse): number {
  const handle = (res.socket as unknown as { _handle?: { writeQueueSize?: unknown } } | null)?._handle;
  const q = handle?.writeQueueSize;
  const length = res.writableLength ?? 0;
  if (typeof q !== 'number') return length;
  return q === 0 ? 0 : Math.max(q, length);
}

class SseClient {
  private pending: QueuedFrame[] = [];
  private pendingBytes = 0;
  private waitingDrain = false;
  /** In the hub's dirty set (kept here so that queueing a message costs no Set lookup). */
  dirty = false;
  /** Skipped since the client last received a `skipped` event. */
  private skipped = 0;
  private firstSkipped = 0;
  private lastSkipped = 0;
  /** When (clock ms) and in which flush turn it was first seen over its limits while its socket did not drain. */
  private overSince: { at: number; turn: number } | undefined;
  closed = false;
  private destroyTimer: ClockTimer | undefined;

  constructor(
    readonly id: number,
    readonly remote: string,
    private readonly res: ServerResponse,
    readonly group: FilterGroup<SseClient>,
    private readonly hub: SseHub,
  ) {
    res.on('drain', () => {
      // A large write returns false even when the kernel took it at once; its drain changes nothing.
      if (!this.waitingDrain) return;
      this.waitingDrain = false;
      this.overSince = undefined;
      this.hub.unstall(this);
      if (this.pending.length > 0 || this.skipped > 0) this.flush();
    });
  }

  get backlogBytes(): number {
    return this.pendingBytes + socketPendingBytes(this.res);
  }

  /**
   * Writes `chunks` without joining them (a response corks its socket until the next tick, so they
   * go to the kernel together, in one writev); the client waits for 'drain' only when its socket
   * really holds bytes.
   */
  private write(...chunks: Array<string | Buffer>): void {
    let ok = true;
    for (const c of chunks) ok = this.res.write(c);
    if (!ok && socketPendingBytes(this.res) > 0) this.waitingDrain = true;
  }

  /** Writes now, ignoring limits (the stream's opening: hello, gap, replay). */
  writeNow(chunk: string): void {
    if (this.closed) return;
    this.write(chunk);
  }

  /**
   * Queues a frame for the end of the turn. Past the limits the oldest waiting frames are skipped
   * (counted, and reported to the client); the client is not cut off here — see checkStall.
   */
  enqueue(p: QueuedFrame): void {
    if (this.closed) return;
    this.pending.push(p);
    this.pendingBytes += p.size;
    const o = this.hub.opts;
    // A client that keeps up gets the whole of one turn's messages at its end (frames are shared
    // objects, so queueing them costs little), up to a safety cap of 16 times the limits.
    const k = this.waitingDrain ? 1 : 16;
    if (!this.waitingDrain && this.pending.length <= o.clientBufferMessages * k && this.pendingBytes <= o.clientBufferBytes * k) {
      if (!this.dirty) this.hub.markDirty(this);
      return;
    }
    let drop = 0;
    while (this.pending.length - drop > 1 && (this.pending.length - drop > o.clientBufferMessages * k || this.pendingBytes > o.clientBufferBytes * k)) {
      const old = this.pending[drop]!;
      this.pendingBytes -= old.size;
      if (this.skipped === 0) this.firstSkipped = old.id;
      this.lastSkipped = old.id;
      this.skipped++;
      drop++;
    }
    if (drop > 0) {
      this.pending = this.pending.slice(drop);
      this.hub.countSkipped(drop);
    }
    if (this.waitingDrain) {
      if (drop > 0 || this.backlogBytes > o.clientBufferBytes) this.overSince ??= { at: this.hub.clock.now(), turn: this.hub.turn };
      this.hub.markStalled(this);
    } else if (!this.dirty) {
      this.hub.markDirty(this);
    }
  }

  flush(): void {
    if (this.closed || this.waitingDrain || (this.pending.length === 0 && this.skipped === 0)) return;
    let head: string | undefined;
    if (this.skipped > 0) {
      head = controlFrame('skipped', {
        skipped: this.skipped,
        firstId: this.firstSkipped,
        lastId: this.lastSkipped,
        message:
          `${this.skipped} messages (ids ${this.firstSkipped} to ${this.lastSkipped}, of those this stream passes) were skipped because this client read more slowly than they were published ` +
          `(bifrost.clientBufferMessages ${this.hub.opts.clientBufferMessages}, clientBufferBytes ${this.hub.opts.clientBufferBytes}); GET /v1/bifrost/notifications?since=${this.firstSkipped - 1} has them while they are in the replay buffer.`,
      });
      this.skipped = 0;
    }
    // Clients that got the same messages share the bytes: a slice of the group's buffer.
    const parts = this.group.bytes(this.pending, head);
    this.pending = [];
    this.pendingBytes = 0;
    this.write(...parts);
  }

  /**
   * Cuts the client off when it has stayed over its limits, its socket not draining, for
   * clientStallMs and across two flush turns; answers whether it did.
   */
  checkStall(now: number, turn: number): boolean {
    const o = this.overSince;
    if (this.closed || !this.waitingDrain || !o) return false;
    if (now - o.at < this.hub.stallMs || turn - o.turn < 2) return false;
    this.cutOff(now - o.at);
    return true;
  }

  /** Heartbeat: only to a client that is keeping up (a blocked one gets nothing more). */
  heartbeat(text: string): void {
    if (this.closed || this.waitingDrain || this.pending.length > 0) return;
    this.writeNow(text);
  }

  private cutOff(stalledMs: number): void {
    const pendingMessages = this.pending.length + this.skipped;
    const pendingBytes = this.backlogBytes;
    this.hub.onCutOff(this, pendingMessages, pendingBytes, stalledMs);
    this.end(controlFrame('cutoff', {
      reason: 'slow_client',
      pendingMessages,
      pendingBytes,
      stalledMs,
      message:
        `This client was disconnected because it did not read fast enough: for ${stalledMs} ms it read nothing while ${pendingMessages} messages (${pendingBytes} bytes) were waiting for it, ` +
        `over the limit of ${this.hub.opts.clientBufferMessages} messages or ${this.hub.opts.clientBufferBytes} bytes. ` +
        'Reconnect with Last-Event-ID to resume; messages no longer in the replay buffer will be reported as a gap.',
    }));
  }

  /** Writes (`keep`) or drops what is waiting, then a last event when given, and ends the response. */
  end(last?: string, keep = false): void {
    if (this.closed) return;
    this.closed = true;
    const kept = keep && this.pending.length > 0 ? this.group.bytes(this.pending) : undefined;
    this.pending = [];
    this.pendingBytes = 0;
    this.hub.detach(this);
    try {
      if (kept) for (const p of kept) this.res.write(p);
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
  /** The clients by filter (most streams use one of a few filters). */
  private readonly groups = new Map<string, FilterGroup<SseClient>>();
  private readonly dirty = new Set<SseClient>();
  /** Clients whose socket is not draining and that have messages waiting. */
  private readonly stalled = new Set<SseClient>();
  private flushScheduled = false;
  /** Flush turns so far (a client is judged across turns). */
  turn = 0;
  /** Messages skipped for slow clients, in all. */
  skippedTotal = 0;
  readonly stallMs: number;
  private nextClientId = 1;
  private readonly heartbeatTimer: ClockTimer;
  /** The time source of heartbeats, stall judgements and close graces. */
  readonly clock: Clock;
  private readonly flushClock: Clock;
  private readonly unsubscribe: () => void;
  connectedTotal = 0;
  cutOff = 0;
  private closing = false;

  constructor(private readonly bus: BifrostBus, readonly opts: SseHubOptions, private readonly log: Logger) {
    this.clock = opts.clock ?? bus.clock;
    this.flushClock = opts.flushClock ?? monotonicClock;
    this.stallMs = opts.clientStallMs ?? 2000;
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
    const group = this.groupFor(req.filter);
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
    const client = new SseClient(this.nextClientId++, req.remote ?? 'unknown', res, group, this);
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
    group.clients.add(client);
    this.connectedTotal++;
    this.bus.clients = this.clients.size;
    res.on('close', () => client.gone());
    res.on('error', () => client.gone());
    this.log.debug({ clientId: client.id, remote: client.remote, replayed: replay.messages.length }, `A Bifrost stream client connected from ${client.remote}; ${this.clients.size} connected.`);
    return { clientId: client.id, replayed: replay.messages.length, ...(replay.gap ? { gap: replay.gap } : {}) };
  }

  /** The group of clients with this filter (the same filter written in any order is one group). */
  private groupFor(filter: BifrostFilter | undefined): FilterGroup<SseClient> {
    const key = filter
      ? JSON.stringify([filter.level ?? '', [...(filter.plugins ?? [])].sort(), [...(filter.kinds ?? [])].sort()])
      : '';
    let g = this.groups.get(key);
    if (!g) {
      g = new FilterGroup<SseClient>(key, compileFilter(filter));
      this.groups.set(key, g);
    }
    return g;
  }

  private onMessage(m: BifrostMessage): void {
    if (this.clients.size === 0) return;
    let frame: string | undefined;
    for (const g of this.groups.values()) {
      if (g.pass && !g.pass(m)) continue;
      frame ??= messageFrame(this.bus.epoch, m);
      const q = g.frame(m.id, frame);
      for (const c of g.clients) c.enqueue(q);
    }
  }

  markDirty(c: SseClient): void {
    c.dirty = true;
    this.dirty.add(c);
    this.scheduleTurn();
  }

  /** A client with messages waiting and a socket that does not drain: judged at every turn. */
  markStalled(c: SseClient): void {
    this.stalled.add(c);
    this.scheduleTurn();
  }

  unstall(c: SseClient): void {
    this.stalled.delete(c);
  }

  countSkipped(n: number): void {
    this.skippedTotal += n;
  }

  /**
   * At the end of the turn: one write per client that keeps up, and a look at the stalled ones. The
   * writes are sliced: after flushSliceMs the rest wait for the next turn, so that hundreds of
   * clients never hold the event loop (and /healthz, the HTTP API) for long.
   */
  private scheduleTurn(): void {
    if (this.flushScheduled || this.closing) return;
    this.flushScheduled = true;
    const interval = this.flushGap();
    const wait = Math.min(interval, this.lastFlushAt + interval - this.flushClock.now());
    if (wait > 0 && this.dirty.size > 0 && !this.slicing) {
      this.flushTimer = this.flushClock.setTimeout(() => this.runTurn(), wait);
      this.flushTimer.unref();
    } else {
      setImmediate(() => this.runTurn());
    }
  }

  /** The least time from the start of the last flush to the next, ms (see maxFlushIntervalMs). */
  private flushGap(): number {
    const min = this.opts.minFlushIntervalMs ?? 5;
    if (min <= 0) return 0;
    const max = Math.max(min, this.opts.maxFlushIntervalMs ?? 20);
    return Math.min(max, Math.max(min, FLUSH_COST_FACTOR * this.lastFlushCostMs));
  }

  /** When (flush clock ms) the last flush started. */
  private lastFlushAt = -Infinity;
  /** What the writes of the last whole flush (all its slices) took, flush clock ms. */
  private lastFlushCostMs = 0;
  /** What the slices of the flush in progress took so far, flush clock ms. */
  private flushCostMs = 0;
  private flushTimer: ClockTimer | undefined;
  /** A flush is part-way through its clients: the next slice follows at once. */
  private slicing = false;

  private runTurn(): void {
    this.flushScheduled = false;
    this.flushTimer = undefined;
    this.turn++;
    if (!this.slicing) this.lastFlushAt = this.flushClock.now();
    // The slice is measured in real time (it bounds how long the event loop is held).
    const deadline = performance.now() + (this.opts.flushSliceMs ?? 4);
    const started = this.flushClock.now();
    let n = 0;
    for (const d of this.dirty) {
      this.dirty.delete(d);
      d.dirty = false;
      d.flush();
      if (++n % 8 === 0 && performance.now() > deadline) break;
    }
    this.slicing = this.dirty.size > 0;
    this.flushCostMs += this.flushClock.now() - started;
    if (!this.slicing) {
      this.lastFlushCostMs = this.flushCostMs;
      this.flushCostMs = 0;
    }
    this.checkStalled();
    if (this.slicing) this.scheduleTurn();
  }

  private checkStalled(): void {
    if (this.stalled.size === 0) return;
    const now = this.clock.now();
    for (const c of [...this.stalled]) if (c.closed || c.checkStall(now, this.turn)) this.stalled.delete(c);
  }

  onCutOff(c: SseClient, pendingMessages: number, pendingBytes: number, stalledMs: number): void {
    this.cutOff++;
    this.log.warn(
      { clientId: c.id, remote: c.remote, pendingMessages, pendingBytes, stalledMs, cutOff: this.cutOff },
      `Disconnected the Bifrost stream client ${c.id} (${c.remote}) because it stopped reading: for ${stalledMs} ms its socket took nothing while ${pendingMessages} messages (${pendingBytes} bytes) were waiting for it, ` +
      `over bifrost.clientBufferMessages (${this.opts.clientBufferMessages}) or bifrost.clientBufferBytes (${this.opts.clientBufferBytes}) for longer than bifrost.clientStallMs (${this.stallMs}). It can reconnect and resume with Last-Event-ID.`,
    );
  }

  detach(c: SseClient): void {
    if (!this.clients.delete(c)) return;
    c.group.clients.delete(c);
    if (c.group.clients.size === 0) this.groups.delete(c.group.key);
    this.dirty.delete(c);
    c.dirty = false;
    this.stalled.delete(c);
    this.bus.clients = this.clients.size;
    this.log.debug({ clientId: c.id }, `A Bifrost stream client (${c.remote}) disconnected; ${this.clients.size} connected.`);
  }

  private heartbeat(): void {
    if (this.clients.size === 0) return;
    // A heartbeat tick is a turn of its own: a client stalled with no new messages is judged here.
    this.turn++;
    this.checkStalled();
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
    return { clients: this.clients.size, maxClients: this.opts.maxClients, connectedTotal: this.connectedTotal, cutOff: this.cutOff, bufferedBytes, maxClientBufferedBytes, skipped: this.skippedTotal };
  }

  /** Ends every stream with a `shutdown` event and stops taking new ones. */
  close(message = 'The daemon is stopping and ends this stream; reconnect with Last-Event-ID to resume once it is back.'): void {
    if (this.closing) return;
    this.closing = true;
    this.clock.clear(this.heartbeatTimer);
    this.flushClock.clear(this.flushTimer);
    this.flushTimer = undefined;
    this.unsubscribe();
    const last = controlFrame('shutdown', { message });
    // Messages already queued for a client (e.g. the daemon's own "stopping" notice) go out first.
    for (const c of [...this.clients]) c.end(last, true);
  }
}
