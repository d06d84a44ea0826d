/**
 * The client side of the Bifrost stream, for `heimdall tail`, the benchmark and the tests: an
 * incremental Server-Sent Events parser (per the WHATWG spec: CR, LF or CRLF line ends, comment
 * lines, `data` lines joined with LF, `id` kept across events) and a node:http connection that
 * resolves once the stream is open (or rejects with the reason it is not).
 */
import { request as httpRequest, type ClientRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';

export interface SseEvent {
  /** `message` when the stream gave no event name. */
  event: string;
  data: string;
  /** The last id seen on the stream at this event (EventSource's lastEventId). */
  lastEventId: string;
  /** Whether this event itself carried an id line. */
  hasId: boolean;
}

export class SseParser {
  private buf = '';
  private data: string[] = [];
  private event = '';
  private sawId = false;
  lastEventId = '';
  retryMs: number | undefined;

  constructor(private readonly onEvent: (e: SseEvent) => void, private readonly onComment?: (text: string) => void) {}

  feed(chunk: string): void {
    this.buf += chunk;
    let start = 0;
    for (;;) {
      let end = -1;
      let next = -1;
      for (let i = start; i < this.buf.length; i++) {
        const c = this.buf.charCodeAt(i);
        if (c === 10) {
          end = i;
          next = i + 1;
          break;
        }
        if (c === 13) {
          // A CR at the very end may be the first half of CRLF: wait for more.
          if (i + 1 >= this.buf.length) break;
          end = i;
          next = this.buf.charCodeAt(i + 1) === 10 ? i + 2 : i + 1;
          break;
        }
      }
      if (end === -1) break;
      this.line(this.buf.slice(start, end));
      start = next;
    }
    this.buf = this.buf.slice(start);
  }

  private line(l: string): void {
    if (l === '') {
      if (this.data.length > 0) {
        this.onEvent({ event: this.event || 'message', data: this.data.join('\n'), lastEventId: this.lastEventId, hasId: this.sawId });
      }
      this.data = [];
      this.event = '';
      this.sawId = false;
      return;
    }
    if (l.charCodeAt(0) === 58) {
      this.onComment?.(l.slice(1).trimStart());
      return;
    }
    const colon = l.indexOf(':');
    const field = colon === -1 ? l : l.slice(0, colon);
    let value = colon === -1 ? '' : l.slice(colon + 1);
    if (value.charCodeAt(0) === 32) value = value.slice(1);
    switch (field) {
      case 'data':
        this.data.push(value);
        break;
      case 'event':
        this.event = value;
        break;
      case 'id':
        if (!value.includes('\0')) {
          this.lastEventId = value;
          this.sawId = true;
        }
        break;
      case 'retry':
        if (/^\d+$/.test(value)) this.retryMs = Number(value);
        break;
      default:
        break;
    }
  }
}

/** The stream answered with something other than 200; `body` is its text (a JSON error envelope from Heimdall). */
export class SseHttpError extends Error {
  constructor(readonly status: number, readonly body: string) {
    super(`The stream was refused with HTTP ${status}.`);
    this.name = 'SseHttpError';
  }
}

export interface SseConnectOptions {
  headers?: Record<string, string>;
  onEvent(e: SseEvent): void;
  onComment?(text: string): void;
  /** Treat the connection as dead after this long without any byte (heartbeats included), ms. */
  idleTimeoutMs?: number;
  /** Time allowed to connect and get the response headers, ms. Default 10000. */
  connectTimeoutMs?: number;
}

export interface SseConnection {
  response: IncomingMessage;
  /** Resolves when the stream ends: undefined when it ended cleanly, the error otherwise. */
  done: Promise<Error | undefined>;
  close(): void;
  /** Changes the idle timeout (e.g. once the hello event has said the heartbeat interval). */
  setIdleTimeout(ms: number): void;
  /** Stop or resume reading from the socket (tests of slow clients). */
  pause(): void;
  resume(): void;
}

/** Opens `url` as an event stream. Rejects with the socket error, an SseHttpError, or a timeout. */
export function connectSse(url: string, opts: SseConnectOptions): Promise<SseConnection> {
  const u = new URL(url);
  const req: ClientRequest = (u.protocol === 'https:' ? httpsRequest : httpRequest)(u, {
    method: 'GET',
    headers: { accept: 'text/event-stream', 'cache-control': 'no-cache', ...(opts.headers ?? {}) },
  });
  return new Promise<SseConnection>((resolve, reject) => {
    let settled = false;
    const connectTimer = setTimeout(() => {
      if (settled) return;
      settled = true;
      req.destroy();
      reject(new Error(`no answer within ${opts.connectTimeoutMs ?? 10_000} ms`));
    }, opts.connectTimeoutMs ?? 10_000);
    req.on('error', (err) => {
      if (settled) return;
      settled = true;
      clearTimeout(connectTimer);
      reject(err);
    });
    req.on('response', (res) => {
      clearTimeout(connectTimer);
      if (res.statusCode !== 200) {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c.length + body.length < 65536 ? c : ''));
        res.on('end', () => {
          if (settled) return;
          settled = true;
          reject(new SseHttpError(res.statusCode ?? 0, body));
        });
        res.on('error', (err) => {
          if (settled) return;
          settled = true;
          reject(err);
        });
        return;
      }
      settled = true;
      const parser = new SseParser(opts.onEvent, opts.onComment);
      let idle: NodeJS.Timeout | undefined;
      let idleMs = opts.idleTimeoutMs;
      let finish!: (e: Error | undefined) => void;
      const done = new Promise<Error | undefined>((r) => (finish = r));
      let ended = false;
      const end = (e: Error | undefined) => {
        if (ended) return;
        ended = true;
        clearTimeout(idle);
        finish(e);
      };
      const arm = () => {
        if (!idleMs || ended) return;
        clearTimeout(idle);
        idle = setTimeout(() => {
          end(new Error(`no data for ${idleMs} ms (heartbeats included)`));
          req.destroy();
        }, opts.idleTimeoutMs);
      };
      arm();
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        arm();
        parser.feed(chunk);
      });
      res.on('end', () => end(undefined));
      res.on('error', (err) => end(err));
      res.on('close', () => end(res.complete ? undefined : new Error('the connection closed')));
      resolve({
        response: res,
        done,
        close: () => {
          end(undefined);
          req.destroy();
        },
        setIdleTimeout: (ms: number) => {
          idleMs = ms;
          arm();
        },
        pause: () => res.pause(),
        resume: () => res.resume(),
      });
    });
    req.end();
  });
}
