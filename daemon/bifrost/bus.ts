/**
 * Bifrost, the notification bus: every message gets a monotonic id, a timestamp and its origin,
 * is kept in a bounded ring buffer for replay, and is handed to live subscribers (the SSE hub, the
 * sinks; the `log` sink writes it to the daemon log).
 *
 * Ids are consecutive within one run of the daemon, so the ring is indexed by id arithmetic. Each
 * run has an `epoch` (a short base-36 string) so that a client resuming with an id from an earlier
 * run is told that the daemon restarted instead of silently missing messages.
 *
 * With a scrubber set ({@link BifrostBus.scrubWith}), the title, message and data strings of every
 * message lose the config's secrets and credential-shaped text before anyone sees them (the
 * stream, the replay buffer, every sink): a plugin that echoes a webhook URL with its token, or a
 * driver error with the database URI, does not send them on.
 */
import type { Logger } from 'pino';
import type { NotificationLevel } from '../../sdk/index.js';
import { systemClock, type Clock } from './clock.js';
import { compileFilter, type BifrostFilter } from './filter.js';
import type { BifrostInput, BifrostMessage } from './message.js';
import { sseId, type SincePoint } from './since.js';

export type { BifrostInput, BifrostKind, BifrostMessage, BifrostOrigin } from './message.js';
export type BifrostSubscriber = (m: BifrostMessage) => void;

/** What the bus scrubs messages with (config/secret-scrubber.ts's SecretScrubber). */
export interface MessageScrubber {
  text(s: string): string;
  deep<T>(value: T): T;
}

/** Why a replay cannot be complete; sent as the first `gap` event of a stream. */
export interface BifrostGap {
  reason: 'evicted' | 'restarted';
  /** What the client asked for (as given). */
  requested: string;
  /** Messages that cannot be replayed; null when the count is unknown. */
  missed: number | null;
  /** Oldest id still in the buffer (0 when it is empty). */
  oldestAvailable: number;
  /** The same as a sentence. */
  message: string;
}

export interface BifrostQuery {
  /** Start after this point; without it, the latest `last` (or `limit`) messages. */
  since?: SincePoint;
  /** The raw since value, for gap messages. */
  sinceText?: string;
  filter?: BifrostFilter;
  /** Most messages returned. */
  limit?: number;
  /** Without `since`: how many of the latest matching messages. Default: limit. */
  last?: number;
}

export interface BifrostQueryResult {
  messages: BifrostMessage[];
  gap?: BifrostGap;
  /** True when more matching messages follow the last one returned (only with since). */
  more: boolean;
  /** Resume point for the next query: the SSE id of the last message scanned. */
  next: string;
  /**
   * Set when `since` names a message of this run that does not exist yet (an id past the newest):
   * nothing is replayed, and this says why as a sentence. It is not a restart.
   */
  ahead?: string;
}

export class BifrostBus {
  private readonly ring: BifrostMessage[];
  private readonly times: Float64Array;
  private start = 0;
  private count = 0;
  private nextId = 1;
  private readonly subscribers = new Set<BifrostSubscriber>();
  /** Identifies this run of the daemon in SSE ids. */
  readonly epoch: string;
  published = 0;
  /** Messages pushed out of the ring buffer by newer ones. */
  evicted = 0;
  private lastEvictedAt = -Infinity;
  /** Operator clients connected (SSE); the stream hub keeps this up to date. */
  clients = 0;
  private scrubber: MessageScrubber | undefined;

  /**
   * @param clock Timestamps and time-based replay read it; the rest of Bifrost (stream hub,
   *   confirmations, sinks) takes its clock from here. Default: the real time.
   */
  constructor(readonly capacity: number, private readonly log: Logger, readonly clock: Clock = systemClock) {
    this.ring = new Array(capacity);
    this.times = new Float64Array(capacity);
    this.epoch = `${clock.now().toString(36).padStart(4, '0')}${Math.floor(Math.random() * 1296).toString(36).padStart(2, '0')}`;
  }

  /** Scrubs every message published from now on. */
  scrubWith(scrubber: MessageScrubber | undefined): void {
    this.scrubber = scrubber;
  }

  publish(input: BifrostInput): BifrostMessage {
    const now = this.clock.now();
    const s = this.scrubber;
    const m: BifrostMessage = {
      id: this.nextId++,
      kind: input.kind,
      timestamp: new Date(now).toISOString(),
      level: input.level ?? 'info',
      ...(input.title !== undefined ? { title: s ? s.text(input.title) : input.title } : {}),
      message: s ? s.text(input.message) : input.message,
      ...(input.data !== undefined ? { data: s ? s.deep(input.data) : input.data } : {}),
      origin: input.origin,
    };
    let slot: number;
    if (this.count < this.capacity) {
      slot = (this.start + this.count) % this.capacity;
      this.count++;
    } else {
      slot = this.start;
      this.lastEvictedAt = this.times[slot]!;
      this.evicted++;
      this.start = (this.start + 1) % this.capacity;
    }
    this.ring[slot] = m;
    this.times[slot] = now;
    this.published++;
    for (const s of this.subscribers) {
      try {
        s(m);
      } catch (err) {
        this.log.warn(`A Bifrost subscriber threw and was skipped for message ${m.id}: ${(err as Error).message}`);
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

  /** The message with this id when it is still in the buffer. */
  get(id: number): BifrostMessage | undefined {
    const i = id - this.oldestId();
    if (this.count === 0 || i < 0 || i >= this.count) return undefined;
    return this.ring[(this.start + i) % this.capacity];
  }

  private at(i: number): BifrostMessage {
    return this.ring[(this.start + i) % this.capacity]!;
  }

  /** Ring index of the first message with id > since. */
  private indexAfterId(since: number): number {
    if (this.count === 0) return 0;
    return Math.min(this.count, Math.max(0, since + 1 - this.oldestId()));
  }

  /** Ring index of the first message at or after `at` (ms); timestamps never decrease. */
  private indexAtTime(at: number): number {
    let lo = 0;
    let hi = this.count;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.times[(this.start + mid) % this.capacity]! < at) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Messages with id > since, oldest first, at most limit. */
  since(since: number, limit = this.capacity): BifrostMessage[] {
    const out: BifrostMessage[] = [];
    for (let i = this.indexAfterId(since); i < this.count && out.length < limit; i++) out.push(this.at(i));
    return out;
  }

  /** Where a replay from `since` starts, and the gap in front of it if any. */
  private startOf(q: BifrostQuery): { index: number; gap?: BifrostGap; ahead?: string } {
    const since = q.since!;
    const requested = q.sinceText ?? (since.kind === 'id' ? String(since.id) : new Date(since.at).toISOString());
    const oldest = this.oldestId();
    if (since.kind === 'time') {
      const index = this.indexAtTime(since.at);
      if (this.evicted > 0 && this.lastEvictedAt >= since.at) {
        return {
          index,
          gap: {
            reason: 'evicted', requested, missed: null, oldestAvailable: oldest,
            message: `Some messages published after ${new Date(since.at).toISOString()} are no longer in the replay buffer (it keeps the latest ${this.capacity}); the replay starts at message ${oldest}. Raise bifrost.bufferSize to keep more.`,
          },
        };
      }
      return { index };
    }
    // Only another epoch proves a restart; an id past the newest of this run is from the future.
    const restarted = since.epoch !== undefined && since.epoch !== this.epoch;
    if (!restarted && since.id > this.lastId()) {
      return {
        index: this.count,
        ahead:
          `${requested} is after the newest message of this run (${this.lastId()}, epoch ${this.epoch}), so there is nothing after it to replay. ` +
          `Message ids start again at 1 when the daemon restarts: resume with the SSE id (${this.epoch}-<id>) the stream sent, a time (10m), or leave since out.`,
      };
    }
    if (restarted) {
      const lost = this.evicted > 0 ? ` and ${this.evicted} messages of this run are no longer in the buffer` : '';
      return {
        index: 0,
        gap: {
          reason: 'restarted', requested, missed: null, oldestAvailable: oldest,
          message: `The daemon restarted after message ${since.id} of its previous run: messages published before the restart are not available${lost}. Replaying from message ${oldest || this.lastId() + 1} of this run.`,
        },
      };
    }
    if (this.count > 0 && since.id < oldest - 1) {
      const missed = oldest - 1 - since.id;
      return {
        index: 0,
        gap: {
          reason: 'evicted', requested, missed, oldestAvailable: oldest,
          message: `${missed} messages after ${requested} (ids ${since.id + 1} to ${oldest - 1}) are no longer in the replay buffer, which keeps the latest ${this.capacity}; the replay starts at message ${oldest}. Reconnect sooner or raise bifrost.bufferSize.`,
        },
      };
    }
    return { index: this.indexAfterId(since.id) };
  }

  /**
   * Replay and polling: the matching messages after `since` (oldest first, at most `limit`), or,
   * without `since`, the latest `last` matching messages; with the gap in front when some are gone.
   */
  query(q: BifrostQuery = {}): BifrostQueryResult {
    const pass = compileFilter(q.filter);
    const limit = Math.max(1, q.limit ?? this.capacity);
    const messages: BifrostMessage[] = [];
    if (q.since === undefined) {
      const last = Math.min(limit, q.last ?? limit);
      for (let i = this.count - 1; i >= 0 && messages.length < last; i--) {
        const m = this.at(i);
        if (!pass || pass(m)) messages.push(m);
      }
      messages.reverse();
      return { messages, more: false, next: sseId(this.epoch, this.lastId()) };
    }
    const { index, gap, ahead } = this.startOf(q);
    if (ahead) return { messages, more: false, next: sseId(this.epoch, this.lastId()), ahead };
    let i = index;
    for (; i < this.count && messages.length < limit; i++) {
      const m = this.at(i);
      if (!pass || pass(m)) messages.push(m);
    }
    let more = false;
    if (messages.length >= limit) {
      for (let j = i; j < this.count && !more; j++) {
        const m = this.at(j);
        more = !pass || pass(m);
      }
    }
    const next = more ? messages[messages.length - 1]!.id : this.lastId();
    return { messages, ...(gap ? { gap } : {}), more, next: sseId(this.epoch, next) };
  }

  subscribe(fn: BifrostSubscriber): () => void {
    this.subscribers.add(fn);
    return () => this.subscribers.delete(fn);
  }
}
