/**
 * Whether an event matches a rule: `on` (event types or families), `match` (any of the labels,
 * relationship types, databases, sources listed) and `when` (CEL). `matchFast` is the engine's
 * path; `explainMatch` checks every part and says why an event does not match, for dry runs.
 */
import { eventTypeMatches, type DatabaseEvent } from '../../sdk/index.js';
import { CelFailure, keyOf, runCel, runCelRaw } from './conditions.js';
import type { CompiledRule } from './types.js';

/** The outcome for the engine: matched (with the window key), not matched, or an evaluation error. */
export type MatchOutcome = { matched: true; key: string } | { matched: false; error?: string };

const NO: MatchOutcome = { matched: false };
const MATCHED: MatchOutcome = { matched: true, key: '' };

export function onMatches(rule: CompiledRule, type: string): boolean {
  for (const p of rule.on) if (eventTypeMatches(p, type)) return true;
  return false;
}

function anyOf(wanted: string[] | undefined, have: string | undefined): boolean {
  return wanted === undefined || (have !== undefined && wanted.includes(have));
}

function labelsMatch(wanted: string[] | undefined, have: string[] | undefined): boolean {
  if (wanted === undefined) return true;
  if (!have) return false;
  for (const l of wanted) if (have.includes(l)) return true;
  return false;
}

/** match, when and window.by for an event whose type the caller already checked against `on`. */
export function matchFast(rule: CompiledRule, event: DatabaseEvent, scope: { event: DatabaseEvent }): MatchOutcome {
  const m = rule.match;
  if (!labelsMatch(m.labels, event.nodeLabels)) return NO;
  if (!anyOf(m.relationshipType, event.relationshipType)) return NO;
  if (!anyOf(m.database, event.database)) return NO;
  if (!anyOf(m.source, event.source)) return NO;
  if (rule.when) {
    const v = runCelRaw(rule.when, event, scope);
    if (v !== true) {
      if (v === false) return NO;
      if (v instanceof CelFailure) return { matched: false, error: `The condition when raised an error: ${v.error}.` };
      return { matched: false, error: `The condition when gave ${typeof v === 'bigint' ? 'an int' : `a ${typeof v}`}, not a bool.` };
    }
  }
  if (rule.window?.by) {
    const k = runCelRaw(rule.window.by, event, scope);
    if (k instanceof CelFailure) return { matched: false, error: `The window key window.by raised an error: ${k.error}.` };
    return { matched: true, key: keyOf(k) };
  }
  return MATCHED;
}

export interface MatchExplanation {
  matched: boolean;
  /** One sentence per part that did not match (empty when it matched). */
  reasons: string[];
  key?: string;
}

const list = (xs: string[]) => xs.map((x) => JSON.stringify(x)).join(', ');

/** Checks every part and says which did not match. */
export function explainMatch(rule: CompiledRule, event: DatabaseEvent): MatchExplanation {
  const reasons: string[] = [];
  const m = rule.match;
  if (!onMatches(rule, event.type)) reasons.push(`The event type ${event.type} is not one of on: ${list(rule.on)}.`);
  if (!labelsMatch(m.labels, event.nodeLabels)) reasons.push(`The node labels ${event.nodeLabels ? list(event.nodeLabels) || '(none)' : '(none)'} include none of match.labels: ${list(m.labels!)}.`);
  if (!anyOf(m.relationshipType, event.relationshipType)) reasons.push(`The relationship type ${event.relationshipType ?? '(none)'} is not one of match.relationshipType: ${list(m.relationshipType!)}.`);
  if (!anyOf(m.database, event.database)) reasons.push(`The database ${event.database} is not one of match.database: ${list(m.database!)}.`);
  if (!anyOf(m.source, event.source)) reasons.push(`The source ${event.source} is not one of match.source: ${list(m.source!)}.`);
  const scope = { event };
  if (rule.when) {
    const r = runCel(rule.when, event, scope);
    if (!r.ok) reasons.push(`The condition when (${rule.when.source}) raised an error: ${r.error}.`);
    else if (r.value !== true) reasons.push(`The condition when (${rule.when.source}) is ${typeof r.value === 'boolean' ? 'false' : `not a bool (${String(r.value)})`}.`);
  }
  let key: string | undefined = rule.window?.by ? undefined : '';
  if (rule.window?.by) {
    const k = runCel(rule.window.by, event, scope);
    if (!k.ok) reasons.push(`The window key window.by (${rule.window.by.source}) raised an error: ${k.error}.`);
    else key = keyOf(k.value);
  }
  return { matched: reasons.length === 0, reasons, ...(key !== undefined ? { key } : {}) };
}
