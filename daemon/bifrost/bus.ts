/**
 * Bifrost, the notification bus: every message gets a monotonic id, a timestamp and its origin,
 * is logged, is kept in a bounded ring buffer for replay, and is handed to live subscribers.
 */
import type { Logger } from 'pino';
import type { NotificationLevel } from '../../sdk/index.js';

export type BifrostKind = 'message' | 'notification' | 'broadcast' | 'confirmation_request' | 'confirmation_result';

export interface BifrostOrigin {
  /** 'daemon' for the daemon's own notices, otherwise 'plugin'. */
  kind: 'daemon' | 'plugin' | 'operator';
  plugin?: string;
  invocationId?: string;
}

export interface BifrostMessage {
  id: number;
  kind: BifrostKind;
  timestamp: string;
  level: NotificationLevel;
  title?: string;
  message: string;
  data?: Record<string, unknown>;
  origin: BifrostOrigin;
}

export type BifrostInput = Omit<BifrostMessage, 'id' | 'timestamp' | 'level'> & { level?: NotificationLevel };
export type BifrostSubscriber = (m: BifrostMessage) => void;

export class BifrostBus {
  private readonly ring: BifrostMessage[];
  private start = 0;
  private count = 0;
  private nextId = 1;
  private readonly subscribers = new Set<BifrostSubscriber>();
  published = 0;

  constructor(readonly capacity: number, private readonly log: Logger) {
    this.ring = new Array(capacity);
  }

  publish(input: BifrostInput): BifrostMessage {
    const m: BifrostMessage = { ...input, level: input.level ?? 'info', id: this.nextId++, timestamp: new Date().toISOString() };
    if (this.count < this.capacity) {
      this.ring[(this.start + this.count) % this.capacity] = m;
      this.count++;
    } else {
      this.ring[this.start] = m;
      this.start = (this.start + 1) % this.capacity;
    }
    this.published++;
    const lvl = m.level === 'error' ? 'error' : m.level === 'warning' ? 'warn' : 'info';
    this.log[lvl]({ bifrostId: m.id, kind: m.kind, origin: m.origin, ...(m.data ? { data: m.data } : {}) }, `Bifrost ${m.kind}${m.title ? ` "${m.title}"` : ''}: ${m.message}`);
    for (const s of this.subscribers) {
      try {
        s(m);
      } catch (err) {
        this.log.warn(`A Bifrost subscriber threw and was skipped: ${(err as Error).message}`);
      }
    }
    return m;
  }

  /** The id of the oldest message still in the buffer (0 when empty). */
  oldestId(): number {
    return this.count === 0 ? 0 : this.ring[this.start]!.id;
  }

  lastId(): number {
    return this.nextId - 1;
  }

  /** Messages with id > since, oldest first, at most limit. */
  since(since: number, limit = this.capacity): BifrostMessage[] {
    const out: BifrostMessage[] = [];
    for (let i = 0; i < this.count && out.length < limit; i++) {
      const m = this.ring[(this.start + i) % this.capacity]!;
      if (m.id > since) out.push(m);
    }
    return out;
  }

  subscribe(fn: BifrostSubscriber): () => void {
    this.subscribers.add(fn);
    return () => this.subscribers.delete(fn);
  }

  /** Operator clients connected (SSE); the stream endpoint registers them. */
  clients = 0;
}
