/**
 * The page's copy of the Bifrost stream: the latest `capacity` messages (oldest first) with gap
 * markers where the stream lost messages, and who listens to them.
 *
 * Memory is bounded (capacity entries; older ones leave the page and are counted). Views are told
 * about changes at most once every `notifyMs` (500 ms), however fast messages arrive, so that a
 * busy bus costs two renders a second instead of one per message.
 */
import type { BifrostGap, BifrostMessage } from './types';

export interface MessageEntry {
  type: 'message';
  key: string;
  m: BifrostMessage;
}

export interface GapEntry {
  type: 'gap';
  key: string;
  gap: BifrostGap;
  restart: boolean;
  at: number;
}

export type Entry = MessageEntry | GapEntry;

export interface GapNotice {
  key: string;
  gap: BifrostGap;
  restart: boolean;
  at: number;
}

export class MessageStore {
  /** Oldest first. */
  entries: Entry[] = [];
  /** Messages received since the page opened. */
  received = 0;
  /** Entries that left the page's buffer to keep it within capacity. */
  evicted = 0;
  /** Gap notices not yet dismissed, newest last. */
  notices: GapNotice[] = [];
  /** Every origin seen ('daemon', 'operator', plugin names). */
  readonly origins = new Set<string>();
  version = 0;
  private gapSeq = 0;
  private readonly views = new Set<() => void>();
  private readonly taps = new Set<(batch: BifrostMessage[]) => void>();
  private timer: ReturnType<typeof setTimeout> | undefined;
  private lastNotify = 0;

  constructor(readonly capacity = 2000, private readonly notifyMs = 500) {}

  add(batch: BifrostMessage[], epoch: string): void {
    for (const m of batch) {
      this.entries.push({ type: 'message', key: `${epoch}-${m.id}`, m });
      this.origins.add(originOf(m));
    }
    this.received += batch.length;
    this.trim();
    for (const t of this.taps) t(batch);
    this.changed();
  }

  addGap(gap: BifrostGap, restart: boolean, at: number): void {
    const key = `gap-${++this.gapSeq}`;
    this.entries.push({ type: 'gap', key, gap, restart, at });
    this.notices = [...this.notices.slice(-4), { key, gap, restart, at }];
    this.trim();
    this.changed(true);
  }

  dismiss(key: string): void {
    this.notices = this.notices.filter((n) => n.key !== key);
    this.changed(true);
  }

  private trim(): void {
    // Trim in steps of a tenth so that a full buffer costs one splice per few hundred messages.
    const over = this.entries.length - this.capacity;
    if (over > this.capacity / 10) {
      this.entries.splice(0, over);
      this.evicted += over;
    }
  }

  /**
   * Tells the views: at once when they were last told notifyMs ago or more (a quiet bus shows a
   * message without delay), else when notifyMs have passed since (a busy one re-renders at most
   * 1000 / notifyMs times a second).
   */
  private changed(now = false): void {
    this.version++;
    if (now) {
      if (this.timer) clearTimeout(this.timer);
      this.timer = undefined;
      this.notify();
      return;
    }
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.notify();
    }, Math.max(0, this.lastNotify + this.notifyMs - Date.now()));
  }

  private notify(): void {
    this.lastNotify = Date.now();
    for (const v of this.views) v();
  }

  /** A view that re-renders on change (throttled). */
  subscribe(fn: () => void): () => void {
    this.views.add(fn);
    return () => this.views.delete(fn);
  }

  /** Every batch as it arrives (unthrottled), for panes that react to certain messages. */
  tap(fn: (batch: BifrostMessage[]) => void): () => void {
    this.taps.add(fn);
    return () => this.taps.delete(fn);
  }
}

/** 'daemon', 'operator' or the plugin's name. */
export function originOf(m: BifrostMessage): string {
  return m.origin.kind === 'plugin' ? (m.origin.plugin ?? 'plugin') : m.origin.kind;
}
