/**
 * The remediation executor: every write the daemon makes on a plugin's, the model's or an
 * operator's behalf goes through here. It judges what a statement DOES, not what its plan looks
 * like:
 *
 *   1. the statement policy (statement-policy.ts) refuses, before anything runs, what counters
 *      cannot see or a rollback cannot undo: procedures and functions not allowed by name, LOAD CSV,
 *      IN TRANSACTIONS, USE, commands, Heimdall's own state, dynamic labels; EXPLAIN classifies;
 *   2. the write runs in an explicit transaction (write-transaction.ts); before commit the
 *      transaction's counters decide: deleted nodes or relationships, removed labels and dropped
 *      indexes or constraints are destructive. In `auto` a statement that is not destructive
 *      commits at once; a destructive one is rolled back and needs an operator (unless
 *      autoApproveDestructive). In `approve` every write is first run and rolled back to learn
 *      what it would change. The commit guard (commit-guard.ts), where loaded, checks the same
 *      transaction from its transaction data at commit (in Heimdall's Neo4j extension or an APOC trigger);
 *   3. an operator is asked with the counters and, with the guard, a sample of what would go (a
 *      probe whose commit the guard fails on purpose) — no write transaction is open meanwhile;
 *   4. after approval the statement runs again in a new transaction and is rolled back if it now
 *      changes more than was approved (any counter above the approved one).
 *
 * `dry-run` runs nothing: the proposal is published on Bifrost and audited. Every executed write's
 * audit entry carries the real counters of the committed transaction.
 */
import type { Logger } from 'pino';
import { ErrorCode, PolicyDeniedError, StatementRefusedError, type Row } from '../../sdk/index.js';
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
import { streamRead } from './cypher-reader.js';
import type { Database } from './database.js';
import { NamePolicy } from './name-policy.js';
import { CommitGuard, type GuardEngine } from './commit-guard.js';
import type { GuardReport } from './policy-trigger.js';
import { countersText, destructive, exceeds, guardLimits, proposer, sampleForAudit, sampleText } from './remediation-terms.js';
import { refusalMessage, StatementPolicy } from './statement-policy.js';
import { runWrite, type Counters, type WriteAttempt, type WriteRequest } from './write-transaction.js';

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

/** Where the time of one executed write went, ms (for benchmarks and diagnosis; see RemediationExecutor.onTiming). */
export interface ExecutionTiming {
  /** The token screen. */
  screenMs: number;
  /** EXPLAIN (or the plan cache) and the plan screen. */
  explainMs: number;
  /** The plan came from the plan cache. */
  planCached: boolean;
  /** The write transaction(s), with the commit guard at commit. */
  writeMs: number;
  /** The audit append, as the caller waits for it. */
  auditMs: number;
  /** From entering execute() to returning. */
  totalMs: number;
}

type Policy = RemediationConfig & { autoApproveDestructive: boolean };

/** Rows kept from a statement for the model or an operator (plugins get all of theirs). */
const MAX_ROWS = 100;
/** How long an approval waits for the guard to load before it asks without a sample. */
const GUARD_WAIT_MS = 2000;
/** The engine that judges a request at commit, once the guard is loaded (the policy in its metadata names it). */
const guardedBy = (engine: GuardEngine | undefined): Partial<WriteRequest> => (engine ? { guardEngine: engine } : {});

export class RemediationExecutor implements ExecutorSeam {
  executed = 0;
  refused = 0;
  readonly names: NamePolicy;
  readonly statements: StatementPolicy;
  readonly guard: CommitGuard;
  /** Hears where the time of each executed write went (benchmarks; nothing is logged). */
  onTiming: ((t: ExecutionTiming) => void) | undefined;

  constructor(private readonly d: ExecutorDeps) {
    const r = d.config.remediation;
    this.names = new NamePolicy({ allowProcedures: r.allowProcedures, allowFunctions: r.allowFunctions });
    for (const entry of this.names.ignored) {
      d.log.warn(`The config entry ${entry} is ignored: it names what is never allowed (procedures that commit on their own, run Cypher from strings, reach files or URLs, or administer the server).`);
    }
    this.statements = new StatementPolicy(d.db, this.names);
    this.guard = new CommitGuard(d.db, d.log, r.guardTrigger, r.guardEngine);
  }

  /** Installs the commit guard in the default database in the background (never fails the start). */
  start(): void {
    const database = this.d.db.defaultDatabase;
    void this.guard.ensure(database).then((loaded) => (loaded ? this.warmUp(database) : undefined));
  }

  /**
   * Once the guard is loaded, one probe that never commits (the guard fails it, write-transaction.ts),
   * so the server has planned the guard's statement and the write path is warm before the first
   * write a caller waits for. Nothing is kept, nothing is audited; a failure only costs the warm-up.
   */
  private async warmUp(database: string): Promise<void> {
    try {
      await runWrite(this.d.db, { statement: 'CREATE (n) RETURN 0 AS warm', params: {}, database, maxRows: 0, metadata: { purpose: 'policy-guard-warm-up' }, probe: { sample: 0 }, ...guardedBy(this.guard.engine(database)) });
    } catch (err) {
      this.d.log.debug(`The warm-up probe of the commit guard failed (${(err as Error).message}); the first write plans it instead.`);
    }
  }

  /** Stops the guard's background work (before the database router closes). */
  close(): void {
    this.guard.close();
  }

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
      // written in chain order before the caller hears back; its fsync is batched off the event loop (audit-log.ts)
      this.d.audit.appendBatched(entry);
    } catch (err) {
      this.d.log.error({ entry }, `The audit log could not be written (${(err as Error).message}); this line is the only record of the decision.`);
    }
  }

  private async approve(ctx: RemediationContext, what: string, details: Record<string, unknown>): Promise<boolean> {
    const c = this.d.confirmations();
    if (!c) return false;
    return c.request(ctx.plugin ?? 'heimdall', what, { details }, ctx.invocationId);
  }

  private request(statement: string, params: Record<string, unknown>, ctx: RemediationContext, extra: Partial<WriteRequest>): WriteRequest {
    return {
      statement,
      params,
      ...(ctx.database ? { database: ctx.database } : {}),
      ...(ctx.signal ? { signal: ctx.signal } : {}),
      maxRows: ctx.proposedBy === 'plugin' ? Number.POSITIVE_INFINITY : MAX_ROWS,
      metadata: { ...(ctx.plugin ? { plugin: ctx.plugin } : {}), action: ctx.action, invocationId: ctx.invocationId },
      ...guardedBy(this.guard.engine(ctx.database ?? this.d.db.defaultDatabase)),
      ...extra,
    };
  }

  /** Screens, classifies, applies the policy and runs (or refuses) one statement. */
  async execute(statement: string, params: Record<string, unknown>, ctx: RemediationContext): Promise<RemediationOutcome> {
    const tStart = performance.now();
    const policy = this.policyFor(ctx.plugin);
    const database = ctx.database ?? this.d.db.defaultDatabase;
    let checkTiming = { screenMs: 0, explainMs: 0, planCached: false };
    let writeMs = 0;
    const base = { invocationId: ctx.invocationId, plugin: ctx.plugin, action: ctx.action, proposedBy: ctx.proposedBy, statement, params, policy: policy.mode, ...(ctx.reason ? { reason: ctx.reason } : {}) };
    let classification: StatementClassification | undefined;
    const refuse = (status: 'denied' | 'dry-run', message: string, extra: Partial<RemediationOutcome> & Record<string, unknown> = {}): RemediationOutcome => {
      this.refused++;
      const { code, refusal, approval, ...rest } = extra;
      if (refusal) this.d.log.warn({ invocationId: ctx.invocationId, plugin: ctx.plugin, rule: refusal.rule, name: refusal.name }, `A statement proposed by ${proposer(ctx)} was refused (invocation ${ctx.invocationId}): ${message} The audit log has the statement; if it was not expected, look at what led to it.`);
      this.audit({ type: status === 'dry-run' ? 'executor.dry_run' : 'executor.denied', ...base, classification, message, ...(refusal ? { refusal } : {}), ...(approval ? { approval: auditApproval(approval) } : {}), ...rest });
      return { status, message, classification, published: false, ...(code ? { code } : {}), ...(refusal ? { refusal } : {}), ...(approval ? { approval } : {}) };
    };

    if (this.guard.enabled) void this.guard.ensure(database);
    const check = await this.statements.check(statement, params, { purpose: 'write', ...(ctx.database ? { database: ctx.database } : {}) });
    classification = check.classification;
    if (check.ok && check.timing) checkTiming = { screenMs: check.timing.screenMs, explainMs: check.timing.explainMs, planCached: check.timing.cached };
    if (!check.ok) {
      const refusal = { rule: check.refusal.rule, ...(check.refusal.name !== undefined ? { name: check.refusal.name } : {}) };
      return refuse('denied', refusalMessage('The statement', check.refusal), { code: ErrorCode.HMD_ERR_STATEMENT_REFUSED, refusal });
    }
    const kind = check.classification.kind;
    if (kind === 'schema' && !policy.allowSchema) {
      return refuse('denied', 'The statement changes the schema (indexes or constraints), and remediation.allowSchema is false; set it to true to allow schema changes.');
    }
    if (kind === 'read') return this.read(statement, params, ctx, check.classification);
    if (policy.mode === 'dry-run') {
      return refuse('dry-run', `remediation.mode is dry-run, so the ${kind} statement was not executed.`);
    }
    const guarded = this.guard.ready(database) ? 'commit guard' : `counters only (commit guard: ${this.guard.reason(database)})`;
    const executed = (a: WriteAttempt, approved?: Counters): RemediationOutcome => {
      this.executed++;
      // a new or dropped index or constraint may change plans: the next statements are EXPLAINed afresh
      if (kind === 'schema') this.statements.forgetPlans();
      const tAudit = performance.now();
      this.audit({ type: 'executor.executed', ...base, classification, counters: a.counters, ...(approved ? { approvedCounters: approved } : {}), judgedBy: guarded, rows: a.rowCount, durationMs: a.durationMs });
      if (this.onTiming) {
        const tEnd = performance.now();
        this.onTiming({ ...checkTiming, writeMs, auditMs: tEnd - tAudit, totalMs: tEnd - tStart });
      }
      const changed = countersText(a.counters);
      return { status: 'executed', message: `The ${kind} statement ran${changed ? ` (${changed})` : ''} and returned ${a.rowCount} rows.`, classification, rows: a.rows, counters: a.counters };
    };
    const guardRefusal = (g: GuardReport, counters: Counters, when: string): RemediationOutcome =>
      g.heimdallState
        ? refuse('denied', `The statement was refused and rolled back ${when}: it touched Heimdall's own state (${g.heimdallLabels.join(', ') || 'nodes with a Heimdall label'}), where only the daemon itself writes.`, { counters, guard: sampleForAudit(g), refusal: { rule: 'heimdall-state' }, code: ErrorCode.HMD_ERR_STATEMENT_REFUSED })
        : refuse('denied', `The statement was refused and rolled back ${when}: its transaction ${sampleText(g)}, more than its counters (${countersText(counters) || 'none'}) or its approval allowed, so something in it works out of sight of the counters.`, { counters, guard: sampleForAudit(g), refusal: { rule: 'hidden-changes' } });

    let counters: Counters;
    if (policy.mode === 'auto') {
      const free = policy.autoApproveDestructive;
      const tWrite = performance.now();
      const first = await runWrite(this.d.db, this.request(statement, params, ctx, { commitIf: (c) => free || !destructive(c), limits: free ? {} : guardLimits({}) }));
      writeMs += performance.now() - tWrite;
      if (first.outcome === 'committed') return executed(first);
      if (first.outcome === 'guard-refused') return guardRefusal(first.guard!, first.counters, 'at commit');
      counters = first.counters;
    } else {
      counters = {};
    }

    // Ask an operator: learn (again) what it would change, with a sample where the guard can take one.
    let sample: GuardReport | undefined;
    let sampleNote: string;
    const probe = (await this.guard.ensure(database, GUARD_WAIT_MS))
      ? await runWrite(this.d.db, this.request(statement, params, ctx, { probe: { sample: this.d.config.remediation.sampleSize } }))
      : await runWrite(this.d.db, this.request(statement, params, ctx, { commitIf: () => false }));
    if (probe.outcome === 'committed') {
      // Impossible while the guard is verified inside the probe's own transaction; said loudly if it ever happens.
      this.d.log.error({ invocationId: ctx.invocationId, statement }, 'A remediation probe COMMITTED although the commit guard was verified inside its transaction; the write is in the database without approval. Check the commit guard of the database (heimdall.policy.status for the extension guard, apoc.trigger.list for the APOC trigger) and the audit log.');
      this.d.bus.publish({ kind: 'notification', level: 'error', title: 'Remediation probe committed', message: `A probe of a statement proposed by ${proposer(ctx)} committed without approval (${countersText(probe.counters)}). Check the commit guard of the database (heimdall.policy.status, apoc.trigger.list) and the audit log.`, data: { statement, params, counters: probe.counters, invocationId: ctx.invocationId }, origin: { kind: 'daemon', invocationId: ctx.invocationId } });
      return executed(probe);
    }
    if (probe.outcome === 'probed') {
      sample = probe.guard!;
      sampleNote = `the commit guard sampled up to ${this.d.config.remediation.sampleSize} of what would be deleted`;
      if (sample.heimdallState) return guardRefusal(sample, probe.counters, 'in the probe');
      if (sample.nodesDeleted > (probe.counters['nodesDeleted'] ?? 0) || sample.relationshipsDeleted > (probe.counters['relationshipsDeleted'] ?? 0)) {
        return guardRefusal(sample, probe.counters, 'in the probe');
      }
    } else {
      if (probe.guardVerified === false) this.guard.lost(database, 'a probe did not find it loaded');
      sampleNote = `no sample: ${this.guard.enabled ? `the commit guard is not available (${this.guard.reason(database)})` : 'remediation.guardTrigger is false'}`;
    }
    counters = probe.counters;
    const why = policy.mode === 'approve' ? 'remediation.mode is approve' : `the statement deletes data or removes labels (${countersText(counters)})`;
    const approval: Record<string, unknown> = { counters, sample: sample ? { nodesDeleted: sample.nodesDeleted, relationshipsDeleted: sample.relationshipsDeleted, labelsRemoved: sample.labelsRemoved, nodes: sample.nodes, relationships: sample.relationships } : null, sampleNote };
    const ok = await this.approve(ctx, `Run ${kind} Cypher proposed by ${proposer(ctx)}`, { statement, params, classification, reason: ctx.reason ?? null, proposedBy: ctx.proposedBy, why, ...approval });
    if (!ok) {
      const how = this.d.confirmations() ? 'an operator denied it or did not answer in time' : 'no operator confirmation channel is available';
      return refuse('denied', `The statement needs an operator's approval because ${why}, and ${how}; it was not executed.`, { approval });
    }
    this.audit({ type: 'executor.approved', ...base, classification, approvedCounters: counters, ...(sample ? { sample: sampleForAudit(sample) } : {}) });

    const final = await runWrite(this.d.db, this.request(statement, params, ctx, { commitIf: (c) => exceeds(c, counters) === undefined, limits: guardLimits(counters) }));
    if (final.outcome === 'committed') return executed(final, counters);
    if (final.outcome === 'guard-refused') return guardRefusal(final.guard!, final.counters, 'after approval');
    const over = exceeds(final.counters, counters)!;
    return refuse('denied', `After approval the statement would change more than was approved (${over}), so it was rolled back and nothing changed. Propose it again to ask with the new numbers.`, { counters: final.counters, approvedCounters: counters });
  }

  /** A read through the write tool: streamed, cut at MAX_ROWS (plugins get every row). */
  private async read(statement: string, params: Record<string, unknown>, ctx: RemediationContext, classification: StatementClassification): Promise<RemediationOutcome> {
    const r = await streamRead(this.d.db, statement, params, {
      maxRows: ctx.proposedBy === 'plugin' ? Number.POSITIVE_INFINITY : MAX_ROWS,
      maxBytes: ctx.proposedBy === 'plugin' ? Number.POSITIVE_INFINITY : this.d.config.invoker.queryMaxBytes,
      ...(ctx.database ? { database: ctx.database } : {}),
      ...(ctx.signal ? { signal: ctx.signal } : {}),
      metadata: { ...(ctx.plugin ? { plugin: ctx.plugin } : {}), action: ctx.action, invocationId: ctx.invocationId },
    });
    this.executed++;
    const cut = r.truncated ? ` (cut at ${r.truncated === 'rows' ? `${MAX_ROWS} rows` : `${this.d.config.invoker.queryMaxBytes} bytes`})` : '';
    return { status: 'executed', message: `The read statement ran and returned ${r.rows.length} rows${cut}.`, classification, rows: r.rows, counters: {} };
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
    const ok = await this.approve(ctx, `Run destructive action ${action} (asked for by ${proposer(ctx)})`, { action, params, reason: ctx.reason ?? null, proposedBy: ctx.proposedBy });
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
        data: { plugin, statement, params, classification: o.classification ?? null, status: o.status, ...(o.refusal ? { refusal: o.refusal } : {}) },
        origin: { kind: 'plugin', plugin, ...(ctx.invocationId ? { invocationId: ctx.invocationId } : {}) },
      });
      const details = { status: o.status, classification: o.classification, ...(o.refusal ? { rule: o.refusal.rule, name: o.refusal.name, refusal: o.refusal } : {}) };
      throw o.code === ErrorCode.HMD_ERR_STATEMENT_REFUSED ? new StatementRefusedError(o.message, details) : new PolicyDeniedError(o.message, details);
    }
    return o.rows ?? [];
  }
}

/** The approval as the audit log keeps it: counters and the sample's ids and labels (no property values). */
function auditApproval(a: Record<string, unknown>): Record<string, unknown> {
  const s = a['sample'] as GuardReport | null | undefined;
  return { counters: a['counters'], sampleNote: a['sampleNote'], ...(s ? { sample: sampleForAudit(s) } : {}) };
}
