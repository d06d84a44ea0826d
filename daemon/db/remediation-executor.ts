/**
 * The remediation executor: every write the daemon makes on a plugin's or the model's behalf goes
 * through here. EXPLAIN classifies the statement; the policy (`remediation.mode`: auto | approve |
 * dry-run, `allowSchema`, per plugin overridable) decides; parameters are always bound; statements
 * that delete (and destructive actions) need an operator's approval unless the policy says
 * otherwise; every executed or refused write is appended to the audit log.
 *
 *   auto     reads and non-destructive writes run; deleting statements need approval
 *            (unless remediation.autoApproveDestructive is true)
 *   approve  every write needs approval
 *   dry-run  no write runs; the proposal is published on Bifrost and audited
 */
import type { Logger } from 'pino';
import { PolicyDeniedError, type Row } from '../../sdk/index.js';
import type { HeimdallConfig, RemediationConfig } from '../../config/types.js';
import type { BifrostBus } from '../bifrost/bus.js';
import type { AuditLog } from '../audit/audit-log.js';
import type {
  ActionAuthorization,
  ConfirmationRequester,
  RemediationContext,
  RemediationExecutor as ExecutorSeam,
  RemediationOutcome,
  StatementClassification,
} from '../invoker/seams.js';
import { classifyStatement } from './classify.js';
import type { Database } from './database.js';

export interface ExecutorDeps {
  db: Database;
  config: HeimdallConfig;
  audit: AuditLog | undefined;
  bus: BifrostBus;
  log: Logger;
  confirmations: () => ConfirmationRequester | undefined;
  /** The remediation override in a plugin's config entry. */
  pluginPolicy: (plugin: string) => Partial<RemediationConfig> | undefined;
}

type Policy = RemediationConfig & { autoApproveDestructive: boolean };

export class RemediationExecutor implements ExecutorSeam {
  executed = 0;
  refused = 0;

  constructor(private readonly d: ExecutorDeps) {}

  policyFor(plugin: string | undefined): Policy {
    const base = this.d.config.remediation as Policy;
    const o = plugin ? this.d.pluginPolicy(plugin) : undefined;
    return { ...base, ...(o ?? {}), autoApproveDestructive: (o as Partial<Policy> | undefined)?.autoApproveDestructive ?? base.autoApproveDestructive ?? false };
  }

  classify(statement: string, params: Record<string, unknown>, ctx: RemediationContext): Promise<StatementClassification> {
    return classifyStatement(this.d.db, statement, params, ctx.database);
  }

  private audit(entry: Record<string, unknown> & { type: string }): void {
    if (!this.d.audit) return;
    try {
      this.d.audit.append(entry);
    } catch (err) {
      this.d.log.error({ entry }, `The audit log could not be written (${(err as Error).message}); this line is the only record of the decision.`);
    }
  }

  private async approve(ctx: RemediationContext, what: string, details: Record<string, unknown>): Promise<boolean> {
    const c = this.d.confirmations();
    if (!c) return false;
    return c.request(ctx.plugin ?? 'heimdall', what, { details }, ctx.invocationId);
  }

  /** Classifies, applies the policy and runs (or refuses) one statement. */
  async execute(statement: string, params: Record<string, unknown>, ctx: RemediationContext): Promise<RemediationOutcome> {
    const policy = this.policyFor(ctx.plugin);
    const classification = await this.classify(statement, params, ctx);
    const base = { invocationId: ctx.invocationId, plugin: ctx.plugin, action: ctx.action, proposedBy: ctx.proposedBy, statement, params, classification, policy: policy.mode, ...(ctx.reason ? { reason: ctx.reason } : {}) };
    const refuse = (status: 'denied' | 'dry-run', message: string, published = false): RemediationOutcome => {
      this.refused++;
      this.audit({ type: status === 'dry-run' ? 'executor.dry_run' : 'executor.denied', ...base, message });
      return { status, message, classification, published };
    };
    if (classification.kind === 'schema' && !policy.allowSchema) {
      return refuse('denied', 'The statement changes the schema (indexes or constraints), and remediation.allowSchema is false; set it to true to allow schema changes.');
    }
    if (classification.kind !== 'read') {
      if (policy.mode === 'dry-run') {
        return refuse('dry-run', `remediation.mode is dry-run, so the ${classification.kind} statement was not executed.`);
      }
      const needsApproval = policy.mode === 'approve' || (classification.deletes === true && !policy.autoApproveDestructive);
      if (needsApproval) {
        const why = policy.mode === 'approve' ? 'remediation.mode is approve' : 'the statement deletes data';
        const ok = await this.approve(ctx, `Run ${classification.kind} Cypher for ${ctx.plugin ?? 'the model'}`, { statement, params, classification, reason: ctx.reason ?? null });
        if (!ok) {
          const how = this.d.confirmations() ? 'an operator denied it or did not answer in time' : 'no operator confirmation channel is available';
          return refuse('denied', `The statement needs an operator's approval because ${why}, and ${how}; it was not executed.`);
        }
        this.audit({ type: 'executor.approved', ...base });
      }
    }
    const t0 = Date.now();
    try {
      const { rows, summary } = await this.d.db.run(statement, params, {
        mode: classification.kind === 'read' ? 'read' : 'write',
        ...(ctx.database ? { database: ctx.database } : {}),
        metadata: { ...(ctx.plugin ? { plugin: ctx.plugin } : {}), action: ctx.action, invocationId: ctx.invocationId },
      });
      const counters = Object.fromEntries(Object.entries(summary.counters.updates()).filter(([, v]) => v !== 0));
      this.executed++;
      if (classification.kind !== 'read') this.audit({ type: 'executor.executed', ...base, counters, rows: rows.length, durationMs: Date.now() - t0 });
      const changed = Object.entries(counters).map(([k, v]) => `${v} ${k}`).join(', ');
      return { status: 'executed', message: `The ${classification.kind} statement ran${changed ? ` (${changed})` : ''} and returned ${rows.length} rows.`, classification, rows, counters };
    } catch (err) {
      this.audit({ type: 'executor.failed', ...base, error: (err as Error).message });
      throw err;
    }
  }

  /** Decides on a destructive plugin action the model asked for. */
  async authorizeAction(action: string, params: Record<string, unknown>, ctx: RemediationContext): Promise<ActionAuthorization> {
    const policy = this.policyFor(ctx.plugin);
    const base = { invocationId: ctx.invocationId, plugin: ctx.plugin, action, params, policy: policy.mode, proposedBy: ctx.proposedBy };
    if (policy.mode === 'dry-run') {
      this.audit({ type: 'executor.dry_run', ...base });
      return { status: 'dry-run', message: `remediation.mode is dry-run, so the destructive action ${action} was not run.` };
    }
    if (policy.mode === 'auto' && policy.autoApproveDestructive) {
      this.audit({ type: 'executor.approved', ...base, by: 'policy' });
      return { status: 'allowed', message: 'remediation.autoApproveDestructive allows destructive actions.' };
    }
    const ok = await this.approve(ctx, `Run destructive action ${action}`, { action, params, reason: ctx.reason ?? null });
    this.audit({ type: ok ? 'executor.approved' : 'executor.denied', ...base });
    return ok ? { status: 'allowed', message: 'An operator approved the action.' } : { status: 'denied', message: `The destructive action ${action} needs an operator's approval, which was not given.` };
  }

  /** ctx.database.query of a plugin with `write: true` in a write (or unspecified) mode. */
  async pluginWrite(plugin: string, statement: string, params: Record<string, unknown>, ctx: Omit<RemediationContext, 'plugin' | 'proposedBy'>): Promise<Row[]> {
    const o = await this.execute(statement, params, { ...ctx, plugin, proposedBy: 'plugin' });
    if (o.status !== 'executed') {
      this.d.bus.publish({
        kind: 'notification',
        level: 'warning',
        title: o.status === 'dry-run' ? 'Write proposal (dry run)' : 'Write refused',
        message: `${plugin}: ${o.message}`,
        data: { plugin, statement, params, classification: o.classification ?? null, status: o.status },
        origin: { kind: 'plugin', plugin, ...(ctx.invocationId ? { invocationId: ctx.invocationId } : {}) },
      });
      throw new PolicyDeniedError(o.message, { status: o.status, classification: o.classification });
    }
    return o.rows ?? [];
  }
}
