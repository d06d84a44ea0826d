/**
 * Routes remediation to the executor of daemon/db: Cypher the model (or a plugin, or an operator)
 * proposes through `heimdall.remediate.cypher`, and destructive actions the model asks for.
 * The executor applies the policy (auto | approve | dry-run) to statements; for destructive
 * actions the executor decides when it offers `authorizeAction`, otherwise the invoker applies
 * `remediation.mode` (per-plugin overridable) itself. Without an executor every such call is
 * refused with a reason. Proposals and outcomes go to the audit sink and onto Bifrost.
 */
import type { Logger } from 'pino';
import { HeimdallError, serializeError, type ActionResult, ErrorCode } from '../../sdk/index.js';
import type { HeimdallConfig, RemediationConfig, RemediationMode } from '../../config/types.js';
import type { ActionInfo } from './action-registry.js';
import type { BifrostBus } from '../bifrost/bus.js';
import type { AuditSink, InvokerAttachments, RemediationContext, RemediationOutcome, StatementClassification } from './seams.js';

/** The built-in through which the model proposes Cypher. */
export const REMEDIATE_CYPHER = 'heimdall.remediate.cypher';

const MAX_ROWS_BACK = 20;

export interface RemediationDeps {
  config: HeimdallConfig;
  bus: BifrostBus;
  log: Logger;
  attachments: () => InvokerAttachments;
  audit: AuditSink;
  approvalTimeoutMs: number;
  /** The remediation override in a plugin's config entry. */
  pluginRemediation: (plugin: string) => Partial<RemediationConfig> | undefined;
}

function noExecutorMessage(config: HeimdallConfig, what: string): { message: string; code: string } {
  if (!config.database) {
    return {
      code: ErrorCode.HMD_ERR_NO_DATABASE,
      message: `${what} was refused: no database is configured, so there is no remediation executor to run it under the remediation policy. Add a database: section to heimdall.config.yaml and restart the daemon.`,
    };
  }
  return {
    code: ErrorCode.HMD_ERR_POLICY_DENIED,
    message: `${what} was refused: this daemon has no remediation executor attached (the database router is not available), so nothing can run under the remediation policy. Check the database section of \`heimdall status\`.`,
  };
}

export class RemediationRouter {
  constructor(private readonly d: RemediationDeps) {}

  get hasExecutor(): boolean {
    return this.d.attachments().executor !== undefined;
  }

  /** The policy that applies to writes of `plugin` (its override, else the global one). */
  modeFor(plugin: string | undefined): RemediationMode {
    return (plugin ? this.d.pluginRemediation(plugin)?.mode : undefined) ?? this.d.config.remediation.mode;
  }

  private publish(level: 'info' | 'success' | 'warning' | 'error', title: string, message: string, ctx: RemediationContext, data: Record<string, unknown>): void {
    this.d.bus.publish({
      kind: 'notification',
      level,
      title,
      message,
      data: { invocationId: ctx.invocationId, action: ctx.action, proposedBy: ctx.proposedBy, ...(ctx.plugin ? { plugin: ctx.plugin } : {}), ...data },
      origin: { kind: ctx.plugin ? 'plugin' : 'daemon', ...(ctx.plugin ? { plugin: ctx.plugin } : {}), invocationId: ctx.invocationId },
    });
  }

  private async audit(entry: Parameters<AuditSink['append']>[0]): Promise<void> {
    try {
      await this.d.audit.append(entry);
    } catch (err) {
      this.d.log.error({ entry }, `An audit entry for invocation ${entry.invocationId} could not be written: ${(err as Error).message}. The remediation record is only in this log line.`);
    }
  }

  /** Proposed Cypher: classify and execute through the executor under its policy. */
  async cypher(statement: string, params: Record<string, unknown>, ctx: RemediationContext): Promise<ActionResult> {
    const executor = this.d.attachments().executor;
    const base = { invocationId: ctx.invocationId, action: REMEDIATE_CYPHER, statement, params, ...(ctx.reason ? { reason: ctx.reason } : {}), ...(ctx.plugin ? { plugin: ctx.plugin } : {}), ...(ctx.usage ? { usage: ctx.usage } : {}) };
    if (!executor) {
      const { message, code } = noExecutorMessage(this.d.config, 'The proposed Cypher statement');
      await this.audit({ type: 'remediation.refused', ...base, success: false, message });
      this.publish('warning', 'Remediation refused', `${message} Proposed statement: ${statement}`, ctx, { statement, params, reason: ctx.reason ?? null, status: 'refused' });
      return { success: false, message, data: { code, status: 'refused' } };
    }
    let outcome: RemediationOutcome;
    try {
      outcome = await executor.execute(statement, params, ctx);
    } catch (err) {
      const e = serializeError(err);
      const denied = e.code === ErrorCode.HMD_ERR_POLICY_DENIED;
      const message = denied ? e.message : `The remediation statement failed: ${e.message}`;
      await this.audit({ type: denied ? 'remediation.denied' : 'remediation.refused', ...base, success: false, message });
      this.publish(denied ? 'warning' : 'error', denied ? 'Remediation denied' : 'Remediation failed', message, ctx, { statement, params, status: denied ? 'denied' : 'failed' });
      return { success: false, message, data: { code: e.code, status: denied ? 'denied' : 'failed' } };
    }
    return this.report(outcome, statement, params, ctx, base);
  }

  private async report(o: RemediationOutcome, statement: string, params: Record<string, unknown>, ctx: RemediationContext, base: Record<string, unknown>): Promise<ActionResult> {
    const classification: StatementClassification | undefined = o.classification;
    const data: Record<string, unknown> = { status: o.status, ...(classification ? { classification } : {}), ...(o.refusal ? { refusal: o.refusal } : {}) };
    if (o.counters) data['counters'] = o.counters;
    if (o.approval) data['approval'] = { counters: o.approval['counters'], sampleNote: o.approval['sampleNote'] };
    if (o.rows) {
      data['rows'] = o.rows.slice(0, MAX_ROWS_BACK);
      if (o.rows.length > MAX_ROWS_BACK) data['rowsTruncated'] = o.rows.length;
    }
    const type = o.status === 'executed' ? 'remediation.executed' : o.status === 'dry-run' ? 'remediation.dry_run' : 'remediation.denied';
    await this.audit({ type, ...(base as { invocationId: string }), ...(classification ? { classification } : {}), ...(o.refusal ? { refusal: o.refusal } : {}), ...(o.counters ? { counters: o.counters } : {}), success: o.status === 'executed', message: o.message });
    if (!o.published) {
      const kind = classification ? ` (EXPLAIN: ${classification.kind}${classification.deletes ? ', deletes' : ''})` : '';
      if (o.status === 'executed') this.publish('success', 'Remediation executed', `${o.message}${kind}`, ctx, { statement, params, ...data });
      else if (o.status === 'dry-run') this.publish('warning', 'Remediation proposal (dry run)', `Dry run: the proposed statement${kind} was not executed. ${ctx.reason ? `Reason given: ${ctx.reason}. ` : ''}Review it and run it yourself if it is right.`, ctx, { statement, params, reason: ctx.reason ?? null, ...data });
      else this.publish('warning', 'Remediation denied', o.message, ctx, { statement, params, ...data });
    }
    if (o.status === 'executed') return { success: true, message: o.message, data };
    if (o.status === 'dry-run') {
      return { success: false, message: `Dry run: the statement was published on Bifrost for an operator to review and was not executed. ${o.message}`.trim(), data: { ...data, code: ErrorCode.HMD_ERR_POLICY_DENIED } };
    }
    return { success: false, message: o.message, data: { ...data, code: o.code ?? ErrorCode.HMD_ERR_POLICY_DENIED } };
  }

  /** A destructive action the model asked for: decide under the policy, then run (or not). */
  async destructiveAction(info: ActionInfo, params: Record<string, unknown>, ctx: RemediationContext, run: () => Promise<ActionResult>): Promise<ActionResult> {
    const a = this.d.attachments();
    const base = { invocationId: ctx.invocationId, action: info.name, params, ...(ctx.plugin ? { plugin: ctx.plugin } : {}), ...(ctx.usage ? { usage: ctx.usage } : {}) };
    if (!a.executor) {
      const { message, code } = noExecutorMessage(this.d.config, `The destructive action ${info.name}`);
      await this.audit({ type: 'remediation.refused', ...base, success: false, message });
      this.publish('warning', 'Remediation refused', message, ctx, { params, status: 'refused' });
      return { success: false, message, data: { code, status: 'refused' } };
    }
    let status: 'allowed' | 'dry-run' | 'denied';
    let why: string;
    if (a.executor.authorizeAction) {
      try {
        const d = await a.executor.authorizeAction(info.name, params, ctx);
        status = d.status;
        why = d.message;
      } catch (err) {
        status = 'denied';
        why = err instanceof HeimdallError ? err.message : `The remediation executor could not decide on ${info.name}: ${(err as Error).message}`;
      }
    } else {
      const mode = this.modeFor(info.plugin ?? undefined);
      const autoApprove = (info.plugin ? this.d.pluginRemediation(info.plugin)?.autoApproveDestructive : undefined) ?? this.d.config.remediation.autoApproveDestructive ?? false;
      if (mode === 'auto' && autoApprove) {
        status = 'allowed';
        why = 'remediation.mode is auto and autoApproveDestructive is true';
      } else if (mode === 'dry-run') {
        status = 'dry-run';
        why = 'remediation.mode is dry-run';
      } else if (!a.confirmations) {
        status = 'denied';
        why = `remediation.mode ${mode} needs an operator's approval for destructive actions and no operator confirmation channel is available`;
      } else {
        const ok = await a.confirmations.request(info.plugin ?? 'heimdall', info.name, { timeoutMs: this.d.approvalTimeoutMs, details: { params, invocationId: ctx.invocationId, proposedBy: ctx.proposedBy, ...(ctx.reason ? { reason: ctx.reason } : {}) } }, ctx.invocationId);
        status = ok ? 'allowed' : 'denied';
        why = ok ? 'an operator approved it' : `an operator denied ${info.name}, or nobody answered within ${Math.round(this.d.approvalTimeoutMs / 1000)} s`;
      }
    }
    if (status === 'allowed') {
      const r = await run();
      await this.audit({ type: 'action.executed', ...base, success: r.success, message: `${r.message} (allowed: ${why})` });
      return r;
    }
    if (status === 'dry-run') {
      const message = `Dry run: the destructive action ${info.name} was published on Bifrost for an operator to review and was not run (${why}).`;
      await this.audit({ type: 'remediation.dry_run', ...base, success: false, message });
      this.publish('warning', 'Remediation proposal (dry run)', message, ctx, { params, status: 'dry-run' });
      return { success: false, message, data: { code: ErrorCode.HMD_ERR_POLICY_DENIED, status: 'dry-run' } };
    }
    const message = `The destructive action ${info.name} was not run: ${why}.`;
    await this.audit({ type: 'remediation.denied', ...base, success: false, message });
    this.publish('warning', 'Remediation denied', message, ctx, { params, status: 'denied' });
    return { success: false, message, data: { code: ErrorCode.HMD_ERR_POLICY_DENIED, status: 'denied' } };
  }
}
