/**
 * One remediation write in one explicit transaction, judged before it commits. The statement runs
 * to the end (its rows are streamed; the first `maxRows` are kept), the executor reads the
 * transaction's counters (summary.counters of the statement, consumed inside the transaction) and
 * decides; only then is the transaction committed or rolled back. The commit guard
 * (commit-guard.ts), where it is loaded, checks the same transaction once more at commit from
 * the transaction data, with the limits carried in the metadata (and the engine that judges it).
 *
 * Three ways to run:
 *   commitIf(counters)   commit when it answers true, else roll back (nothing is kept);
 *   probe: { sample }    never commit: check in the same transaction that the guard is loaded and
 *                        ours, then let the guard fail the commit after it serialised what would be
 *                        deleted (the sample); without a verified guard, roll back.
 * No transaction stays open longer than the statement takes: an operator is asked between runs.
 */
import type { Row } from '../../sdk/index.js';
import type { Database, TxMetadata } from './database.js';
import { refusedLabels } from './own-state.js';
import { plainRows } from './plain-values.js';
import { guardCheck, type GuardEngine } from './commit-guard.js';
import { parseGuardError, type GuardLimits, type GuardReport } from './policy-trigger.js';

/** The counters of a statement that are not zero (nodesDeleted, propertiesSet, …). */
export type Counters = Record<string, number>;

export interface WriteRequest {
  statement: string;
  params: Record<string, unknown>;
  database?: string;
  metadata: Omit<TxMetadata, 'app'>;
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Rows kept for the answer (the rest are counted and dropped). */
  maxRows: number;
  /** Limits the commit guard enforces at commit (absent: no limits, only Heimdall's state). */
  limits?: GuardLimits;
  /** Decides on the counters whether to commit. */
  commitIf?: (counters: Counters) => boolean;
  /** A probe that asks the guard for a sample and never commits. */
  probe?: { sample: number };
  /** The engine whose guard judges this transaction (commit-guard.ts); absent: the APOC trigger, where there is one. */
  guardEngine?: GuardEngine;
}

export interface WriteAttempt {
  /**
   * committed: it is in the database. rolled-back: commitIf said no, or a probe found no guard.
   * guard-refused: the guard failed the commit (what it saw is in `guard`). probed: a probe ended
   * as it should, with the guard's report.
   */
  outcome: 'committed' | 'rolled-back' | 'guard-refused' | 'probed';
  counters: Counters;
  rows: Row[];
  rowCount: number;
  guard?: GuardReport;
  /** For a probe: whether the guard was found loaded and current inside the transaction. */
  guardVerified?: boolean;
  durationMs: number;
}

/**
 * The commit guard's report, or, when the outbox trigger refused the transaction first (both run at commit; it
 * refuses any write to Heimdall's own nodes without the internal key, ../sources/neo4j-apoc), a report of Heimdall
 * state touched with the labels it names. Undefined for any other failure.
 */
function guardReport(err: unknown, probe: boolean): GuardReport | undefined {
  const g = parseGuardError(err);
  if (g) return g;
  const labels = refusedLabels(err);
  if (!labels) return undefined;
  return { probe, heimdallState: true, heimdallLabels: labels, nodesDeleted: 0, relationshipsDeleted: 0, labelsRemoved: 0, nodes: [], relationships: [] };
}

function nonZero(updates: Record<string, number>): Counters {
  return Object.fromEntries(Object.entries(updates).filter(([, v]) => typeof v === 'number' && v !== 0));
}

export async function runWrite(db: Database, r: WriteRequest): Promise<WriteAttempt> {
  const t0 = Date.now();
  const judged = r.probe ? { probe: true, sample: r.probe.sample } : r.limits ? { ...r.limits } : {};
  const policy = r.guardEngine === 'extension' ? { ...judged, engine: 'extension' } : judged;
  return db.transaction(
    {
      mode: 'write',
      ...(r.database ? { database: r.database } : {}),
      ...(r.timeoutMs !== undefined ? { timeoutMs: r.timeoutMs } : {}),
      ...(r.signal ? { signal: r.signal } : {}),
      metadata: { ...r.metadata, heimdallPolicy: policy },
    },
    async (tx) => {
      const result = tx.run(r.statement, r.params);
      const rows: Row[] = [];
      let rowCount = 0;
      for await (const rec of result) {
        rowCount++;
        if (rows.length < r.maxRows) rows.push(plainRows([rec])[0]!);
      }
      const counters = nonZero((await result.summary()).counters.updates());
      const done = (outcome: WriteAttempt['outcome'], extra: Partial<WriteAttempt> = {}): WriteAttempt => ({ outcome, counters, rows, rowCount, durationMs: Date.now() - t0, ...extra });
      if (r.probe) {
        const check = guardCheck(r.guardEngine ?? 'apoc');
        let verified = false;
        try {
          verified = check.verified((await tx.run(check.cypher, check.params)).records[0]);
        } catch {
          // no such procedure (the extension or APOC is gone): not verified, and nothing commits
        }
        if (!verified) {
          await tx.rollback().catch(() => undefined);
          return done('rolled-back', { guardVerified: false });
        }
        try {
          await tx.commit();
        } catch (err) {
          const g = guardReport(err, true);
          if (g?.probe) return done('probed', { guard: g, guardVerified: true });
          throw err;
        }
        return done('committed', { guardVerified: true });
      }
      if (r.commitIf && !r.commitIf(counters)) {
        await tx.rollback();
        return done('rolled-back');
      }
      try {
        await tx.commit();
      } catch (err) {
        const g = guardReport(err, false);
        if (g) return done('guard-refused', { guard: g });
        throw err;
      }
      return done('committed');
    },
  );
}
