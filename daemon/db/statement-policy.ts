/**
 * Both checks a statement from the model or a plugin passes before anything runs: the token
 * screen (statement-screen.ts) and, when that passes, EXPLAIN with the plan screen
 * (plan-screen.ts). A statement either comes out with its classification, or with a refusal that
 * names the rule; it is never run in between. The system database is refused outright (users,
 * roles, databases and triggers live there).
 */
import { StatementRefusedError } from '../../sdk/index.js';
import type { StatementClassification } from '../invoker/seams.js';
import { explainStatement } from './classify.js';
import type { Database } from './database.js';
import type { NamePolicy } from './name-policy.js';
import { screenPlan, type PlanWalk } from './plan-screen.js';
import { screenStatement, type Refusal, type ScreenPurpose } from './statement-screen.js';

export type PolicyCheck =
  | { ok: true; classification: StatementClassification; plan: PlanWalk }
  | { ok: false; refusal: Refusal; classification?: StatementClassification };

export class StatementPolicy {
  constructor(private readonly db: Database, readonly names: NamePolicy) {}

  /** Screens, EXPLAINs and plan-screens one statement; a failed EXPLAIN (syntax, unknown function) throws the database's error. */
  async check(statement: string, params: Record<string, unknown>, o: { purpose: ScreenPurpose; database?: string }): Promise<PolicyCheck> {
    const database = (o.database ?? this.db.defaultDatabase).toLowerCase();
    if (database === 'system') {
      return { ok: false, refusal: { rule: 'database', name: 'system', reason: 'it is sent to the system database, where users, roles, databases and triggers are administered' } };
    }
    const early = screenStatement(statement, params, { purpose: o.purpose, names: this.names });
    if (early) return { ok: false, refusal: early };
    const { classification, plan } = await explainStatement(this.db, statement, params, o.database);
    const late = screenPlan(plan, { purpose: o.purpose, names: this.names, database });
    if (late) return { ok: false, refusal: late, classification };
    return { ok: true, classification, plan };
  }
}

/** One sentence for the model, an operator or a plugin author: what was refused and why (never a hint at another way to write). */
export function refusalMessage(what: string, r: Refusal): string {
  return `${what} was refused before it ran: ${r.reason}.`;
}

export function refusalError(what: string, r: Refusal, extra: Record<string, unknown> = {}): StatementRefusedError {
  return new StatementRefusedError(refusalMessage(what, r), { rule: r.rule, ...(r.name !== undefined ? { name: r.name } : {}), ...extra });
}
