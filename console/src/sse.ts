/**
 * The Bifrost stream (GET /v1/bifrost/stream) read with fetch and a ReadableStream, not
 * EventSource, so that the token travels in the Authorization header and never in a URL.
 *
 * - The first connection asks for the latest `last` messages (?last=N) to fill the page.
 * - Every reconnection sends `Last-Event-ID` (the `id:` of the last message received), so the
 *   daemon replays what was missed from its ring buffer; when it cannot (the messages were
 *   evicted, or the daemon restarted) it says so in a `gap` event, which is passed on.
 * - A new epoch in `hello` without a gap event (the page had received no message yet) is reported
 *   as a restart too.
 * - Heartbeats (comment lines) keep a watchdog fed: a stream silent for three heartbeat intervals
 *   is dropped and reopened. `cutoff` and `shutdown` end the stream; it is reopened with backoff
 *   (0.5 s doubling to 10 s).
 * - A 401 stops the stream and is reported: the app asks for the token.
 */
import { authHeaders, getToken, reportUnauthorized } from './api';
import type { BifrostGap, BifrostHello, BifrostMessage } from './types';

export type StreamState = 'connecting' | 'open' | 'reconnecting' | 'stopped';

export interface StreamStatus {
  state: StreamState;
  /** Why the last connection ended, as a sentence. */
  detail?: string;
  /** When the next attempt starts (reconnecting), ms since the epoch. */
  retryAt?: number;
  epoch?: string;
}

export interface StreamHandlers {
  /** One call per network chunk with every message it completed. */
  onMessages(batch: BifrostMessage[], epoch: string): void;
  /** A replay that is incomplete; `restart` when the daemon is a new run. */
  onGap(gap: BifrostGap, info: { restart: boolean; at: number }): void;
  onStatus(s: StreamStatus): void;
  /** A `cutoff` event: the daemon disconnected this page for reading too slowly. */
  onNotice?(text: string): void;
}

interface Frame {
  event: string;
  data: string;
  id: string | undefined;
}

/** Splits an SSE byte stream into frames (the WHATWG event-stream format). */
export class SseParser {
  private buf = '';
  private event = '';
  private data: string[] = [];
  private id: string | undefined;

  /** Feeds decoded text; returns the frames it completed and whether a comment (heartbeat) came. */
  feed(text: string): { frames: Frame[]; comment: boolean } {
    this.buf += text;
    const frames: Frame[] = [];
    let comment = false;
    let start = 0;
    for (;;) {
      const nl = this.buf.indexOf('\n', start);
      if (nl === -1) break;
      let line = this.buf.slice(start, nl);
      start = nl + 1;
      if (line.endsWith('\r')) line = line.slice(0, -1);
      if (line === '') {
        if (this.data.length > 0 || this.event !== '') frames.push({ event: this.event || 'message', data: this.data.join('\n'), id: this.id });
        this.event = '';
        this.data = [];
        this.id = undefined;
        continue;
      }
      if (line.startsWith(':')) {
        comment = true;
        continue;
      }
      const colon = line.indexOf(':');
      const field = colon === -1 ? line : line.slice(0, colon);
      let value = colon === -1 ? '' : line.slice(colon + 1);
      if (value.startsWith(' ')) value = value.slice(1);
      if (field === 'event') this.event = value;
      else if (field === 'data') this.data.push(value);
      else if (field === 'id') this.id = value;
    }
    this.buf = this.buf.slice(start);
    return { frames, comment };
  }
}

const MIN_BACKOFF_MS = 500;
const MAX_BACKOFF_MS = 10_000;

export class BifrostStream {
  private stopped = false;
  private controller: AbortController | undefined;
  private lastEventId: string | undefined;
  private epoch: string | undefined;
  private heartbeatMs = 15_000;
  private lastActivity = 0;
  private watchdog: ReturnType<typeof setInterval> | undefined;
  private wake: (() => void) | undefined;

  constructor(private readonly h: StreamHandlers, private readonly opts: { last: number; path?: string }) {}

  start(): void {
    this.stopped = false;
    this.watchdog = setInterval(() => {
      if (this.controller && Date.now() - this.lastActivity > this.heartbeatMs * 3) this.controller.abort();
    }, 1000);
    void this.run();
  }

  stop(): void {
    this.stopped = true;
    if (this.watchdog) clearInterval(this.watchdog);
    this.controller?.abort();
    this.wake?.();
    this.h.onStatus({ state: 'stopped' });
  }

  /** Reconnects at once (the operator pressed "Reconnect now", or the token changed). */
  reconnectNow(): void {
    this.controller?.abort();
    this.wake?.();
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.wake = undefined;
        resolve();
      }, ms);
      this.wake = () => {
        clearTimeout(t);
        this.wake = undefined;
        resolve();
      };
    });
  }

  private async run(): Promise<void> {
    let failures = 0;
    let detail: string | undefined;
    while (!this.stopped) {
      this.h.onStatus({ state: failures === 0 && this.epoch === undefined ? 'connecting' : 'reconnecting', ...(detail ? { detail } : {}) });
      const controller = new AbortController();
      this.controller = controller;
      this.lastActivity = Date.now();
      let opened = false;
      try {
        const headers: Record<string, string> = { accept: 'text/event-stream', ...authHeaders(getToken()) };
        if (this.lastEventId) headers['last-event-id'] = this.lastEventId;
        const res = await fetch(`${this.opts.path ?? '/v1/bifrost/stream'}?last=${this.opts.last}`, { headers, cache: 'no-store', signal: controller.signal });
        if (res.status === 401) {
          this.stopped = true;
          this.h.onStatus({ state: 'stopped', detail: 'The daemon asks for a token.' });
          reportUnauthorized();
          return;
        }
        if (!res.ok || !res.body) {
          let why = `The stream answered ${res.status}.`;
          try {
            const b = (await res.json()) as { error?: { message?: string } };
            if (b.error?.message) why = b.error.message;
          } catch {
            // not JSON
          }
          throw new Error(why);
        }
        opened = true;
        detail = await this.read(res.body, () => {
          failures = 0;
        });
      } catch (err) {
        if (this.stopped) return;
        const e = err as Error;
        detail = e.name === 'AbortError'
          ? 'The stream went silent (no heartbeat) and was reopened.'
          : opened ? `The stream broke: ${e.message}` : `The daemon cannot be reached (${e.message}).`;
      } finally {
        this.controller = undefined;
      }
      if (this.stopped) return;
      failures++;
      const delay = Math.min(MAX_BACKOFF_MS, MIN_BACKOFF_MS * 2 ** Math.max(0, failures - 1));
      this.h.onStatus({ state: 'reconnecting', detail: detail ?? 'The stream ended.', retryAt: Date.now() + delay, ...(this.epoch ? { epoch: this.epoch } : {}) });
      await this.sleep(delay);
    }
  }

  /** Reads one connection to its end; returns why it ended. */
  private async read(body: ReadableStream<Uint8Array>, onHello: () => void): Promise<string> {
    const reader = body.getReader();
    const decoder = new TextDecoder();
    const parser = new SseParser();
    let ended = 'The daemon closed the stream.';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return ended;
      this.lastActivity = Date.now();
      const { frames } = parser.feed(decoder.decode(value, { stream: true }));
      let batch: BifrostMessage[] | undefined;
      for (const f of frames) {
        if (f.event === 'hello') {
          const hello = JSON.parse(f.data) as BifrostHello;
          const previous = this.epoch;
          this.epoch = hello.epoch;
          this.heartbeatMs = Math.max(1000, hello.heartbeatMs || 15_000);
          onHello();
          this.h.onStatus({ state: 'open', epoch: hello.epoch });
          // A restart the daemon cannot report (no Last-Event-ID was sent): tell it ourselves.
          if (previous !== undefined && previous !== hello.epoch && this.lastEventId === undefined) {
            this.h.onGap({
              reason: 'restarted', requested: '', missed: null, oldestAvailable: hello.oldestId,
              message: 'The daemon restarted while the page was disconnected; messages published before the restart are not available.',
            }, { restart: true, at: Date.now() });
          }
        } else if (f.event === 'gap') {
          const gap = JSON.parse(f.data) as BifrostGap;
          this.h.onGap(gap, { restart: gap.reason === 'restarted', at: Date.now() });
        } else if (f.event === 'cutoff') {
          const c = JSON.parse(f.data) as { message?: string };
          ended = c.message ?? 'The daemon disconnected this page for reading too slowly.';
          this.h.onNotice?.(ended);
        } else if (f.event === 'shutdown') {
          const s = JSON.parse(f.data) as { message?: string };
          ended = s.message ?? 'The daemon is stopping.';
        } else if (f.data !== '') {
          const m = JSON.parse(f.data) as BifrostMessage;
          if (f.id) this.lastEventId = f.id;
          (batch ??= []).push(m);
        }
      }
      if (batch && this.epoch) this.h.onMessages(batch, this.epoch);
    }
  }
}
