/**
 * Classifies a Cypher statement with EXPLAIN (nothing runs): the server's query type
 * (read, read-write, write, schema) and whether the plan deletes anything.
 */
import type { Database } from './database.js';
import type { StatementClassification, StatementKind } from '../invoker/seams.js';

const KIND: Record<string, StatementKind> = { r: 'read', rw: 'read-write', w: 'write', s: 'schema' };

interface PlanNode {
  operatorType: string;
  children?: PlanNode[];
}

function operators(p: PlanNode | undefined | false, out: Set<string>): Set<string> {
  if (!p) return out;
  out.add(p.operatorType.replace(/@.*$/, ''));
  for (const c of p.children ?? []) operators(c, out);
  return out;
}

export async function classifyStatement(db: Database, statement: string, params: Record<string, unknown>, database?: string): Promise<StatementClassification> {
  const { summary } = await db.run(`EXPLAIN ${statement}`, params, { mode: 'write', ...(database ? { database } : {}), metadata: { purpose: 'classify' } });
  const kind = KIND[summary.queryType] ?? 'write';
  const ops = operators(summary.plan as PlanNode | false, new Set());
  const deletes = [...ops].some((o) => /Delete/i.test(o));
  return { kind, deletes, details: { operators: [...ops].sort() } };
}
