/**
 * The small vocabulary the remediation executor judges and reports with: which counters are
 * destructive, whether a run changed more than was approved, the guard limits that go with an
 * approval, who proposed a statement, and sentences for counters and guard reports.
 */
import type { RemediationContext } from '../invoker/seams.js';
import type { GuardLimits, GuardReport } from './policy-trigger.js';
import type { Counters } from './write-transaction.js';

/**
 * Counters that make a write destructive (an operator approves it under `auto`): deleted nodes and
 * relationships, labels removed from nodes that stay, dropped indexes and constraints. Property
 * changes are not among them: the counters cannot tell an overwrite or a removal (SET x = null)
 * from a new value, so judging them would ask about every update.
 */
export const DESTRUCTIVE_COUNTERS = ['nodesDeleted', 'relationshipsDeleted', 'labelsRemoved', 'indexesRemoved', 'constraintsRemoved'] as const;

export function destructive(c: Counters): boolean {
  return DESTRUCTIVE_COUNTERS.some((k) => (c[k] ?? 0) > 0);
}

/** The first counter of `now` above what was approved ("nodesDeleted 7, approved 5"), or undefined. */
export function exceeds(now: Counters, approved: Counters): string | undefined {
  for (const [k, v] of Object.entries(now)) {
    if (v > (approved[k] ?? 0)) return `${k} ${v}, approved ${approved[k] ?? 0}`;
  }
  return undefined;
}

/** The commit guard's limits for a run that may do what `c` says (and no more). */
export function guardLimits(c: Counters): Required<GuardLimits> {
  return { maxNodesDeleted: c['nodesDeleted'] ?? 0, maxRelationshipsDeleted: c['relationshipsDeleted'] ?? 0, maxLabelsRemoved: c['labelsRemoved'] ?? 0 };
}

/** "the model", "the model (for the plugin security)", "the plugin audit", "an operator". */
export function proposer(ctx: Pick<RemediationContext, 'proposedBy' | 'plugin'>): string {
  if (ctx.proposedBy === 'model') return ctx.plugin ? `the model (for the plugin ${ctx.plugin})` : 'the model';
  if (ctx.proposedBy === 'plugin') return ctx.plugin ? `the plugin ${ctx.plugin}` : 'a plugin';
  return 'an operator';
}

/** "5 nodesDeleted, 5 relationshipsDeleted" (empty for no changes). */
export function countersText(c: Counters): string {
  return Object.entries(c)
    .map(([k, v]) => `${v} ${k}`)
    .join(', ');
}

/** "deleted 5 nodes and 5 relationships and removed 0 labels". */
export function sampleText(g: GuardReport): string {
  return `deleted ${g.nodesDeleted} nodes and ${g.relationshipsDeleted} relationships and removed ${g.labelsRemoved} labels`;
}

/** A guard report as the audit log keeps it: counts, ids, labels and types, no property values. */
export function sampleForAudit(g: GuardReport): Record<string, unknown> {
  return {
    nodesDeleted: g.nodesDeleted,
    relationshipsDeleted: g.relationshipsDeleted,
    labelsRemoved: g.labelsRemoved,
    ...(g.heimdallState ? { heimdallState: true, heimdallLabels: g.heimdallLabels } : {}),
    nodes: g.nodes.map((n) => ({ id: n.id, labels: n.labels })),
    relationships: g.relationships.map((r) => ({ id: r.id, type: r.type })),
  };
}
