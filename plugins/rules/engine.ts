/**
 * The rules engine: holds the compiled rules, runs each event through them in priority order
 * (lower first) and starts firings. For one event the rules that fire run one after another: a
 * rule's sync actions finish before the next rule's first action starts. Firings run beside the
 * event stream, bounded by maxInFlight across all rules: when that many are running, handle()
 * waits, so the plugin's queue fills and the daemon drops and counts as for any slow plugin.
 */
import { eventTypeMatches, type DatabaseEvent, type PluginContext } from '../../sdk/index.js';
import { executeAction } from './actions.js';
import type { Clock } from './clock.js';
import type { DeadLetter, DeadLetterStore } from './dead-letters.js';
import { startFiring, type Firing, type FiringDeps } from './firing.js';
import { RuleGates, type Candidate } from './gates.js';
import { matchFast } from './matcher.js';
import type { PauseState } from './pause-state.js';
import { withRetry } from './retry.js';
import { LogThrottle, Ring, emptyStatistics, type FiringRecord, type RuleStatistics } from './stats.js';
import type { CompileResult, CompiledRule, RuleError } from './types.js';

export interface EngineOptions {
  compiled: CompileResult;
  ctx: PluginContext;
  clock: Clock;
  fetch: typeof fetch;
  deadLetters: DeadLetterStore;
  pauses: PauseState;
  /** Firings kept per rule in the history. */
  historySize: number;
  /** Firings running at once across all rules before handle() waits. */
  maxInFlight: number;
  /** Window and cooldown keys per rule. */
  maxKeys: number;
  webhookTimeoutMs: number;
}

export type RuleState = 'active' | 'paused' | 'disabled';

/** One rule and its live state. */
export interface RuleEntry {
  rule: CompiledRule;
  gates: RuleGates;
  stats: RuleStatistics;
  history: Ring<FiringRecord>;
  /** enabled and not paused (kept in step with the pause state, read on every event). */
  active: boolean;
}

export class RulesEngine {
  private current: { entries: RuleEntry[]; errors: RuleError[]; invalid: string[] };
  private readonly byName = new Map<string, RuleEntry>();
  private readonly byType = new Map<string, RuleEntry[]>();
  private readonly running = new Set<Promise<FiringRecord>>();
  private readonly deps: FiringDeps;
  private inFlight = 0;
  private waiters: Array<() => void> = [];
  /** Events seen and events that matched no rule's `on`. */
  readonly counters = { events: 0, unrouted: 0 };

  constructor(private readonly o: EngineOptions) {
    this.current = { entries: o.compiled.rules.map((rule) => this.newEntry(rule)), errors: o.compiled.errors, invalid: o.compiled.invalid };
    for (const e of this.entries) this.byName.set(e.rule.name, e);
    this.deps = { ctx: o.ctx, clock: o.clock, fetch: o.fetch, webhookTimeoutMs: o.webhookTimeoutMs, deadLetters: o.deadLetters, throttle: new LogThrottle(() => o.clock.now()) };
  }

  /** The loaded rules, in priority order. */
  get entries(): readonly RuleEntry[] {
    return this.current.entries;
  }

  /** The problems of the rules that did not compile. */
  get errors(): readonly RuleError[] {
    return this.current.errors;
  }

  /** Names (or `#index`) of the rules left out because of errors. */
  get invalid(): readonly string[] {
    return this.current.invalid;
  }

  /**
   * A fresh entry for a compiled rule: empty gates, and the given statistics and history (a rule
   * whose definition changed keeps counting where it was) or new ones.
   */
  newEntry(rule: CompiledRule, keep?: Pick<RuleEntry, 'stats' | 'history'>): RuleEntry {
    const stats = keep?.stats ?? emptyStatistics();
    return { rule, stats, gates: new RuleGates(rule, this.o.clock, stats, this.o.maxKeys), history: keep?.history ?? new Ring<FiringRecord>(this.o.historySize), active: rule.enabled && !this.o.pauses.has(rule.name) };
  }

  /**
   * Puts another rule set in place (reload.ts decides which entries are kept). Events handled from
   * now on see only `entries`; firings already started finish with the entry they started with.
   */
  replaceRules(entries: RuleEntry[], compiled: Pick<CompileResult, 'errors' | 'invalid'>): void {
    this.current = { entries, errors: compiled.errors, invalid: compiled.invalid };
    this.byName.clear();
    for (const e of entries) this.byName.set(e.rule.name, e);
    this.byType.clear();
  }

  get ctx(): PluginContext {
    return this.o.ctx;
  }

  get clock(): Clock {
    return this.o.clock;
  }

  get deadLetters(): DeadLetterStore {
    return this.o.deadLetters;
  }

  get(name: string): RuleEntry | undefined {
    return this.byName.get(name);
  }

  stateOf(e: RuleEntry): RuleState {
    if (!e.rule.enabled) return 'disabled';
    return this.o.pauses.has(e.rule.name) ? 'paused' : 'active';
  }

  /** Firings running now, across all rules. */
  get firingsInFlight(): number {
    return this.inFlight;
  }

  /** The rules whose `on` selects `type`, in priority order (cached per type). */
  private forType(type: string): RuleEntry[] {
    let list = this.byType.get(type);
    if (!list) {
      list = this.entries.filter((e) => e.rule.on.some((p) => eventTypeMatches(p, type)));
      this.byType.set(type, list);
    }
    return list;
  }

  /** Runs one event through the rules. Resolves at once unless maxInFlight firings are running. */
  handle(event: DatabaseEvent): void | Promise<void> {
    this.counters.events++;
    const list = this.forType(event.type);
    if (list.length === 0) {
      this.counters.unrouted++;
      return;
    }
    const scope = { event };
    let ready: Array<[RuleEntry, Candidate]> | undefined;
    for (let i = 0; i < list.length; i++) {
      const e = list[i]!;
      if (!e.active) continue;
      const m = matchFast(e.rule, event, scope);
      if (!m.matched) {
        if (m.error !== undefined) {
          e.stats.evalErrors++;
          e.stats.lastEvalError = m.error;
        }
        continue;
      }
      e.stats.matched++;
      e.stats.lastMatchedAt = new Date(this.o.clock.now()).toISOString();
      const c = e.gates.offer(event, m.key);
      if (!c) continue;
      if (e.gates.debounce(c, (cc) => void this.admitAndStart(e, cc))) continue;
      (ready ??= []).push([e, c]);
    }
    if (ready) {
      if (ready.length === 1) this.admitAndStart(ready[0]![0], ready[0]![1]);
      else void this.runInOrder(ready);
    }
    if (this.inFlight >= this.o.maxInFlight) return new Promise<void>((r) => this.waiters.push(r));
  }

  private async runInOrder(ready: Array<[RuleEntry, Candidate]>): Promise<void> {
    for (const [e, c] of ready) {
      const f = this.admitAndStart(e, c);
      if (f) await f.syncDone;
    }
  }

  /** The last gates (cooldown, concurrency), then the actions. */
  private admitAndStart(e: RuleEntry, c: Candidate): Firing | undefined {
    if (e.gates.admit(c) !== undefined) return undefined;
    this.inFlight++;
    const f = startFiring(e.rule, c, e.stats, this.deps, (record) => {
      e.history.push(record);
      e.gates.release();
      this.inFlight--;
      if (this.inFlight < this.o.maxInFlight && this.waiters.length > 0) {
        const w = this.waiters;
        this.waiters = [];
        for (const r of w) r();
      }
    });
    this.running.add(f.done);
    f.done.then(
      () => this.running.delete(f.done),
      (err: unknown) => {
        this.running.delete(f.done);
        this.o.ctx.log.error(`A firing of rule ${e.rule.name} ended with an unexpected error: ${(err as Error)?.message ?? String(err)}. This is a bug in the rules engine.`);
      },
    );
    return f;
  }

  /** Resolves when no firing is running (debounced candidates not counted). */
  async settled(): Promise<void> {
    while (this.running.size > 0) await Promise.allSettled([...this.running]);
  }

  /** Pauses or resumes a rule; the change is kept in the state file. */
  setPaused(name: string, paused: boolean): { changed: boolean; state: RuleState } {
    const e = this.byName.get(name)!;
    const changed = this.o.pauses.set(name, paused);
    e.active = e.rule.enabled && !paused;
    return { changed, state: this.stateOf(e) };
  }

  /**
   * Runs a dead-lettered action again with its stored input and retry policy. On success the entry
   * is removed; on failure its attempts and last error are updated and it stays.
   */
  async retryDeadLetter(entry: DeadLetter): Promise<{ ok: true; result: Record<string, unknown>; attempts: number } | { ok: false; error: string; attempts: number }> {
    const env = { ctx: this.o.ctx, fetch: this.o.fetch, webhookTimeoutMs: this.o.webhookTimeoutMs, rule: entry.rule, event: entry.event, window: { count: entry.window.count, events: [entry.event] } };
    const stats = this.byName.get(entry.rule)?.stats;
    const out = await withRetry(entry.retry, this.o.clock, () => executeAction(entry.action, entry.input, env), () => stats && void stats.actions.retries++);
    if (out.ok) {
      if (stats) stats.actions.succeeded++;
      this.o.deadLetters.remove(entry.id);
      return { ok: true, result: out.value, attempts: out.attempts };
    }
    if (stats) stats.actions.failed++;
    const updated: DeadLetter = { ...entry, attempts: entry.attempts + out.attempts, lastError: out.error, retries: entry.retries + 1, lastRetryAt: new Date(this.o.clock.now()).toISOString() };
    this.o.deadLetters.update(updated);
    return { ok: false, error: out.error, attempts: out.attempts };
  }

  /** Drops debounced candidates and waits up to `graceMs` (wall time) for running firings. */
  async stop(graceMs = 2000): Promise<{ droppedDebounced: number; stillRunning: number }> {
    let droppedDebounced = 0;
    for (const e of this.entries) droppedDebounced += e.gates.cancelPending();
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([this.settled(), new Promise<void>((r) => (timer = setTimeout(r, graceMs)))]);
    clearTimeout(timer);
    for (const w of this.waiters) w();
    this.waiters = [];
    return { droppedDebounced, stillRunning: this.running.size };
  }
}
