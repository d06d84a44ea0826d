/**
 * The rules plugin's actions (heimdall.rules.<name>): how the HTTP API and the CLI reach the
 * engine. Reading actions (status, list, show, test, history, deadLetters) are open to every
 * caller; the ones that change something (pause, resume, retryDeadLetter) are refused to the
 * model and left to operators and plugins; `reload` only answers the daemon (it needs the key the
 * daemon put in the plugin's config).
 *
 * A failed result carries `data.reason`, a stable word the daemon maps to an HTTP status:
 * no_such_rule, invalid_rule, disabled, no_such_dead_letter, retry_failed, refused, not_started.
 */
import type { ActionContext, ActionDefinition, ActionResult } from '../../sdk/index.js';
import { redactDefinition, redactInput } from './actions.js';
import { completeEvent, dryRun } from './dry-run.js';
import type { RuleEntry, RulesEngine } from './engine.js';
import { describeReload, reloadRules } from './reload.js';
import { errorText } from './retry.js';

type Params = Record<string, unknown>;
/** Why an action failed, for callers that map it (the daemon's HTTP routes). */
export type FailureReason = 'no_such_rule' | 'invalid_rule' | 'disabled' | 'no_such_dead_letter' | 'retry_failed' | 'refused' | 'not_started';
const fail = (message: string, reason?: FailureReason, data?: Record<string, unknown>): ActionResult => ({
  success: false,
  message,
  ...(reason || data ? { data: { ...data, ...(reason ? { reason } : {}) } } : {}),
});

/** An error that a handler throws to fail with a reason. */
class ActionRefusal extends Error {
  constructor(
    message: string,
    readonly reason: FailureReason,
  ) {
    super(message);
  }
}

/** What the `reload` action checks its caller with, and hands the new rules to. */
export interface ReloadGate {
  /** The key the daemon put in the plugin's config (reloadKey); undefined: reload is not available. */
  key: string | undefined;
  /** Called after the rules were replaced, with the event types they want (null: all). */
  onReloaded?(events: string[] | null): void;
}
const NAME = { type: 'string', minLength: 1, description: 'The rule name.' };
const LIMIT = { type: 'integer', minimum: 1, maximum: 10_000, description: 'Most entries to return, newest first.' };

function summary(engine: RulesEngine, e: RuleEntry): Record<string, unknown> {
  const s = e.stats;
  return {
    name: e.rule.name,
    description: e.rule.description,
    state: engine.stateOf(e),
    priority: e.rule.priority,
    on: e.rule.on,
    matched: s.matched,
    fired: s.fired,
    suppressed: { ...s.suppressed },
    deadLettered: s.actions.deadLettered,
    ...(s.lastFiredAt ? { lastFiredAt: s.lastFiredAt } : {}),
  };
}

function invalidRules(engine: RulesEngine): Array<{ name: string; errors: Array<Record<string, unknown>> }> {
  return engine.invalid.map((name) => ({ name, errors: engine.errors.filter((x) => x.rule === name).map((x) => ({ ...x })) }));
}

export function ruleActions(getEngine: () => RulesEngine | undefined, gate: ReloadGate = { key: undefined }): Record<string, ActionDefinition> {
  /** Wraps a handler: the engine must exist; a thrown error becomes a failed result. */
  const use =
    (f: (engine: RulesEngine, p: Params, actx: ActionContext) => ActionResult | Promise<ActionResult>) =>
    async (actx: ActionContext): Promise<ActionResult> => {
      const engine = getEngine();
      if (!engine) return fail('The rules engine has not started; the plugin may have failed in init, see its log.', 'not_started');
      try {
        return await f(engine, actx.params, actx);
      } catch (err) {
        return fail(errorText(err), err instanceof ActionRefusal ? err.reason : undefined);
      }
    };
  const rule = (engine: RulesEngine, p: Params): RuleEntry => {
    const name = String(p.name);
    const e = engine.get(name);
    if (e) return e;
    const bad = engine.invalid.includes(name);
    if (bad) throw new ActionRefusal(`The rule ${name} is invalid and was not loaded: ${engine.errors.filter((x) => x.rule === name).map((x) => x.message).join(' ')}`, 'invalid_rule');
    throw new ActionRefusal(`There is no rule named ${name}; the rules are ${engine.entries.map((x) => x.rule.name).join(', ') || '(none)'}.`, 'no_such_rule');
  };
  const operatorsOnly = (actx: ActionContext, what: string): ActionResult | undefined =>
    actx.trigger.kind === 'prompt' ? fail(`Only an operator or a plugin may ${what}; the model cannot.`, 'refused') : undefined;

  return {
    status: {
      description: 'Summarises the rules engine: rules by state, the invalid rules with their errors, firings in flight and the dead-letter list.',
      params: { type: 'object', properties: {}, additionalProperties: false },
      handler: use((engine) => {
        const states = { active: 0, paused: 0, disabled: 0 };
        for (const e of engine.entries) states[engine.stateOf(e)]++;
        const dl = engine.deadLetters.counts();
        const inv = invalidRules(engine);
        const n = engine.entries.length;
        const msg = `${n} rule${n === 1 ? '' : 's'} loaded (${states.active} active, ${states.paused} paused, ${states.disabled} disabled); ${inv.length} invalid; ${engine.firingsInFlight} firing${engine.firingsInFlight === 1 ? '' : 's'} running; ${dl.count} dead letter${dl.count === 1 ? '' : 's'}.`;
        return { success: true, message: msg, data: { rules: states, invalid: inv, firingsInFlight: engine.firingsInFlight, events: { ...engine.counters }, deadLetters: dl } };
      }),
    },
    list: {
      description: 'Lists the rules in priority order with their state and counts, and the rules that failed to load.',
      params: { type: 'object', properties: {}, additionalProperties: false },
      handler: use((engine) => {
        const rules = engine.entries.map((e) => summary(engine, e));
        return { success: true, message: `${rules.length} rule${rules.length === 1 ? '' : 's'} loaded; ${engine.invalid.length} invalid.`, data: { rules, invalid: invalidRules(engine) } };
      }),
    },
    show: {
      description: 'Shows one rule: its definition, state, live gate state and statistics.',
      params: { type: 'object', properties: { name: NAME }, required: ['name'], additionalProperties: false },
      handler: use((engine, p) => {
        const e = rule(engine, p);
        const state = engine.stateOf(e);
        return {
          success: true,
          message: `The rule ${e.rule.name} is ${state}; it matched ${e.stats.matched} events and fired ${e.stats.fired} times.`,
          data: { name: e.rule.name, state, definition: redactDefinition(e.rule.definition), live: e.gates.state(), statistics: structuredClone(e.stats), historySize: e.history.total },
        };
      }),
    },
    pause: {
      description: 'Pauses a rule: it ignores events until resumed. The pause survives a restart.',
      params: { type: 'object', properties: { name: NAME }, required: ['name'], additionalProperties: false },
      handler: use((engine, p, actx) => {
        const refused = operatorsOnly(actx, 'pause a rule');
        if (refused) return refused;
        const e = rule(engine, p);
        if (!e.rule.enabled) return fail(`The rule ${e.rule.name} is disabled in its definition (enabled: false); pausing it changes nothing.`, 'disabled');
        const r = engine.setPaused(e.rule.name, true);
        if (r.changed) engine.ctx.log.info(`The rule ${e.rule.name} was paused by ${actx.trigger.kind === 'plugin' ? `the plugin ${actx.trigger.plugin}` : 'an operator'}.`);
        return { success: true, message: r.changed ? `The rule ${e.rule.name} is paused.` : `The rule ${e.rule.name} was already paused.`, data: { name: e.rule.name, state: r.state, changed: r.changed } };
      }),
    },
    resume: {
      description: 'Resumes a paused rule.',
      params: { type: 'object', properties: { name: NAME }, required: ['name'], additionalProperties: false },
      handler: use((engine, p, actx) => {
        const refused = operatorsOnly(actx, 'resume a rule');
        if (refused) return refused;
        const e = rule(engine, p);
        if (!e.rule.enabled) return fail(`The rule ${e.rule.name} is disabled in its definition (enabled: false); set enabled: true to run it.`, 'disabled');
        const r = engine.setPaused(e.rule.name, false);
        if (r.changed) engine.ctx.log.info(`The rule ${e.rule.name} was resumed by ${actx.trigger.kind === 'plugin' ? `the plugin ${actx.trigger.plugin}` : 'an operator'}.`);
        return { success: true, message: r.changed ? `The rule ${e.rule.name} is active again.` : `The rule ${e.rule.name} was not paused.`, data: { name: e.rule.name, state: r.state, changed: r.changed } };
      }),
    },
    test: {
      description: 'Dry run: says whether an event matches a rule and why not, what its window, debounce, cooldown and concurrency would do, and the actions it would run with rendered inputs. Runs nothing and changes nothing.',
      params: {
        type: 'object',
        properties: { name: NAME, event: { type: 'object', required: ['type'], description: 'An event; id, timestamp, database and source are filled in when missing.' } },
        required: ['name', 'event'],
        additionalProperties: false,
      },
      handler: use((engine, p) => {
        const e = rule(engine, p);
        const event = completeEvent(p.event as Record<string, unknown>, engine.clock.now());
        const r = dryRun(e, engine.stateOf(e), event, engine.clock.now());
        return { success: true, message: r.summary, data: r as unknown as Record<string, unknown> };
      }),
    },
    history: {
      description: 'Recent firings, newest first, with each action’s status, attempts, rendered input and result or error; of one rule or of all.',
      params: { type: 'object', properties: { name: NAME, limit: LIMIT }, additionalProperties: false },
      handler: use((engine, p) => {
        const limit = typeof p.limit === 'number' ? p.limit : 50;
        const entries = p.name !== undefined ? [rule(engine, p)] : engine.entries;
        const firings = entries
          .flatMap((e) => e.history.newest(limit))
          .sort((a, b) => (a.startedAt < b.startedAt ? 1 : a.startedAt > b.startedAt ? -1 : 0))
          .slice(0, limit);
        const of = p.name !== undefined ? `of rule ${String(p.name)}` : 'of all rules';
        return { success: true, message: `${firings.length} recent firing${firings.length === 1 ? '' : 's'} ${of}.`, data: { firings } };
      }),
    },
    deadLetters: {
      description: 'Lists dead-lettered actions (failed after their retries), newest first, with counts of added, evicted and retried entries.',
      params: { type: 'object', properties: { rule: NAME, limit: LIMIT }, additionalProperties: false },
      handler: use((engine, p) => {
        const list = engine.deadLetters.list({ ...(typeof p.rule === 'string' ? { rule: p.rule } : {}), limit: typeof p.limit === 'number' ? p.limit : 100 });
        const entries = list.map((d) => ({ ...d, input: redactInput(d.action, d.input) }));
        const counts = engine.deadLetters.counts();
        return { success: true, message: `${counts.count} dead letter${counts.count === 1 ? '' : 's'} (at most ${counts.max} are kept); showing ${entries.length}.`, data: { ...counts, entries } };
      }),
    },
    retryDeadLetter: {
      description: 'Runs a dead-lettered action again with its stored input and retry policy; on success it leaves the list. Later actions of the same firing are not run.',
      // the stored retry policy may wait a while between attempts
      timeoutMs: 600_000,
      params: { type: 'object', properties: { id: { type: 'string', minLength: 1, description: 'The dead letter id.' } }, required: ['id'], additionalProperties: false },
      handler: use(async (engine, p, actx) => {
        const refused = operatorsOnly(actx, 'retry a dead letter');
        if (refused) return refused;
        const entry = engine.deadLetters.get(String(p.id));
        if (!entry) return fail(`There is no dead letter with id ${String(p.id)}; list them with the deadLetters action.`, 'no_such_dead_letter');
        const r = await engine.retryDeadLetter(entry);
        if (r.ok) {
          engine.ctx.log.info(`The dead-lettered ${entry.action} action of rule ${entry.rule} (${entry.id}) succeeded on retry and left the list.`);
          return { success: true, message: `The ${entry.action} action of rule ${entry.rule} succeeded on retry after ${r.attempts} attempt${r.attempts === 1 ? '' : 's'}; the dead letter was removed.`, data: { id: entry.id, removed: true, attempts: r.attempts, result: r.result } };
        }
        return fail(`The ${entry.action} action of rule ${entry.rule} failed again after ${r.attempts} attempt${r.attempts === 1 ? '' : 's'}: ${r.error.replace(/\.?$/, '.')} It stays in the dead-letter list.`, 'retry_failed', { id: entry.id, removed: false, attempts: r.attempts, error: r.error });
      }),
    },
    reload: {
      description: 'Replaces the rules with a new list, keeping the state and statistics of rules that did not change. Used by the daemon when it reloads its config; refused to everyone else.',
      params: {
        type: 'object',
        properties: { key: { type: 'string', description: 'The key the daemon gave the plugin.' }, rules: { type: 'array', description: 'The new rules.' } },
        required: ['key', 'rules'],
        additionalProperties: false,
      },
      handler: use((engine, p, actx) => {
        if (gate.key === undefined) return fail('This rules plugin was not started by the daemon for rules: and rulesPath:, so it cannot be reloaded; change its config and restart it.', 'refused');
        if (actx.trigger.kind !== 'operator' || p.key !== gate.key) return fail('Only the daemon reloads the rules; edit rules: or the rulesPath files and run `heimdall reload`.', 'refused');
        const summary = reloadRules(engine, p.rules as unknown[]);
        gate.onReloaded?.(summary.events);
        const message = describeReload(summary);
        engine.ctx.log.info(message, { added: summary.added, changed: summary.changed, removed: summary.removed, invalid: summary.invalid });
        for (const err of engine.errors) engine.ctx.log.error(`${err.message} The rule was left out; the other rules run.`, { rule: err.rule, path: err.path });
        return { success: true, message, data: summary as unknown as Record<string, unknown> };
      }),
    },
  };
}
