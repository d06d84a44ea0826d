/**
 * Per-rule statistics and the history of recent firings (a bounded ring per rule).
 */
import type { ActionType } from './types.js';

/** Why a matching event did not fire its rule. */
export const SUPPRESS_REASONS = ['window', 'cooldown', 'debounce', 'concurrency'] as const;
export type SuppressReason = (typeof SUPPRESS_REASONS)[number];

export interface RuleStatistics {
  /** Events that passed on, match and when. */
  matched: number;
  /** Firings started (the actions ran or are running). */
  fired: number;
  /** Matching events that did not fire, by reason. */
  suppressed: Record<SuppressReason, number>;
  /** Evaluations of when or window.by that raised an error (the event did not match). */
  evalErrors: number;
  lastEvalError?: string;
  actions: { succeeded: number; failed: number; retries: number; deadLettered: number };
  /** Firings running now. */
  inFlight: number;
  lastMatchedAt?: string;
  lastFiredAt?: string;
  /** Window or cooldown keys dropped to stay within maxKeys. */
  keysEvicted: number;
}

export interface ActionRecord {
  index: number;
  type: ActionType;
  timing: 'sync' | 'async';
  status: 'succeeded' | 'failed' | 'skipped';
  attempts: number;
  durationMs: number;
  /** The rendered input, with credential-like headers redacted. */
  input?: unknown;
  result?: Record<string, unknown>;
  error?: string;
  deadLetterId?: string;
}

export interface FiringRecord {
  id: string;
  rule: string;
  startedAt: string;
  finishedAt: string;
  durationMs: number;
  eventId: string;
  eventType: string;
  /** The window key, when the rule has window.by. */
  key?: string;
  windowCount: number;
  /** 'succeeded': every action did; 'failed': a failure stopped the firing; 'partial': some failed, the rest ran. */
  status: 'succeeded' | 'failed' | 'partial';
  actions: ActionRecord[];
}

export function emptyStatistics(): RuleStatistics {
  return {
    matched: 0,
    fired: 0,
    suppressed: { window: 0, cooldown: 0, debounce: 0, concurrency: 0 },
    evalErrors: 0,
    actions: { succeeded: 0, failed: 0, retries: 0, deadLettered: 0 },
    inFlight: 0,
    keysEvicted: 0,
  };
}

/** A fixed-size ring: the newest `size` items. */
export class Ring<T> {
  private readonly items: T[] = [];
  private next = 0;
  total = 0;

  constructor(readonly size: number) {}

  push(item: T): void {
    this.total++;
    if (this.items.length < this.size) this.items.push(item);
    else this.items[this.next] = item;
    this.next = (this.next + 1) % this.size;
  }

  /** Newest first. */
  newest(limit = this.size): T[] {
    const n = this.items.length;
    const out: T[] = [];
    for (let i = 1; i <= Math.min(limit, n); i++) out.push(this.items[(this.next - i + n * 2) % n]!);
    return out;
  }
}

/**
 * Logs at most one line per `intervalMs` per key, counting the lines it held back so the next one
 * can say how many there were.
 */
export class LogThrottle {
  private readonly last = new Map<string, { at: number; held: number }>();

  constructor(
    private readonly now: () => number,
    private readonly intervalMs = 10_000,
  ) {}

  /** Returns undefined to hold the line back, or the count of lines held back since the last one. */
  take(key: string): number | undefined {
    const t = this.now();
    const s = this.last.get(key);
    if (s && t - s.at < this.intervalMs) {
      s.held++;
      return undefined;
    }
    const held = s?.held ?? 0;
    this.last.set(key, { at: t, held: 0 });
    if (this.last.size > 1000) this.last.delete(this.last.keys().next().value as string);
    return held;
  }
}
