/**
 * One firing of a rule: its actions in order. A sync action is awaited before the next starts; an
 * async one is started and the next goes on at once. Each action is retried by its policy; one
 * that still fails is dead-lettered and, unless it has continueOnError (or is async), stops the
 * actions after it, which are recorded as skipped. The firing's record goes to the rule's history
 * once every action, async ones included, has settled.
 */
import { randomUUID } from 'node:crypto';
import type { PluginContext } from '../../sdk/index.js';
import { executeAction, redactInput, type ActionEnv } from './actions.js';
import type { Clock } from './clock.js';
import type { DeadLetterStore } from './dead-letters.js';
import type { Candidate } from './gates.js';
import { errorText, withRetry } from './retry.js';
import type { ActionRecord, FiringRecord, LogThrottle, RuleStatistics } from './stats.js';
import { renderTemplate, type TemplateScope } from './templates.js';
import type { CompiledAction, CompiledRule } from './types.js';

export interface FiringDeps {
  ctx: PluginContext;
  clock: Clock;
  fetch: typeof fetch;
  webhookTimeoutMs: number;
  deadLetters: DeadLetterStore;
  throttle: LogThrottle;
}

/** The handle of a running firing. */
export interface Firing {
  /** Resolves when the sync part is over (the next rule for the same event may start). */
  syncDone: Promise<void>;
  /** Resolves with the record when every action has settled. */
  done: Promise<FiringRecord>;
}

/** The scope templates are rendered with. */
export function templateScope(rule: CompiledRule, c: Candidate, now: number): TemplateScope {
  return {
    event: c.event,
    window: { count: c.window.count, events: c.window.events, ...(rule.window?.by ? { key: c.key } : {}) },
    rule: { name: rule.name, description: rule.description, priority: rule.priority },
    now: new Date(now).toISOString(),
  };
}

/** Renders the input of one action; a render error is thrown as an Error with a sentence. */
export function renderInput(rule: CompiledRule, a: CompiledAction, scope: TemplateScope): unknown {
  try {
    return renderTemplate(a.input, scope);
  } catch (err) {
    throw new Error(`The input of action ${a.index} (${a.type}) of rule ${rule.name} could not be rendered: ${errorText(err)}`);
  }
}

async function runAction(rule: CompiledRule, a: CompiledAction, c: Candidate, scope: TemplateScope, stats: RuleStatistics, d: FiringDeps): Promise<ActionRecord> {
  const t0 = d.clock.now();
  const base = { index: a.index, type: a.type, timing: a.timing };
  let input: unknown;
  try {
    input = renderInput(rule, a, scope);
  } catch (err) {
    stats.actions.failed++;
    const error = errorText(err);
    if (d.throttle.take(`${rule.name}:render`) !== undefined) d.ctx.log.warn(`${error}; the action was not run.`, { rule: rule.name, eventId: c.event.id });
    return { ...base, status: 'failed', attempts: 0, durationMs: 0, error };
  }
  const env: ActionEnv = { ctx: d.ctx, fetch: d.fetch, webhookTimeoutMs: d.webhookTimeoutMs, rule: rule.name, event: c.event, window: c.window };
  const out = await withRetry(a.retry, d.clock, () => executeAction(a.type, input, env), () => void stats.actions.retries++);
  const durationMs = d.clock.now() - t0;
  const shown = redactInput(a.type, input);
  if (out.ok) {
    stats.actions.succeeded++;
    return { ...base, status: 'succeeded', attempts: out.attempts, durationMs, input: shown, result: out.value };
  }
  stats.actions.failed++;
  stats.actions.deadLettered++;
  const dl = d.deadLetters.add({
    at: new Date(d.clock.now()).toISOString(),
    rule: rule.name,
    eventId: c.event.id,
    actionIndex: a.index,
    action: a.type,
    attempts: out.attempts,
    lastError: out.error,
    input,
    retry: a.retry,
    event: c.event,
    window: { count: c.window.count },
  });
  const held = d.throttle.take(`${rule.name}:dead-letter`);
  if (held !== undefined) {
    const more = held > 0 ? ` ${held} more of this rule's actions were dead-lettered since the last such line.` : '';
    d.ctx.log.warn(`The ${a.type} action ${a.index} of rule ${rule.name} failed after ${out.attempts} attempt${out.attempts === 1 ? '' : 's'} and was dead-lettered as ${dl.id}: ${out.error}${more}`, {
      rule: rule.name,
      eventId: c.event.id,
      deadLetterId: dl.id,
    });
  }
  return { ...base, status: 'failed', attempts: out.attempts, durationMs, input: shown, error: out.error, deadLetterId: dl.id };
}

/** Starts a firing; `onDone` gets the record (history, release of the concurrency slot). */
export function startFiring(rule: CompiledRule, c: Candidate, stats: RuleStatistics, d: FiringDeps, onDone: (r: FiringRecord) => void): Firing {
  const id = randomUUID();
  const startedAt = d.clock.now();
  const scope = templateScope(rule, c, startedAt);
  let markSync!: () => void;
  const syncDone = new Promise<void>((r) => (markSync = r));
  const done = (async (): Promise<FiringRecord> => {
    const records: Array<ActionRecord | undefined> = new Array(rule.actions.length);
    const background: Array<Promise<void>> = [];
    let stopped = false;
    try {
      for (const a of rule.actions) {
        if (stopped) {
          records[a.index] = { index: a.index, type: a.type, timing: a.timing, status: 'skipped', attempts: 0, durationMs: 0 };
          continue;
        }
        if (a.timing === 'async') {
          background.push(runAction(rule, a, c, scope, stats, d).then((r) => void (records[a.index] = r)));
          continue;
        }
        const r = await runAction(rule, a, c, scope, stats, d);
        records[a.index] = r;
        if (r.status === 'failed' && !a.continueOnError) stopped = true;
      }
    } finally {
      markSync();
    }
    await Promise.all(background);
    const actions = records.map((r, i) => r ?? { index: i, type: rule.actions[i]!.type, timing: rule.actions[i]!.timing, status: 'skipped' as const, attempts: 0, durationMs: 0 });
    const failed = actions.some((r) => r.status === 'failed');
    const record: FiringRecord = {
      id,
      rule: rule.name,
      startedAt: new Date(startedAt).toISOString(),
      finishedAt: new Date(d.clock.now()).toISOString(),
      durationMs: d.clock.now() - startedAt,
      eventId: c.event.id,
      eventType: c.event.type,
      ...(rule.window?.by ? { key: c.key } : {}),
      windowCount: c.window.count,
      status: !failed ? 'succeeded' : stopped ? 'failed' : 'partial',
      actions,
    };
    onDone(record);
    return record;
  })();
  return { syncDone, done };
}
