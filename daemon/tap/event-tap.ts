/**
 * The event tap: what the sources hand to the router, before any plugin does anything with it,
 * streamed to operators as Server-Sent Events (GET /v1/events/stream, `heimdall events`), like
 * Vector's `tap`. The daemon calls {@link EventTap.publish} where sources emit; with nobody
 * listening that is one property read.
 *
 * Each client has its own filter and a bounded buffer (the Bifrost stream limits:
 * bifrost.clientBufferMessages / clientBufferBytes): a client whose socket stops draining is cut
 * off with a last `cutoff` event, the others are unaffected. There is no replay: a stream shows
 * the events emitted while it is open, in the order the router sees them, each with the tap's
 * sequence number as its SSE id.
 *
 *   event: hello   { seq, heartbeatMs, filter }        first event of every stream
 *   event: event   the event as JSON (id: <seq>)
 *   event: cutoff  { reason, message, pendingEvents, pendingBytes }
 *   event: shutdown { message }
 */
import type { ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { DatabaseEvent } from '../../sdk/index.js';
import { ErrorCode } from '../../sdk/errors.js';
import { commentFrame, controlFrame, retryFrame } from '../bifrost/sse-format.js';
import { compileTapFilter, type TapFilter } from './tap-filter.js';

export interface EventTapOptions {
  heartbeatMs: number;
  maxClients: number;
  clientBufferBytes: number;
  clientBufferMessages: number;
}

/** Why a stream is refused: too many clients (429) or shutting down (503). */
export interface TapRefusal {
  status: 429 | 503;
  code: typeof ErrorCode.HMD_ERR_RATE_LIMITED | typeof ErrorCode.HMD_ERR_SHUTTING_DOWN;
  message: string;
}

/** What the admin API needs of the tap. */
export interface EventTapApi {
  refusal(): TapRefusal | undefined;
  open(res: ServerResponse, filter: TapFilter & { description: Record<string, unknown> }, remote: string): void;
  /** The plugins a `plugin=` filter may name. */
  target(name: string): TapFilter['plugin'] | undefined;
  targetNames(): string[];
  close(): void;
}

class TapClient {
  private pending: string[] = [];
  private pendingBytes = 0;
  private waitingDrain = false;
  closed = false;

  constructor(
    readonly id: number,
    readonly remote: string,
    private readonly res: ServerResponse,
    readonly pass: (e: DatabaseEvent) => boolean,
    private readonly tap: EventTap,
  ) {
    res.on('drain', () => {
      this.waitingDrain = false;
      this.flush();
    });
  }

  enqueue(frame: string): void {
    if (this.closed) return;
    this.pending.push(frame);
    this.pendingBytes += frame.length;
    const o = this.tap.opts;
    // as on the Bifrost stream: a client whose socket drains may take 16 times the limits within one turn
    const over = this.waitingDrain
      ? this.pending.length > o.clientBufferMessages || this.pendingBytes + (this.res.writableLength ?? 0) > o.clientBufferBytes
      : this.pending.length > o.clientBufferMessages * 16 || this.pendingBytes > o.clientBufferBytes * 16;
    if (over) {
      this.cutOff();
      return;
    }
    if (!this.waitingDrain) this.tap.markDirty(this);
  }

  flush(): void {
    if (this.closed || this.waitingDrain || this.pending.length === 0) return;
    const chunk = this.pending.join('');
    this.pending = [];
    this.pendingBytes = 0;
    if (!this.res.write(chunk)) this.waitingDrain = true;
  }

  heartbeat(text: string): void {
    if (!this.closed && !this.waitingDrain && this.pending.length === 0) this.res.write(text);
  }

  private cutOff(): void {
    const pendingEvents = this.pending.length;
    const pendingBytes = this.pendingBytes;
    this.tap.onCutOff(this, pendingEvents, pendingBytes);
    this.end(controlFrame('cutoff', {
      reason: 'slow_client',
      pendingEvents,
      pendingBytes,
      message: `This tap was disconnected because it did not read fast enough: ${pendingEvents} events (${pendingBytes} bytes) were waiting for it, over bifrost.clientBufferMessages or bifrost.clientBufferBytes. Reconnect, or narrow it with type=, label=, plugin= or sample=.`,
    }));
  }

  end(last?: string, keep = false): void {
    if (this.closed) return;
    this.closed = true;
    const chunk = (keep ? this.pending.join('') : '') + (last ?? '');
    this.pending = [];
    this.pendingBytes = 0;
    this.tap.detach(this);
    try {
      if (chunk) this.res.write(chunk);
      this.res.end();
    } catch {
      // the socket is already gone
    }
    const t = setTimeout(() => this.res.destroy(), 5000);
    t.unref();
    this.res.once('close', () => clearTimeout(t));
  }

  gone(): void {
    if (this.closed) return;
    this.closed = true;
    this.pending = [];
    this.tap.detach(this);
  }
}

export class EventTap implements EventTapApi {
  private readonly clients = new Set<TapClient>();
  private readonly dirty = new Set<TapClient>();
  private flushScheduled = false;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private nextClientId = 1;
  private closing = false;
  /** Events seen while at least one client listened; the SSE id of each. */
  seq = 0;
  cutOff = 0;

  constructor(
    readonly opts: EventTapOptions,
    private readonly targets: () => readonly NonNullable<TapFilter['plugin']>[],
    private readonly log: Logger,
  ) {}

  /** Whether anyone listens: the daemon checks this before calling publish. */
  get active(): boolean {
    return this.clients.size > 0;
  }

  /** Hands what a source emitted to every listening client whose filter passes it. */
  publish(events: readonly DatabaseEvent[]): void {
    if (this.clients.size === 0) return;
    for (const e of events) {
      const seq = ++this.seq;
      let frame: string | undefined;
      for (const c of this.clients) {
        if (!c.pass(e)) continue;
        frame ??= `id: ${seq}\nevent: event\ndata: ${JSON.stringify(e)}\n\n`;
        c.enqueue(frame);
      }
    }
  }

  refusal(): TapRefusal | undefined {
    if (this.closing) return { status: 503, code: ErrorCode.HMD_ERR_SHUTTING_DOWN, message: 'The daemon is shutting down and opens no new event taps.' };
    if (this.clients.size >= this.opts.maxClients) {
      return { status: 429, code: ErrorCode.HMD_ERR_RATE_LIMITED, message: `${this.clients.size} event taps are open, the most bifrost.maxClients allows; close one or raise bifrost.maxClients.` };
    }
    return undefined;
  }

  target(name: string): TapFilter['plugin'] | undefined {
    return this.targets().find((t) => t.name === name);
  }

  targetNames(): string[] {
    return this.targets().map((t) => t.name);
  }

  open(res: ServerResponse, filter: TapFilter & { description: Record<string, unknown> }, remote: string): void {
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache, no-transform', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    res.socket?.setNoDelay(true);
    const client = new TapClient(this.nextClientId++, remote, res, compileTapFilter(filter), this);
    res.write(retryFrame() + controlFrame('hello', { seq: this.seq, heartbeatMs: this.opts.heartbeatMs, filter: filter.description, clientId: client.id }));
    this.clients.add(client);
    res.on('close', () => client.gone());
    res.on('error', () => client.gone());
    if (!this.heartbeatTimer) {
      this.heartbeatTimer = setInterval(() => this.heartbeat(), this.opts.heartbeatMs);
      this.heartbeatTimer.unref();
    }
    this.log.debug({ clientId: client.id, remote, filter: filter.description }, `An event tap opened from ${remote}; ${this.clients.size} open.`);
  }

  markDirty(c: TapClient): void {
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

  onCutOff(c: TapClient, pendingEvents: number, pendingBytes: number): void {
    this.cutOff++;
    this.log.warn({ clientId: c.id, remote: c.remote, pendingEvents, pendingBytes }, `Disconnected the event tap ${c.id} (${c.remote}) because it stopped reading: ${pendingEvents} events (${pendingBytes} bytes) were waiting for it. It can reconnect.`);
  }

  detach(c: TapClient): void {
    if (!this.clients.delete(c)) return;
    this.dirty.delete(c);
    if (this.clients.size === 0 && this.heartbeatTimer) {
      clearInterval(this.heartbeatTimer);
      this.heartbeatTimer = undefined;
    }
  }

  private heartbeat(): void {
    const text = commentFrame(`heartbeat ${new Date().toISOString()}`);
    for (const c of this.clients) c.heartbeat(text);
  }

  /** Ends every tap with a `shutdown` event (what is queued goes first) and opens no more. */
  close(): void {
    if (this.closing) return;
    this.closing = true;
    const last = controlFrame('shutdown', { message: 'The daemon is stopping and ends this tap.' });
    for (const c of [...this.clients]) c.end(last, true);
  }
}
