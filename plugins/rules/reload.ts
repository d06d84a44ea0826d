/**
 * Reloading the rules of a running engine (the plugin's `reload` action): the new list is
 * compiled, and each rule is matched by name with the one running now.
 *
 *   unchanged  same definition: the entry is kept as it is — windows, cooldowns, debounced
 *              candidates, concurrency, statistics and history
 *   changed    another definition under the same name: new gates (windows, cooldowns and
 *              debounced candidates start empty), the statistics and history go on counting
 *   removed    gone from the list: its debounced candidates are dropped (counted)
 *   added      a new rule, from zero
 *
 * Firings already running finish with the rule they started with, and events the plugin has not
 * handled yet (its queue is the daemon's, untouched by a reload) meet the new rules. A changed
 * rule's maxConcurrent counts only firings started after the reload.
 */
import { eventTypeMatches } from '../../sdk/index.js';
import { compileRules } from './compile.js';
import type { RuleEntry, RulesEngine } from './engine.js';
import type { CompileResult } from './types.js';

export interface ReloadSummary {
  added: string[];
  changed: string[];
  removed: string[];
  unchanged: string[];
  /** Rules of the new list that did not compile (left out, as at start). */
  invalid: string[];
  /** Debounced candidates of changed and removed rules that were waiting and were dropped. */
  droppedDebounced: number;
  /** The event types the enabled rules now want; null for all (a rule says `*`). */
  events: string[] | null;
}

/** JSON with sorted keys, so that two definitions written in another key order compare equal. */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    const entries = Object.entries(v as Record<string, unknown>).filter(([, x]) => x !== undefined);
    return `{${entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([k, x]) => `${JSON.stringify(k)}:${canonicalJson(x)}`).join(',')}}`;
  }
  return JSON.stringify(v) ?? 'null';
}

/** The event types a compiled rule set subscribes to: those its enabled rules name in `on`; null for all. */
export function wantedEvents(compiled: Pick<CompileResult, 'rules'>): string[] | null {
  const wanted = new Set(compiled.rules.filter((r) => r.enabled).flatMap((r) => r.on));
  if (wanted.has('*')) return null;
  // a family (node.*) covers its types; keep the list short and stable
  const list = [...wanted];
  return list.filter((t) => !list.some((o) => o !== t && o.endsWith('.*') && eventTypeMatches(o, t))).sort();
}

/** Compiles `rules` and puts them in place of the engine's current ones. */
export function reloadRules(engine: RulesEngine, rules: readonly unknown[]): ReloadSummary {
  const compiled = compileRules(rules);
  const old = new Map(engine.entries.map((e) => [e.rule.name, e]));
  const summary: ReloadSummary = { added: [], changed: [], removed: [], unchanged: [], invalid: [...compiled.invalid], droppedDebounced: 0, events: wantedEvents(compiled) };
  const entries: RuleEntry[] = compiled.rules.map((rule) => {
    const prior = old.get(rule.name);
    old.delete(rule.name);
    if (!prior) {
      summary.added.push(rule.name);
      return engine.newEntry(rule);
    }
    if (canonicalJson(prior.rule.definition) === canonicalJson(rule.definition)) {
      summary.unchanged.push(rule.name);
      // the same rule; only its place among equal priorities may have moved
      prior.rule.order = rule.order;
      return prior;
    }
    summary.changed.push(rule.name);
    summary.droppedDebounced += prior.gates.cancelPending();
    return engine.newEntry(rule, prior);
  });
  for (const [name, e] of old) {
    summary.removed.push(name);
    summary.droppedDebounced += e.gates.cancelPending();
  }
  engine.replaceRules(entries, compiled);
  return summary;
}

/** One sentence for the log and the action's message. */
export function describeReload(s: ReloadSummary): string {
  const part = (n: string[], what: string): string => `${n.length} ${what}${n.length ? ` (${n.join(', ')})` : ''}`;
  const dropped = s.droppedDebounced ? ` ${s.droppedDebounced} debounced firing${s.droppedDebounced === 1 ? ' of a changed or removed rule was' : 's of changed or removed rules were'} dropped.` : '';
  const invalid = s.invalid.length ? ` ${part(s.invalid, 'invalid rule')} left out.` : '';
  return `The rules were reloaded: ${part(s.added, 'added')}, ${part(s.changed, 'changed')}, ${part(s.removed, 'removed')}, ${s.unchanged.length} unchanged.${invalid}${dropped}`;
}
