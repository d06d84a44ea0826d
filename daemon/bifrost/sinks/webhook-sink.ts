/**
 * The `webhook` sink: POSTs each message, in order, as JSON (the message object) or as
 * Slack-compatible `{ text }`. A failed POST (network error, timeout, 5xx, 408, 425, 429) is
 * retried with exponential backoff (Retry-After is honoured up to maxBackoffMs); other 4xx answers
 * are not retried. Messages wait in a bounded queue: when it is full the oldest is dropped and
 * counted. Nothing here ever blocks the bus. Log lines name the endpoint by its origin only: a
 * webhook URL often carries a secret in its path.
 */
import type { Logger } from 'pino';
import type { WebhookSinkConfig } from '../../../config/types.js';
import type { BifrostMessage } from '../bus.js';
import { systemClock, type Clock } from '../clock.js';
import { slackText } from '../format.js';
import type { Sink, SinkStats } from './sink.js';

const RETRYABLE = new Set([408, 425, 429]);

class Attempt {
  constructor(readonly retryable: boolean, readonly reason: string, readonly retryAfterMs?: number) {}
}

function retryAfter(h: string | null, now: number): number | undefined {
  if (!h) return undefined;
  const s = Number(h);
  if (Number.isFinite(s)) return Math.max(0, s * 1000);
  const t = Date.parse(h);
  return Number.isNaN(t) ? undefined : Math.max(0, t - now);
}

export class WebhookSink implements Sink {
  /** Messages waiting (not counting the one being delivered). */
  private readonly queue: BifrostMessage[] = [];
  private inFlight: BifrostMessage | undefined;
  private pumping = false;
  private closed = false;
  private failing = false;
  private failedAttemptsInStreak = 0;
  private wake: (() => void) | undefined;
  private abort = new AbortController();
  private readonly counters = { received: 0, written: 0, failed: 0, dropped: 0, retries: 0 };
  private lastError: string | undefined;
  private readonly where: string;
  private idle: Array<() => void> = [];

  constructor(readonly name: string, private readonly cfg: WebhookSinkConfig, private readonly log: Logger, private readonly clock: Clock = systemClock) {
    let where = cfg.url;
    try {
      where = new URL(cfg.url).origin;
    } catch {
      // the schema checked the scheme; keep the raw text
    }
    this.where = where;
  }

  write(m: BifrostMessage): void {
    if (this.closed) return;
    this.counters.received++;
    if (this.queue.length >= this.cfg.queueSize) {
      this.queue.shift();
      this.counters.dropped++;
      if (this.counters.dropped === 1 || this.counters.dropped % 1000 === 0) {
        this.log.error(
          { sink: this.name, dropped: this.counters.dropped },
          `The Bifrost webhook sink ${this.name} (${this.where}) has dropped ${this.counters.dropped} messages because its queue of ${this.cfg.queueSize} was full while the endpoint was slow or failing. Fix the endpoint or raise queueSize.`,
        );
      }
    }
    this.queue.push(m);
    if (!this.pumping) void this.pump();
  }

  private body(m: BifrostMessage): string {
    return JSON.stringify(this.cfg.format === 'slack' ? { text: slackText(m) } : m);
  }

  private async post(m: BifrostMessage): Promise<Attempt | undefined> {
    let res: Response;
    try {
      res = await fetch(this.cfg.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'user-agent': 'heimdall-bifrost', ...(this.cfg.headers ?? {}) },
        body: this.body(m),
        signal: AbortSignal.any([AbortSignal.timeout(this.cfg.timeoutMs), this.abort.signal]),
      });
    } catch (err) {
      const e = err as Error & { cause?: { code?: string; message?: string } };
      const reason = e.name === 'TimeoutError' ? `no answer within ${this.cfg.timeoutMs} ms` : e.cause?.code ?? e.cause?.message ?? e.message;
      return new Attempt(true, reason);
    }
    await res.arrayBuffer().catch(() => undefined);
    if (res.ok) return undefined;
    const reason = `HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ''}`;
    const again = res.status >= 500 || RETRYABLE.has(res.status);
    return new Attempt(again, reason, again ? retryAfter(res.headers.get('retry-after'), this.clock.now()) : undefined);
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = this.clock.setTimeout(() => {
        this.wake = undefined;
        resolve();
      }, ms);
      this.wake = () => {
        this.clock.clear(t);
        this.wake = undefined;
        resolve();
      };
    });
  }

  private async pump(): Promise<void> {
    this.pumping = true;
    try {
      for (let m = this.queue.shift(); m !== undefined; m = this.abort.signal.aborted ? undefined : this.queue.shift()) {
        this.inFlight = m;
        await this.deliver(m);
      }
    } finally {
      this.inFlight = undefined;
      this.pumping = false;
      for (const f of this.idle.splice(0)) f();
    }
  }

  private async deliver(m: BifrostMessage): Promise<void> {
    const attempts = this.cfg.maxRetries + 1;
    for (let attempt = 1; ; attempt++) {
      const fail = await this.post(m);
      if (!fail) {
        this.counters.written++;
        if (this.failing) {
          this.log.info({ sink: this.name }, `The Bifrost webhook sink ${this.name} delivers to ${this.where} again after ${this.failedAttemptsInStreak} failed attempts.`);
          this.failing = false;
          this.failedAttemptsInStreak = 0;
        }
        return;
      }
      this.lastError = fail.reason;
      this.failedAttemptsInStreak++;
      if (!fail.retryable || attempt >= attempts || this.abort.signal.aborted) {
        this.counters.failed++;
        this.log.error(
          { sink: this.name, bifrostId: m.id, attempts: attempt, failedTotal: this.counters.failed },
          fail.retryable
            ? `The Bifrost webhook sink ${this.name} gave up on message ${m.id} after ${attempt} attempts to POST it to ${this.where} (last: ${fail.reason}); ${this.counters.failed} messages lost so far. Check that the endpoint is up.`
            : `The endpoint ${this.where} of the Bifrost webhook sink ${this.name} refused message ${m.id} with ${fail.reason}, which is not retried; ${this.counters.failed} messages lost so far. Check the sink's url, headers and format.`,
        );
        this.failing = true;
        return;
      }
      const backoff = Math.min(this.cfg.maxBackoffMs, this.cfg.backoffMs * 2 ** (attempt - 1));
      const delay = Math.min(this.cfg.maxBackoffMs, Math.max(backoff, fail.retryAfterMs ?? 0));
      this.counters.retries++;
      if (!this.failing) {
        this.failing = true;
        this.log.warn(
          { sink: this.name, bifrostId: m.id },
          `The Bifrost webhook sink ${this.name} could not POST message ${m.id} to ${this.where} (${fail.reason}); retrying with backoff, up to ${this.cfg.maxRetries} times per message.`,
        );
      }
      await this.sleep(delay);
    }
  }

  stats(): SinkStats {
    return { name: this.name, type: 'webhook', ...this.counters, queued: this.queue.length + (this.inFlight ? 1 : 0), ...(this.lastError ? { lastError: this.lastError } : {}) };
  }

  /** Keeps delivering until the queue is empty or the deadline passes; what is left is counted as dropped. */
  async close(deadline: number): Promise<void> {
    this.closed = true;
    if (this.pumping) {
      const left = deadline - this.clock.now();
      if (left > 0) {
        // Skip backoff waits: the daemon is stopping, try once more now.
        this.wake?.();
        await Promise.race([new Promise<void>((r) => this.idle.push(r)), new Promise<void>((r) => this.clock.setTimeout(r, left).unref())]);
      }
    }
    this.abort.abort();
    this.wake?.();
    if (this.queue.length > 0) {
      this.counters.dropped += this.queue.length;
      this.log.error(
        { sink: this.name, lost: this.queue.length },
        `The Bifrost webhook sink ${this.name} stopped with ${this.queue.length} messages not delivered to ${this.where}; they are lost.`,
      );
      this.queue.length = 0;
    }
  }
}
