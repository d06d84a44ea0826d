/**
 * The first of the two checks every statement from the model or a plugin passes before it runs
 * (the second is the EXPLAIN plan, plan-screen.ts): a screen over the statement's tokens
 * (cypher-lexer.ts) that refuses what the counters of a transaction cannot see or a rollback
 * cannot undo. Any statement the lexer cannot split is refused.
 *
 *   both purposes  procedure calls not allowed by name (CALL x.y), namespaced functions not allowed
 *                  by name (x.y(…)), CALL { … } IN [n CONCURRENT] TRANSACTIONS, LOAD CSV, USE,
 *                  more than one statement, an EXPLAIN or PROFILE prefix, administration commands
 *                  and SHOW commands (reads may SHOW INDEXES and SHOW CONSTRAINTS)
 *   write          also: naming Heimdall's own state (its labels and triggers, in names, strings or
 *                  parameter values) and dynamic labels or types (`n:$(expr)`), which would hide
 *                  which labels a write touches
 */
import { dottedName, isKeyword, isPunct, lex, LexError, type Token } from './cypher-lexer.js';
import type { NamePolicy } from './name-policy.js';

export type ScreenPurpose = 'read' | 'write';

export type ScreenRule =
  | 'unclassifiable'
  | 'multiple-statements'
  | 'prefix'
  | 'command'
  | 'procedure'
  | 'function'
  | 'in-transactions'
  | 'load-csv'
  | 'use'
  | 'heimdall-state'
  | 'dynamic-label'
  | 'database';

/** Why a statement was refused before it ran: the rule, the name it concerns, one sentence. */
export interface Refusal {
  rule: ScreenRule | PlanRule;
  /** The procedure, function, command or label concerned. */
  name?: string;
  reason: string;
}

export type PlanRule = 'plan-procedure' | 'plan-function' | 'plan-operator' | 'plan-database' | 'plan-kind';

/** Heimdall's own labels, triggers and markers: HeimdallOutbox, HeimdallOutboxSeq, HeimdallOutboxFailed, HeimdallAudit, heimdall_outbox, heimdall_policy. */
export const HEIMDALL_STATE = /heimdall[_\s-]?(outbox|audit|policy)/i;

const ADMIN_FIRST = new Set(['TERMINATE', 'GRANT', 'DENY', 'REVOKE', 'ALTER', 'RENAME', 'START', 'STOP', 'ENABLE', 'DEALLOCATE', 'REALLOCATE', 'DRYRUN']);
const ADMIN_AFTER_CREATE = new Set(['USER', 'ROLE', 'DATABASE', 'COMPOSITE', 'ALIAS', 'SERVER', 'OR']);
const SCHEMA_AFTER_DROP = new Set(['INDEX', 'CONSTRAINT']);
const SHOW_QUALIFIERS = new Set(['ALL', 'RANGE', 'TEXT', 'POINT', 'LOOKUP', 'FULLTEXT', 'VECTOR', 'BTREE', 'UNIQUE', 'UNIQUENESS', 'KEY', 'NODE', 'RELATIONSHIP', 'REL', 'EXIST', 'EXISTENCE', 'EXISTS', 'PROPERTY', 'TYPE']);
const SHOW_ALLOWED = new Set(['INDEX', 'INDEXES', 'CONSTRAINT', 'CONSTRAINTS']);

const refusal = (rule: Refusal['rule'], reason: string, name?: string): Refusal => ({ rule, reason, ...(name !== undefined ? { name } : {}) });

/** Skips the pre-parser options `CYPHER [version] [key=value …]`; returns the index of the first clause token. */
function afterCypherOptions(t: readonly Token[]): number {
  let i = 0;
  while (isKeyword(t[i], 'CYPHER')) {
    i++;
    if (t[i]?.kind === 'number') i++;
    while (t[i]?.kind === 'word' && isPunct(t[i + 1], '=') && (t[i + 2]?.kind === 'word' || t[i + 2]?.kind === 'number')) i += 3;
  }
  return i;
}

/** The command at the start of the statement, if it is one: SHOW …, GRANT …, CREATE USER …, DROP DATABASE …. */
function command(t: readonly Token[], i: number, purpose: ScreenPurpose): Refusal | undefined {
  const first = t[i];
  if (!first || first.kind !== 'word') return undefined;
  const kw = first.value.toUpperCase();
  if (kw === 'SHOW') {
    let j = i + 1;
    while (t[j]?.kind === 'word' && SHOW_QUALIFIERS.has(t[j]!.value.toUpperCase())) j++;
    const what = t[j]?.kind === 'word' ? t[j]!.value.toUpperCase() : '';
    const name = t.slice(i, j + 1).map((x) => x.value.toUpperCase()).join(' ');
    if (purpose === 'read' && SHOW_ALLOWED.has(what)) return undefined;
    return refusal('command', `it is the command ${name}; ${purpose === 'read' ? 'only SHOW INDEXES and SHOW CONSTRAINTS are allowed' : 'commands are not allowed in writes'} (settings, transactions, users, procedures and the like are the server's administration, not the graph)`, name);
  }
  const next = t[i + 1]?.kind === 'word' ? t[i + 1]!.value.toUpperCase() : '';
  if (ADMIN_FIRST.has(kw) || (kw === 'CREATE' && ADMIN_AFTER_CREATE.has(next)) || (kw === 'DROP' && !SCHEMA_AFTER_DROP.has(next))) {
    const name = `${kw}${next ? ` ${next}` : ''}`;
    return refusal('command', `it is the administration command ${name}, which Heimdall never runs for the model or a plugin`, name);
  }
  return undefined;
}

/** A parameter value (a string, nested in lists and maps) that names Heimdall's state, looked for up to a bound. */
function paramNaming(v: unknown, depth = 0, seen = { n: 0 }): string | undefined {
  if (++seen.n > 10_000 || depth > 32) return undefined;
  if (typeof v === 'string') return HEIMDALL_STATE.test(v) ? v : undefined;
  if (Array.isArray(v)) {
    for (const x of v) {
      const hit = paramNaming(x, depth + 1, seen);
      if (hit) return hit;
    }
    return undefined;
  }
  if (v && typeof v === 'object') {
    for (const x of Object.values(v as Record<string, unknown>)) {
      const hit = paramNaming(x, depth + 1, seen);
      if (hit) return hit;
    }
  }
  return undefined;
}

export interface ScreenOptions {
  purpose: ScreenPurpose;
  names: NamePolicy;
}

/** Checks a statement's text (and, for writes, its parameters); the first refusal, or undefined when it may go on to EXPLAIN. */
export function screenStatement(statement: string, params: Record<string, unknown>, o: ScreenOptions): Refusal | undefined {
  let t: Token[];
  try {
    t = lex(statement);
  } catch (err) {
    if (err instanceof LexError) return refusal('unclassifiable', err.message.replace(/^The statement /, 'the statement ').replace(/\.$/, ''));
    throw err;
  }
  if (t.length === 0) return refusal('unclassifiable', 'the statement is empty');
  const semi = t.findIndex((x) => isPunct(x, ';'));
  if (semi >= 0 && semi !== t.length - 1) return refusal('multiple-statements', 'it holds more than one statement (a ; in the middle); send one statement at a time');
  const start = afterCypherOptions(t);
  if (isKeyword(t[start], 'EXPLAIN') || isKeyword(t[start], 'PROFILE')) {
    return refusal('prefix', `it starts with ${t[start]!.value.toUpperCase()}; send the statement without it (Heimdall plans every statement with EXPLAIN itself)`, t[start]!.value.toUpperCase());
  }
  const cmd = command(t, start, o.purpose);
  if (cmd) return cmd;

  for (let i = 0; i < t.length; i++) {
    const x = t[i]!;
    const prev = t[i - 1];
    const afterDot = isPunct(prev, '.');
    const mapKey = isPunct(t[i + 1], ':') && x.kind !== 'string';
    if (x.kind === 'word' && !afterDot && !mapKey) {
      const kw = x.value.toUpperCase();
      if (kw === 'CALL') {
        const nx = t[i + 1];
        if (isPunct(nx, '{') || isPunct(nx, '(')) continue; // CALL { … } and CALL (x) { … } subqueries
        const name = dottedName(t, i + 1);
        if (name) {
          const full = name.parts.join('.');
          if (name.ambiguous) return refusal('procedure', `it calls the procedure ${full} with a quoted name part that contains a dot, which Heimdall cannot resolve the way Neo4j does`, full);
          const v = o.names.procedure(full);
          if (!v.allowed) return refusal('procedure', v.why, full);
          i = name.end - 1;
          continue;
        }
      }
      if (kw === 'LOAD' && isKeyword(t[i + 1], 'CSV')) return refusal('load-csv', 'it uses LOAD CSV, which reads files or URLs outside the graph (and can send data to them)', 'LOAD CSV');
      if (kw === 'TRANSACTIONS' && (isKeyword(prev, 'CONCURRENT') || (isKeyword(prev, 'IN') && isPunct(t[i - 2], '}')))) {
        return refusal('in-transactions', 'it uses CALL { … } IN TRANSACTIONS, which commits on its own in batches (a rollback cannot undo it and no operator could approve it first)', 'IN TRANSACTIONS');
      }
      if (kw === 'USE' && (i === start || isPunct(prev, '{') || isKeyword(prev, 'UNION') || isKeyword(prev, 'ALL')) && (t[i + 1]?.kind === 'word' || t[i + 1]?.kind === 'quoted')) {
        return refusal('use', 'it has a USE clause; statements run only against the database they are sent to (pass database instead)', 'USE');
      }
    }
    // x.y( … ) and `quoted`( … ): a user-defined (or namespaced built-in) function.
    if ((x.kind === 'word' || x.kind === 'quoted') && !afterDot && !isKeyword(prev, 'CALL')) {
      const name = dottedName(t, i);
      if (name && isPunct(t[name.end], '(') && (name.parts.length > 1 || x.kind === 'quoted')) {
        const full = name.parts.join('.');
        if (name.ambiguous) return refusal('function', `it calls the function ${full} with a quoted name part that contains a dot, which Heimdall cannot resolve the way Neo4j does`, full);
        const v = o.names.function(full);
        if (!v.allowed) return refusal('function', v.why, full);
        i = name.end - 1;
        continue;
      }
    }
    if (o.purpose === 'write') {
      if ((x.kind === 'word' || x.kind === 'quoted' || x.kind === 'string') && HEIMDALL_STATE.test(x.value)) {
        return refusal('heimdall-state', `it names ${JSON.stringify(x.value)}, which is Heimdall's own state (its outbox, sequence, audit mirror or triggers); only the daemon itself writes there`, x.value);
      }
      if ((x.kind === 'dollar' || x.kind === 'param') && isPunct(t[i + 1], '(')) {
        return refusal('dynamic-label', 'it uses a dynamic label or relationship type ($(…)), which hides which labels the write touches; name the labels in the statement', '$(…)');
      }
    }
  }
  if (o.purpose === 'write') {
    const hit = paramNaming(params);
    if (hit !== undefined) return refusal('heimdall-state', `a parameter value names ${JSON.stringify(hit.slice(0, 80))}, which is Heimdall's own state; only the daemon itself writes there`, hit.slice(0, 80));
  }
  return undefined;
}
