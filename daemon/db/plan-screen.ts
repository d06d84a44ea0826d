/**
 * The second, independent check of a statement (the first is statement-screen.ts): its EXPLAIN
 * plan, as the server built it. Whatever the text looked like, the plan names every procedure it
 * calls (ProcedureCall details), every function in its expressions (operator details, with string
 * literals already turned into $autostring parameters), the database each operator runs on, and
 * the operators that read files (LoadCSV), commit on their own (TransactionForeach,
 * TransactionApply) or administer the server (AdministrationCommand, Show*, Terminate*).
 */
import { dottedName, isPunct, lex, type Token } from './cypher-lexer.js';
import type { NamePolicy } from './name-policy.js';
import type { Refusal, ScreenPurpose } from './statement-screen.js';

export interface PlanNode {
  operatorType: string;
  arguments?: Record<string, unknown>;
  children?: PlanNode[];
}

const COMMIT_OPERATORS = new Set(['TransactionForeach', 'TransactionApply']);
const READ_SHOW = new Set(['ShowIndexes', 'ShowConstraints']);

export interface PlanWalk {
  /** Operator types without the @database suffix. */
  operators: Set<string>;
  /** Databases named by the operators' @suffix. */
  databases: Set<string>;
  /** Operator type and details of every operator, in plan order. */
  steps: Array<{ op: string; details: string }>;
}

export function walkPlan(plan: PlanNode | false | null | undefined): PlanWalk {
  const w: PlanWalk = { operators: new Set(), databases: new Set(), steps: [] };
  const visit = (p: PlanNode): void => {
    const [op, db] = p.operatorType.split('@') as [string, string | undefined];
    w.operators.add(op);
    if (db) w.databases.add(db.toLowerCase());
    const d = p.arguments?.['Details'];
    w.steps.push({ op, details: typeof d === 'string' ? d : '' });
    for (const c of p.children ?? []) visit(c);
  };
  if (plan) visit(plan);
  return w;
}

/** Names followed by `(` in a server-written expression: function calls (and, in ProcedureCall details, the procedure). */
function calledNames(details: string): string[] {
  let t: Token[];
  try {
    t = lex(details, { lenient: true });
  } catch {
    return [];
  }
  const out: string[] = [];
  for (let i = 0; i < t.length; i++) {
    if (isPunct(t[i - 1], '.')) continue;
    const name = dottedName(t, i);
    if (!name) continue;
    if (isPunct(t[name.end], '(') && (name.parts.length > 1 || t[i]!.kind === 'quoted')) out.push(name.parts.join('.'));
    i = name.end - 1;
  }
  return out;
}

export interface PlanScreenOptions {
  purpose: ScreenPurpose;
  names: NamePolicy;
  /** The database the statement is sent to (lower case). */
  database: string;
}

/** The first refusal the plan gives, or undefined. */
export function screenPlan(w: PlanWalk, o: PlanScreenOptions): Refusal | undefined {
  for (const db of w.databases) {
    if (db !== o.database) return { rule: 'plan-database', name: db, reason: `its plan runs on the database ${db}, not on ${o.database} where it was sent` };
  }
  for (const { op, details } of w.steps) {
    if (op === 'LoadCSV') return { rule: 'plan-operator', name: op, reason: 'its plan reads a CSV file or URL (LoadCSV)' };
    if (COMMIT_OPERATORS.has(op)) return { rule: 'plan-operator', name: op, reason: `its plan commits in batches on its own (${op}: CALL { … } IN TRANSACTIONS)` };
    if (op === 'AdministrationCommand' || op.startsWith('Terminate') || (op.startsWith('Show') && !(o.purpose === 'read' && READ_SHOW.has(op)))) {
      return { rule: 'plan-operator', name: op, reason: `its plan is the command ${op}, which is the server's administration, not the graph` };
    }
    const called = calledNames(details);
    if (op === 'ProcedureCall') {
      const proc = called[0];
      if (!proc) return { rule: 'plan-procedure', reason: `its plan calls a procedure Heimdall cannot name (${JSON.stringify(details.slice(0, 120))})` };
      const v = o.names.procedure(proc);
      if (!v.allowed) return { rule: 'plan-procedure', name: proc, reason: v.why };
      called.shift();
    }
    for (const fn of called) {
      const v = o.names.function(fn);
      if (!v.allowed) return { rule: 'plan-function', name: fn, reason: v.why };
    }
  }
  return undefined;
}
