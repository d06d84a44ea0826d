/**
 * Classifies a Cypher statement with EXPLAIN (nothing runs): the server's query type (read,
 * read-write, write, schema), whether the plan visibly deletes, and the plan itself for the plan
 * screen (plan-screen.ts). The classification is what the operator and the model are told; what a
 * write is allowed to do is judged by its transaction's counters (write-transaction.ts), not here.
 */
import type { Database } from './database.js';
import type { StatementClassification, StatementKind } from '../invoker/seams.js';
import { walkPlan, type PlanNode, type PlanWalk } from './plan-screen.js';

const KIND: Record<string, StatementKind> = { r: 'read', rw: 'read-write', w: 'write', s: 'schema' };

export interface Explained {
  classification: StatementClassification;
  plan: PlanWalk;
}

export async function explainStatement(db: Database, statement: string, params: Record<string, unknown>, database?: string): Promise<Explained> {
  const { summary } = await db.run(`EXPLAIN ${statement}`, params, { mode: 'write', ...(database ? { database } : {}), metadata: { purpose: 'classify' } });
  const kind = KIND[summary.queryType] ?? 'write';
  const plan = walkPlan(summary.plan as PlanNode | false);
  // FOREACH (x IN … | DELETE x) plans as Foreach with the DELETE in its details, not as a Delete operator.
  const deletes = [...plan.operators].some((o) => /Delete/i.test(o)) || plan.steps.some((s) => s.op === 'Foreach' && /\bDELETE\b/i.test(s.details));
  return { classification: { kind, deletes, details: { operators: [...plan.operators].sort() } }, plan };
}

export async function classifyStatement(db: Database, statement: string, params: Record<string, unknown>, database?: string): Promise<StatementClassification> {
  return (await explainStatement(db, statement, params, database)).classification;
}
