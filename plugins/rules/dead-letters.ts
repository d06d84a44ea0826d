/**
 * The dead-letter list: actions that failed after their retries, with what is needed to run them
 * again (the rendered input, the retry policy, the event). Bounded: past `max` entries the oldest
 * is evicted and counted. Kept across restarts in a JSONL file of operations, one per line:
 *
 *   {"op":"add","entry":{…}}      an action was dead-lettered
 *   {"op":"update","entry":{…}}   a retry failed again (attempts and error updated)
 *   {"op":"remove","id":"…"}      a retry succeeded
 *
 * Eviction needs no line (the file is replayed and only the newest `max` are kept). The file is
 * rewritten compactly when it holds more than twice `max` lines. It may hold credentials that
 * were rendered into webhook headers, so it is created readable by its owner only.
 */
import { randomUUID } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { DatabaseEvent, PluginLogger } from '../../sdk/index.js';
import { LogThrottle } from './stats.js';
import type { ActionType, RetryPolicy } from './types.js';

export interface DeadLetter {
  id: string;
  /** When it was dead-lettered, ISO 8601. */
  at: string;
  rule: string;
  eventId: string;
  /** Position of the action in the rule. */
  actionIndex: number;
  action: ActionType;
  /** Attempts made, operator retries included. */
  attempts: number;
  lastError: string;
  /** The rendered input the action ran with. */
  input: unknown;
  retry: RetryPolicy;
  event: DatabaseEvent;
  window: { count: number };
  /** Operator retries so far. */
  retries: number;
  lastRetryAt?: string;
}

type Op = { op: 'add'; entry: DeadLetter } | { op: 'update'; entry: DeadLetter } | { op: 'remove'; id: string };

export interface DeadLetterCounters {
  /** Entries now in the list. */
  count: number;
  max: number;
  /** Entries added since the worker started. */
  added: number;
  /** Entries evicted to stay within max since the worker started. */
  evicted: number;
  /** Entries removed because a retry succeeded, since the worker started. */
  retried: number;
  /** Lines of the file that could not be read at start-up. */
  unreadable: number;
}

export class DeadLetterStore {
  private readonly entries = new Map<string, DeadLetter>();
  private lines = 0;
  private counters = { added: 0, evicted: 0, retried: 0, unreadable: 0 };
  private broken = false;
  private readonly throttle = new LogThrottle(() => Date.now());

  /** `path` undefined keeps the list in memory only. */
  constructor(
    readonly path: string | undefined,
    readonly max: number,
    private readonly log: PluginLogger,
  ) {}

  /** Reads the file, if any. Unreadable lines are skipped and counted. */
  load(): void {
    if (!this.path || !existsSync(this.path)) return;
    const text = readFileSync(this.path, 'utf8');
    for (const line of text.split('\n')) {
      if (!line.trim()) continue;
      this.lines++;
      let op: Op;
      try {
        op = JSON.parse(line) as Op;
      } catch {
        this.counters.unreadable++;
        continue;
      }
      if (op.op === 'add' && op.entry?.id) {
        this.entries.set(op.entry.id, op.entry);
        while (this.entries.size > this.max) this.entries.delete(this.entries.keys().next().value as string);
      } else if (op.op === 'update' && op.entry?.id && this.entries.has(op.entry.id)) this.entries.set(op.entry.id, op.entry);
      else if (op.op === 'remove' && op.id) this.entries.delete(op.id);
    }
    if (this.counters.unreadable > 0) {
      this.log.warn(`The dead-letter file ${this.path} had ${this.counters.unreadable} unreadable lines; they were skipped.`);
    }
    if (this.lines > 2 * this.max + 16) this.compact();
  }

  /** Adds an entry (evicting the oldest past max) and returns it with its id. */
  add(e: Omit<DeadLetter, 'id' | 'retries'>): DeadLetter {
    const entry: DeadLetter = { id: randomUUID(), retries: 0, ...e };
    this.entries.set(entry.id, entry);
    this.counters.added++;
    this.evictOverflow();
    this.write({ op: 'add', entry });
    return entry;
  }

  get(id: string): DeadLetter | undefined {
    return this.entries.get(id);
  }

  /** Records a failed retry. */
  update(entry: DeadLetter): void {
    if (!this.entries.has(entry.id)) return;
    this.entries.set(entry.id, entry);
    this.write({ op: 'update', entry });
  }

  /** Removes an entry after a successful retry. */
  remove(id: string): boolean {
    if (!this.entries.delete(id)) return false;
    this.counters.retried++;
    this.write({ op: 'remove', id });
    return true;
  }

  /** Newest first. */
  list(filter: { rule?: string; limit?: number } = {}): DeadLetter[] {
    const all = [...this.entries.values()].reverse();
    const picked = filter.rule ? all.filter((e) => e.rule === filter.rule) : all;
    return picked.slice(0, filter.limit ?? picked.length);
  }

  counts(): DeadLetterCounters {
    return { count: this.entries.size, max: this.max, ...this.counters };
  }

  private evictOverflow(): void {
    while (this.entries.size > this.max) {
      const oldest = this.entries.values().next().value as DeadLetter;
      this.entries.delete(oldest.id);
      this.counters.evicted++;
      const held = this.throttle.take('evicted');
      if (held !== undefined) {
        const more = held > 0 ? ` ${held} more were evicted since the last such line.` : '';
        this.log.error(`The dead-letter list is full (${this.max} entries), so its oldest entry, the ${oldest.action} action of rule ${oldest.rule} for event ${oldest.eventId}, was evicted and cannot be retried.${more} Retry or raise deadLetters.max.`, { evicted: this.counters.evicted });
      }
    }
  }

  private write(op: Op): void {
    if (!this.path || this.broken) return;
    try {
      if (this.lines === 0) mkdirSync(dirname(this.path), { recursive: true });
      appendFileSync(this.path, `${JSON.stringify(op)}\n`, { mode: 0o600 });
      this.lines++;
      if (this.lines > 2 * this.max + 16) this.compact();
    } catch (err) {
      this.broken = true;
      this.log.error(`The dead-letter file ${this.path} cannot be written (${(err as Error).message}); dead letters are now kept in memory only and will be lost on restart.`);
    }
  }

  /** Rewrites the file with one add line per entry. */
  private compact(): void {
    if (!this.path) return;
    const tmp = `${this.path}.tmp`;
    try {
      mkdirSync(dirname(this.path), { recursive: true });
      writeFileSync(tmp, [...this.entries.values()].map((entry) => `${JSON.stringify({ op: 'add', entry })}\n`).join(''), { mode: 0o600 });
      renameSync(tmp, this.path);
      this.lines = this.entries.size;
    } catch (err) {
      this.log.warn(`The dead-letter file ${this.path} could not be compacted (${(err as Error).message}); it keeps growing until the next try.`);
    }
  }
}
