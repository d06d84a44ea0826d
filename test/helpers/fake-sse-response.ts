/**
 * A stand-in for the `ServerResponse` the SSE hub writes to, with a client at the other end that
 * reads (everything written arrives at once) or has stopped reading (bytes pile up in the socket's
 * write buffer until `highWaterMark`, when `write` returns false, and 'drain' follows `resume()`).
 * What arrived is parsed back into SSE events and comments. As with Node, 'close' follows end()
 * (once the client has read it) and destroy() on the next tick; disconnect() closes at once.
 */
import { EventEmitter } from 'node:events';
import type { ServerResponse } from 'node:http';
import { SseParser, type SseEvent } from '../../daemon/bifrost/sse-client.js';

export class FakeSseResponse extends EventEmitter {
  statusCode = 0;
  headers: Record<string, string> = {};
  /** Every write call, as text (also the unread ones). */
  readonly writes: string[] = [];
  /** Every write call's chunk as given (a string or a Buffer). */
  readonly chunks: Array<string | Buffer> = [];
  readonly events: SseEvent[] = [];
  readonly comments: string[] = [];
  ended = false;
  destroyed = false;
  private unread: string[] = [];
  private unreadBytes = 0;
  private reading = true;
  private owesDrain = false;
  private readonly parser = new SseParser((e) => this.events.push(e), (c) => this.comments.push(c));

  /** @param highWaterMark Bytes the socket buffers for a client that does not read before write() returns false. */
  constructor(private readonly highWaterMark = 16 * 1024) {
    super();
  }

  /** As the hub sees it. */
  asResponse(): ServerResponse {
    return this as unknown as ServerResponse;
  }

  /** Bytes written but not yet read by the client. */
  get writableLength(): number {
    return this.unreadBytes;
  }

  writeHead(status: number, headers: Record<string, string>): this {
    this.statusCode = status;
    this.headers = headers;
    return this;
  }

  write(given: string | Buffer): boolean {
    if (this.ended || this.destroyed) throw new Error('write after end');
    this.chunks.push(given);
    const chunk = typeof given === 'string' ? given : given.toString('utf8');
    this.writes.push(chunk);
    if (this.reading) {
      this.parser.feed(chunk);
      return true;
    }
    this.unread.push(chunk);
    this.unreadBytes += Buffer.byteLength(chunk);
    if (this.unreadBytes >= this.highWaterMark) {
      this.owesDrain = true;
      return false;
    }
    return true;
  }

  /** Like Node's, 'close' follows on the next tick, and only once a reading client has the end. */
  end(): this {
    this.ended = true;
    if (this.reading) process.nextTick(() => this.close());
    return this;
  }

  destroy(): this {
    this.destroyed = true;
    process.nextTick(() => this.close());
    return this;
  }

  /** The client stops reading its socket. */
  pause(): void {
    this.reading = false;
  }

  /** The client reads what is waiting; 'drain' when a write had returned false. */
  resume(): void {
    this.reading = true;
    for (const c of this.unread.splice(0)) this.parser.feed(c);
    this.unreadBytes = 0;
    if (this.owesDrain) {
      this.owesDrain = false;
      this.emit('drain');
    }
    if (this.ended) process.nextTick(() => this.close());
  }

  /** The client goes away. */
  disconnect(): void {
    this.close();
  }

  /** Events of one name, their data parsed. */
  dataOf<T = Record<string, unknown>>(event: string): T[] {
    return this.events.filter((e) => e.event === event).map((e) => JSON.parse(e.data) as T);
  }

  /** Ids (message ids, without the epoch) of the bus messages received. */
  messageIds(): number[] {
    return this.events.filter((e) => e.hasId).map((e) => Number(e.lastEventId.slice(e.lastEventId.lastIndexOf('-') + 1)));
  }

  private closed = false;
  private close(): void {
    if (this.closed) return;
    this.closed = true;
    this.emit('close');
  }
}
