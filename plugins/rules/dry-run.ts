/**
 * The dry run behind the `test` action: whether an event matches a rule and why not, what the
 * gates would do with it now (window, debounce, cooldown, concurrency), and the actions the rule
 * would run with their rendered inputs. It changes no state, counts nothing and runs no action.
 */
import { EVENT_TYPES, isEventType, type DatabaseEvent } from '../../sdk/index.js';
import { redactInput } from './actions.js';
import type { RuleEntry, RuleState } from './engine.js';
import { renderInput, templateScope } from './firing.js';
import type { GatePreview } from './gates.js';
import { explainMatch } from './matcher.js';
import { errorText } from './retry.js';

export interface DryRunAction {
  index: number;
  type: string;
  timing: 'sync' | 'async';
  continueOnError: boolean;
  retry: { maxAttempts: number; initialDelayMs: number; backoff: string; maxDelayMs: number };
  /** The rendered input (credential-like webhook headers redacted), when it rendered. */
  input?: unknown;
  error?: string;
}

export interface DryRunResult {
  rule: string;
  state: RuleState;
  event: DatabaseEvent;
  matched: boolean;
  /** Why it does not match, one sentence each (empty when it matches). */
  reasons: string[];
  key?: string;
  gates: GatePreview;
  /** Whether this event, now, would start the actions (a debounce only delays them). */
  wouldFire: boolean;
  /** A sentence summing it up. */
  summary: string;
  actions: DryRunAction[];
}

/** Fills the fields every event has; throws an Error with a sentence when the type is unusable. */
export function completeEvent(partial: Record<string, unknown>, now: number): DatabaseEvent {
  if (!isEventType(partial.type)) {
    throw new Error(`The test event needs a type, one of ${EVENT_TYPES.join(', ')}; got ${JSON.stringify(partial.type)}.`);
  }
  return { id: 'dry-run', timestamp: new Date(now).toISOString(), database: 'neo4j', source: 'test', ...partial } as DatabaseEvent;
}

export function dryRun(e: RuleEntry, state: RuleState, event: DatabaseEvent, now: number): DryRunResult {
  const rule = e.rule;
  const m = explainMatch(rule, event);
  const key = m.key ?? '';
  const gates = m.matched ? e.gates.preview(key) : {};
  const windowCount = gates.window?.inWindow ?? 1;
  const scope = templateScope(rule, { event, key, window: { count: windowCount, events: [event] } }, now);
  const actions: DryRunAction[] = rule.actions.map((a) => {
    const base = { index: a.index, type: a.type, timing: a.timing, continueOnError: a.continueOnError, retry: { ...a.retry } };
    try {
      return { ...base, input: redactInput(a.type, renderInput(rule, a, scope)) };
    } catch (err) {
      return { ...base, error: errorText(err) };
    }
  });
  const wouldFire = state === 'active' && m.matched && gates.blockedBy === undefined;
  let summary: string;
  if (state !== 'active') summary = `The rule ${rule.name} is ${state}, so it would not fire${m.matched ? ', although the event matches' : ''}.`;
  else if (!m.matched) summary = `The event does not match the rule ${rule.name}: ${m.reasons.join(' ')}`;
  else if (gates.blockedBy === 'window') summary = `The event matches, and would be event ${gates.window!.inWindow} of the ${gates.window!.count} the window needs within ${gates.window!.withinMs} ms, so the rule would not fire yet.`;
  else if (gates.blockedBy === 'cooldown') summary = `The event matches, but the rule is cooling down for ${gates.cooldown!.remainingMs} ms more, so it would not fire.`;
  else if (gates.blockedBy === 'concurrency') summary = `The event matches, but ${gates.concurrency!.inFlight} firings are already running (maxConcurrent ${gates.concurrency!.max}), so it would not fire.`;
  else summary = `The event matches and the rule would fire${gates.debounce ? ` after ${gates.debounce.ms} ms without another matching event` : ''}, running ${actions.length} action${actions.length === 1 ? '' : 's'}.`;
  return { rule: rule.name, state, event, matched: m.matched, reasons: m.reasons, ...(m.key !== undefined && rule.window?.by ? { key } : {}), gates, wouldFire, summary, actions };
}
