/**
 * Both checks a statement from the model or a plugin passes before anything runs: the token
 * screen (statement-screen.ts) and, when that passes, EXPLAIN with the plan screen
 * (plan-screen.ts). A statement either comes out with its classification, or with a refusal that
 * names the rule; it is never run in between. The system database is refused outright (users,
 * roles, databases and triggers live there).
 *
 * The plan cache: what EXPLAIN answered for one statement text, sent to one database with
 * parameters of one shape (names and value types), is kept and reused, so a plugin that writes the
 * same statement again does not pay an EXPLAIN round trip each time. Both screens still run on
 * every call: the token screen (which also reads the parameter values) and the plan screen over
 * the cached plan, so a verdict is never cached, only the server's plan. What the plan screen reads
 * from a plan — procedure and function names, LoadCSV and the committing operators, the query
 * type, the database of each operator — follows from the text; what else can change it (an index
 * or constraint changing the operators, a plugin upgrade on the server) is bounded: entries live at
 * most PLAN_TTL_MS, the cache keeps the PLAN_CACHE_SIZE most recently used, and it is emptied when
 * the executor runs a schema statement and whenever the connection to the database drops or comes
 * back (a restart may bring other procedures). A failed EXPLAIN is never cached.
 */
import { StatementRefusedError } from '../../sdk/index.js';
import type { StatementClassification } from '../invoker/seams.js';
import { explainStatement } from './classify.js';
import type { Database } from './database.js';
import type { NamePolicy } from './name-policy.js';
import { screenPlan, type PlanWalk } from './plan-screen.js';
import type { Explained } from './classify.js';
import { screenStatement, type Refusal, type ScreenPurpose } from './statement-screen.js';

export type PolicyCheck =
  | { ok: true; classification: StatementClassification; plan: PlanWalk; timing?: CheckTiming }
  | { ok: false; refusal: Refusal; classification?: StatementClassification };

/** Where the time of one check went, ms: the token screen, and EXPLAIN with the plan screen. */
export interface CheckTiming {
  screenMs: number;
  explainMs: number;
  /** The plan came from the plan cache (no EXPLAIN was sent). */
  cached: boolean;
}

/** Plans kept (most recently used first out last). */
export const PLAN_CACHE_SIZE = 512;
/** How long a cached plan is used, ms. */
export const PLAN_TTL_MS = 60_000;
/** Statements longer than this are not cached (the key is the whole text). */
const PLAN_CACHE_MAX_TEXT = 16_384;

/** The shape of a parameter value for the cache key: its type, and the shape of what it holds. */
function shape(v: unknown, depth = 0): string {
  if (v === null || v === undefined) return 'null';
  if (Array.isArray(v)) return depth > 3 ? '[?]' : `[${[...new Set(v.map((x) => shape(x, depth + 1)))].sort().join('|')}]`;
  const t = typeof v;
  if (t !== 'object') return t;
  const proto = Object.getPrototypeOf(v) as { constructor?: { name?: string } } | null;
  if (proto !== Object.prototype && proto !== null) return proto.constructor?.name ?? 'object';
  if (depth > 3) return '{?}';
  const o = v as Record<string, unknown>;
  return `{${Object.keys(o)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${shape(o[k], depth + 1)}`)
    .join(',')}}`;
}

export class StatementPolicy {
  private readonly plans = new Map<string, { explained: Explained; at: number }>();
  /** EXPLAINs answered from the cache, and sent. */
  planHits = 0;
  planMisses = 0;

  constructor(private readonly db: Database, readonly names: NamePolicy) {
    db.onConnectivity(() => this.forgetPlans());
  }

  /** Empties the plan cache (a schema change, the database went away or came back). */
  forgetPlans(): void {
    this.plans.clear();
  }

  private async explain(statement: string, params: Record<string, unknown>, database: string, asked: string | undefined): Promise<{ explained: Explained; cached: boolean }> {
    const key = statement.length <= PLAN_CACHE_MAX_TEXT ? `${database}\u0000${shape(params)}\u0000${statement}` : undefined;
    const now = Date.now();
    const hit = key !== undefined ? this.plans.get(key) : undefined;
    if (hit && now - hit.at < PLAN_TTL_MS) {
      this.plans.delete(key!);
      this.plans.set(key!, hit); // most recently used last
      this.planHits++;
      // a copy: the classification goes on into results and audit entries
      return { explained: { ...hit.explained, classification: structuredClone(hit.explained.classification) }, cached: true };
    }
    this.planMisses++;
    const explained = await explainStatement(this.db, statement, params, asked);
    if (key !== undefined) {
      this.plans.delete(key);
      this.plans.set(key, { explained, at: now });
      if (this.plans.size > PLAN_CACHE_SIZE) this.plans.delete(this.plans.keys().next().value!);
    }
    return { explained: key !== undefined ? { ...explained, classification: structuredClone(explained.classification) } : explained, cached: false };
  }

  /** Screens, EXPLAINs and plan-screens one statement; a failed EXPLAIN (syntax, unknown function) throws the database's error. */
  async check(statement: string, params: Record<string, unknown>, o: { purpose: ScreenPurpose; database?: string }): Promise<PolicyCheck> {
    const database = (o.database ?? this.db.defaultDatabase).toLowerCase();
    if (database === 'system') {
      return { ok: false, refusal: { rule: 'database', name: 'system', reason: 'it is sent to the system database, where users, roles, databases and triggers are administered' } };
    }
    const t0 = performance.now();
    const early = screenStatement(statement, params, { purpose: o.purpose, names: this.names });
    if (early) return { ok: false, refusal: early };
    const t1 = performance.now();
    const { explained, cached } = await this.explain(statement, params, database, o.database);
    const { classification, plan } = explained;
    const late = screenPlan(plan, { purpose: o.purpose, names: this.names, database });
    if (late) return { ok: false, refusal: late, classification };
    return { ok: true, classification, plan, timing: { screenMs: t1 - t0, explainMs: performance.now() - t1, cached } };
  }
}

/** One sentence for the model, an operator or a plugin author: what was refused and why (never a hint at another way to write). */
export function refusalMessage(what: string, r: Refusal): string {
  return `${what} was refused before it ran: ${r.reason}.`;
}

export function refusalError(what: string, r: Refusal, extra: Record<string, unknown> = {}): StatementRefusedError {
  return new StatementRefusedError(refusalMessage(what, r), { rule: r.rule, ...(r.name !== undefined ? { name: r.name } : {}), ...extra });
}
