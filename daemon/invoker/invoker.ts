/**
 * The invoker as plugins (ctx.heimdall), operators (HTTP, CLI) and the model see it: synchronous
 * and async action calls, prompts with a tool loop, raw prompts. Async calls return an invocation
 * id at once, wait in a bounded queue for a slot (async-mutex Semaphore), and publish their result
 * on Bifrost. Plugin prompts are rate limited per plugin. Without an `llm:` section every prompt
 * answers success:false saying how to configure one (logged once).
 *
 * Recorded in the invocation history (GET /v1/invocations): every async invocation, every prompt,
 * and operator action calls; a plugin's own synchronous action calls are only counted in metrics.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import {
  HeimdallError,
  QueueFullError,
  serializeError,
  type ActionResult,
  type ActionTrigger,
  type PromptOptions,
  ErrorCode,
} from '../../sdk/index.js';
import { redactUrl } from '../../config/redact.js';
import type { HeimdallConfig } from '../../config/types.js';
import type { BifrostBus } from '../bifrost/bus.js';
import type { ActionRegistry } from './action-registry.js';
import { currentChain, runInChain } from './invocation-chain.js';
import { registerDbActions } from './db-actions.js';
import { InvocationQueue } from './invocation-queue.js';
import { InvocationStore, type InvocationFilter, type InvocationKind, type InvocationRecord, type InvocationRequest } from './invocation-store.js';
import { InvokerMetrics, type InvocationOutcome } from './invoker-metrics.js';
import { ModelClient } from './model-client.js';
import { PromptRunner } from './prompt-runner.js';
import { PromptRateLimiter } from './rate-limit.js';
import { RefusalReporter } from './refusals.js';
import { RemediationRouter } from './remediation.js';
import { SchemaCache, cypherSchemaProvider } from './schema-cache.js';
import type { AuditSink, InvokerAttachments } from './seams.js';

export type { InvocationRecord, InvocationFilter, InvocationRequest } from './invocation-store.js';

export const NO_MODEL_MESSAGE =
  'No language model is configured, so the prompt was not sent. Add an llm: section (baseURL, model, apiKey) to heimdall.config.yaml and restart the daemon.';

const PROMPT_RECORD_CHARS = 2000;

export interface InvokerStats {
  queue: { waiting: number; running: number; capacity: number; concurrency: number; maxRunning: number };
  recorded: number;
  model: { configured: boolean; model?: string; baseURL?: string; toolMode?: string };
  database: { reader: boolean; schema: boolean; executor: boolean; audit: boolean };
}

/** Keeps only well-typed prompt options (they come from plugin code or HTTP bodies). */
function cleanOptions(o: PromptOptions | undefined): PromptOptions {
  if (!o || typeof o !== 'object') return {};
  const out: PromptOptions = {};
  if (o.context !== undefined) out.context = o.context;
  if (typeof o.model === 'string' && o.model !== '') out.model = o.model;
  if (typeof o.temperature === 'number' && Number.isFinite(o.temperature) && o.temperature >= 0) out.temperature = o.temperature;
  if (typeof o.maxSteps === 'number' && Number.isInteger(o.maxSteps) && o.maxSteps >= 1) out.maxSteps = o.maxSteps;
  return out;
}

function outcomeOf(r: ActionResult): InvocationOutcome {
  if (r.success) return 'success';
  const code = r.data?.['code'];
  if (code === ErrorCode.HMD_ERR_ACTION_TIMEOUT || r.data?.['reason'] === 'model_timeout') return 'timeout';
  if (code === ErrorCode.HMD_ERR_RATE_LIMITED) return 'rate_limited';
  return 'failure';
}

export class Invoker {
  private warnedNoModel = false;
  private readonly attachments: InvokerAttachments = {};
  private readonly audit: AuditSink;
  readonly metrics = new InvokerMetrics();
  readonly store: InvocationStore;
  readonly queue: InvocationQueue;
  private readonly limiter: PromptRateLimiter;
  private readonly refusals: RefusalReporter;
  private readonly schema: SchemaCache;
  private readonly remediation: RemediationRouter;
  private readonly runner: PromptRunner | undefined;
  /** Async invocations accepted so far. */
  asyncStarted = 0;

  constructor(
    private readonly config: HeimdallConfig,
    private readonly registry: ActionRegistry,
    private readonly bus: BifrostBus,
    private readonly log: Logger,
    attachments: InvokerAttachments = {},
  ) {
    const ic = config.invoker;
    this.store = new InvocationStore(ic.historySize);
    this.queue = new InvocationQueue(ic.queueCapacity, ic.concurrency);
    this.limiter = new PromptRateLimiter(ic.rateLimit, ic.pluginRateLimits);
    this.refusals = new RefusalReporter(bus, log, config.drops.logIntervalMs);
    this.schema = new SchemaCache(ic.schemaRefreshMs, log);
    const auditLog = log.child({ audit: true });
    this.audit = {
      append: (e) => {
        const sink = this.attachments.audit;
        if (sink) return sink.append(e);
        auditLog.info({ entry: e }, `Audit: ${e.type} for invocation ${e.invocationId}${e.action ? ` (${e.action})` : ''}${e.message ? `: ${e.message}` : '.'}`);
      },
    };
    this.remediation = new RemediationRouter({
      config,
      bus,
      log,
      attachments: () => this.attachments,
      audit: this.audit,
      approvalTimeoutMs: config.invoker.approvalTimeoutMs,
      pluginRemediation: (p) => registry.pluginRemediation(p),
    });
    registerDbActions({ registry, config, schema: this.schema, attachments: () => this.attachments, remediation: this.remediation });
    if (config.llm) {
      this.modelClient = new ModelClient(config.llm);
      this.runner = new PromptRunner({
        config,
        llm: config.llm,
        client: this.modelClient,
        registry,
        remediation: this.remediation,
        schema: this.schema,
        attachments: () => this.attachments,
        metrics: this.metrics,
        audit: this.audit,
        log,
      });
    }
    this.attach(attachments);
  }

  /** The model client, when an llm: section is configured. */
  modelClient: ModelClient | undefined;

  /**
   * Attaches (or replaces) the database-side seams: reader, schema provider, remediation executor,
   * audit sink, operator confirmations. A reader alone also gives a schema provider.
   */
  attach(a: InvokerAttachments): void {
    Object.assign(this.attachments, a);
    if (a.schema || a.reader) {
      const provider = this.attachments.schema ?? (this.attachments.reader ? cypherSchemaProvider(this.attachments.reader) : undefined);
      this.schema.setProvider(provider);
    }
  }

  /** Registers the invoker metrics into the daemon's prom-client registry (served on /metrics). */
  attachMetrics(registry: Registry): void {
    this.metrics.registerInto(registry);
  }

  // ---- actions ------------------------------------------------------------------------------

  invokeAction(name: string, params: Record<string, unknown> | undefined, trigger: ActionTrigger, invocationId?: string): Promise<ActionResult> {
    const id = invocationId ?? randomUUID();
    const rec = trigger.kind === 'operator' ? this.record('action', 'sync', name, trigger, id, { params: params ?? {} }) : undefined;
    if (rec) this.markStarted(rec);
    return this.registry.invoke(name, params, { trigger, invocationId: id }).then(
      (r) => {
        this.count('action', 'sync', outcomeOf(r));
        if (rec) this.markDone(rec, r);
        return r;
      },
      (err: unknown) => {
        const e = serializeError(err);
        this.count('action', 'sync', e.code === ErrorCode.HMD_ERR_ACTION_TIMEOUT ? 'timeout' : 'error');
        if (rec) this.markDone(rec, { success: false, message: e.message, data: { code: e.code } });
        throw err;
      },
    );
  }

  /** Queues the action and returns its invocation id at once; the result goes to Bifrost. */
  invokeActionAsync(name: string, params: Record<string, unknown> | undefined, trigger: ActionTrigger): string {
    // It runs later, outside the caller's context: it keeps the caller's place in the action chain.
    const chain = currentChain();
    return this.enqueue('action', name, trigger, { params: params ?? {} }, (id) => this.registry.invoke(name, params, { trigger, invocationId: id, chain }));
  }

  // ---- prompts ------------------------------------------------------------------------------

  private noModel(): ActionResult {
    if (!this.warnedNoModel) {
      this.warnedNoModel = true;
      this.log.warn(NO_MODEL_MESSAGE);
    }
    return { success: false, message: NO_MODEL_MESSAGE, data: { code: ErrorCode.HMD_ERR_NO_MODEL } };
  }

  /** The rate-limit refusal for a plugin's prompt, or undefined when it may go ahead. */
  private limit(prompt: string, trigger: ActionTrigger): ActionResult | undefined {
    if (trigger.kind !== 'plugin' || !trigger.plugin) return undefined;
    const d = this.limiter.take(trigger.plugin, prompt);
    if (d.ok) return undefined;
    this.metrics.rateLimited.inc({ plugin: trigger.plugin, reason: d.reason });
    return { success: false, message: d.message, data: { code: ErrorCode.HMD_ERR_RATE_LIMITED, reason: d.reason, retryAfterMs: d.retryAfterMs } };
  }

  private async runPrompt(kind: 'prompt' | 'raw_prompt', prompt: string, opts: PromptOptions, trigger: ActionTrigger, id: string): Promise<ActionResult> {
    if (!this.runner) return this.noModel();
    try {
      return kind === 'raw_prompt' ? await this.runner.raw(prompt, id, trigger) : await this.runner.run(prompt, opts, trigger, id);
    } catch (err) {
      const e = serializeError(err);
      this.log.error({ invocationId: id, err: e }, `The prompt ${id} failed inside the invoker: ${e.message}. This is a bug; the stack is in this log line.`);
      return { success: false, message: `The prompt failed inside Heimdall: ${e.message}`, data: { code: e.code } };
    }
  }

  private async promptSync(kind: 'prompt' | 'raw_prompt', prompt: string, opts: PromptOptions, trigger: ActionTrigger): Promise<ActionResult> {
    const id = randomUUID();
    const rec = this.record(kind, 'sync', kind, trigger, id, { prompt: prompt.slice(0, PROMPT_RECORD_CHARS) });
    if (!this.runner) {
      const r = this.noModel();
      this.markDone(rec, r);
      this.count(kind, 'sync', 'failure');
      return r;
    }
    const refused = this.limit(prompt, trigger);
    if (refused) {
      this.markRejected(rec, 'rate_limited', refused);
      this.count(kind, 'sync', 'rate_limited');
      return refused;
    }
    this.markStarted(rec);
    const r = await this.runPrompt(kind, prompt, opts, trigger, id);
    this.markDone(rec, r);
    this.count(kind, 'sync', outcomeOf(r));
    return r;
  }

  sendPrompt(prompt: string, opts: PromptOptions | undefined, trigger: ActionTrigger): Promise<ActionResult> {
    return this.promptSync('prompt', prompt, cleanOptions(opts), trigger);
  }

  /** Queues the prompt and returns its invocation id at once; the answer goes to Bifrost. */
  sendPromptAsync(prompt: string, opts: PromptOptions | undefined, trigger: ActionTrigger): string {
    return this.promptAsync('prompt', prompt, cleanOptions(opts), trigger);
  }

  sendRawPrompt(prompt: string, trigger: ActionTrigger): Promise<ActionResult> {
    return this.promptSync('raw_prompt', prompt, {}, trigger);
  }

  private promptAsync(kind: 'prompt' | 'raw_prompt', prompt: string, opts: PromptOptions, trigger: ActionTrigger): string {
    const extra = { prompt: prompt.slice(0, PROMPT_RECORD_CHARS) };
    if (this.runner) {
      const refused = this.limit(prompt, trigger);
      if (refused) return this.refuse(kind, kind, trigger, extra, 'rate_limited', refused);
    }
    const chain = currentChain();
    return this.enqueue(kind, kind, trigger, extra, (id) => runInChain(chain, () => this.runPrompt(kind, prompt, opts, trigger, id)));
  }

  // ---- operators ----------------------------------------------------------------------------

  /**
   * Submits an async invocation for an operator (POST /v1/invocations). Unlike the plugin path,
   * problems are thrown at once: unknown action or invalid params, no model, full queue.
   */
  submit(req: InvocationRequest, trigger: ActionTrigger = { kind: 'operator' }): InvocationRecord {
    if (req.kind === 'action') this.registry.check(req.name, req.params);
    else if (!this.runner) {
      // refused, and recorded: the caller gets an id whose record says why
      const rec = this.record(req.kind, 'async', req.kind, trigger, randomUUID(), { prompt: req.prompt.slice(0, PROMPT_RECORD_CHARS) });
      this.markRejected(rec, 'no_model', this.noModel());
      this.count(req.kind, 'async', 'rejected');
      return rec;
    }
    if (this.queue.full) {
      this.metrics.rejected.inc({ reason: this.queue.isClosed ? 'shutdown' : 'queue_full' });
      this.count(req.kind, 'async', 'rejected');
      if (this.queue.isClosed) throw new HeimdallError(ErrorCode.HMD_ERR_SHUTTING_DOWN, this.queueFullMessage());
      throw new QueueFullError(this.queueFullMessage(), { capacity: this.queue.capacity, waiting: this.queue.waiting, running: this.queue.running });
    }
    const id =
      req.kind === 'action'
        ? this.invokeActionAsync(req.name, req.params, trigger)
        : this.promptAsync(req.kind, req.prompt, req.kind === 'prompt' ? cleanOptions(req.opts) : {}, trigger);
    return this.store.get(id)!;
  }

  getInvocation(id: string): InvocationRecord | undefined {
    return this.store.get(id);
  }

  listInvocations(filter?: InvocationFilter): InvocationRecord[] {
    return this.store.list(filter);
  }

  stats(): InvokerStats {
    const llm = this.config.llm;
    const a = this.attachments;
    return {
      queue: { waiting: this.queue.waiting, running: this.queue.running, capacity: this.queue.capacity, concurrency: this.queue.concurrency, maxRunning: this.queue.maxRunning },
      recorded: this.store.size,
      model: llm ? { configured: true, model: llm.model, baseURL: redactUrl(llm.baseURL), toolMode: llm.toolMode } : { configured: false },
      database: { reader: !!a.reader, schema: !!(a.schema || a.reader), executor: !!a.executor, audit: !!a.audit },
    };
  }

  /** Refuses new async invocations, cancels the waiting ones (recorded as rejected: shutdown) and stops timers. */
  close(): void {
    this.queue.close();
    this.schema.close();
    this.refusals.close();
  }

  // ---- internals ----------------------------------------------------------------------------

  private queueFullMessage(): string {
    return this.queue.isClosed
      ? 'The daemon is shutting down and accepts no new async invocations.'
      : `The async invocation queue is full (${this.queue.waiting} waiting for ${this.queue.concurrency} slots, capacity ${this.queue.capacity}), so the call was refused. Slow the caller down or raise invoker.queueCapacity / invoker.concurrency.`;
  }

  private enqueue(kind: InvocationKind, name: string, trigger: ActionTrigger, extra: Partial<InvocationRecord>, work: (id: string) => Promise<ActionResult>): string {
    const id = randomUUID();
    const rec = this.record(kind, 'async', name, trigger, id, extra);
    const accepted = this.queue.offer({
      run: async () => {
        this.markStarted(rec);
        this.gauges();
        let r: ActionResult;
        try {
          r = await work(id);
        } catch (err) {
          const e = serializeError(err);
          r = { success: false, message: e.message, data: { code: e.code } };
        }
        this.markDone(rec, r);
        this.count(kind, 'async', outcomeOf(r));
        this.publishResult(rec, r);
        this.gauges();
      },
      cancel: (reason) => {
        const r: ActionResult = { success: false, message: 'The daemon shut down before this invocation got a slot, so it never ran.', data: { code: ErrorCode.HMD_ERR_SHUTTING_DOWN } };
        this.markRejected(rec, reason, r);
        this.metrics.rejected.inc({ reason });
        this.count(kind, 'async', 'rejected');
        this.gauges();
      },
    });
    if (!accepted) {
      const reason = this.queue.isClosed ? 'shutdown' : 'queue_full';
      this.metrics.rejected.inc({ reason });
      this.count(kind, 'async', 'rejected');
      const r: ActionResult = { success: false, message: this.queueFullMessage(), data: { code: reason === 'shutdown' ? ErrorCode.HMD_ERR_SHUTTING_DOWN : ErrorCode.HMD_ERR_QUEUE_FULL } };
      this.markRejected(rec, reason, r);
      this.refusals.refused(rec, reason, r.message);
      return id;
    }
    this.asyncStarted++;
    this.gauges();
    return id;
  }

  /** Records an async call refused before queueing (rate limit); reports it on Bifrost, summarised. */
  private refuse(kind: InvocationKind, name: string, trigger: ActionTrigger, extra: Partial<InvocationRecord>, reason: string, r: ActionResult): string {
    const id = randomUUID();
    const rec = this.record(kind, 'async', name, trigger, id, extra);
    this.markRejected(rec, reason, r);
    this.count(kind, 'async', 'rate_limited');
    this.refusals.refused(rec, reason, r.message);
    return id;
  }

  private gauges(): void {
    this.metrics.queueDepth.set(this.queue.waiting);
    this.metrics.running.set(this.queue.running);
  }

  private count(kind: InvocationKind, mode: 'sync' | 'async', outcome: InvocationOutcome): void {
    this.metrics.invocations.inc({ kind, mode, outcome });
  }

  private record(kind: InvocationKind, mode: 'sync' | 'async', name: string, trigger: ActionTrigger, id: string, extra: Partial<InvocationRecord>): InvocationRecord {
    return this.store.add({ id, kind, mode, name, trigger, status: 'queued', submittedAt: new Date().toISOString(), ...extra });
  }

  private markStarted(rec: InvocationRecord): void {
    rec.status = 'running';
    rec.startedAt = new Date().toISOString();
    rec.queuedMs = Date.parse(rec.startedAt) - Date.parse(rec.submittedAt);
  }

  private markDone(rec: InvocationRecord, r: ActionResult): void {
    const now = new Date();
    rec.status = r.success ? 'succeeded' : 'failed';
    rec.finishedAt = now.toISOString();
    rec.durationMs = now.getTime() - Date.parse(rec.startedAt ?? rec.submittedAt);
    rec.result = r;
  }

  private markRejected(rec: InvocationRecord, reason: string, r: ActionResult): void {
    rec.status = 'rejected';
    rec.rejectedBecause = reason;
    rec.finishedAt = new Date().toISOString();
    rec.result = r;
  }

  private publishResult(rec: InvocationRecord, r: ActionResult): void {
    const code = r.data?.['code'];
    const soft = code === ErrorCode.HMD_ERR_POLICY_DENIED || code === ErrorCode.HMD_ERR_RATE_LIMITED || r.data?.['reason'] === 'step_limit';
    const what = rec.kind === 'action' ? `Action ${rec.name}` : rec.kind === 'raw_prompt' ? 'Raw prompt' : 'Prompt';
    const verb = r.success ? (rec.kind === 'action' ? 'succeeded' : 'answered') : 'failed';
    const plugin = rec.trigger.plugin;
    this.bus.publish({
      kind: 'notification',
      level: r.success ? 'success' : soft ? 'warning' : 'error',
      title: `${what} ${verb}${plugin ? ` (plugin ${plugin})` : ''}`,
      message: r.message,
      data: {
        invocationId: rec.id,
        kind: rec.kind,
        name: rec.name,
        ...(plugin ? { plugin } : {}),
        trigger: rec.trigger.kind,
        durationMs: rec.durationMs ?? 0,
        queuedMs: rec.queuedMs ?? 0,
        success: r.success,
        ...(r.data ? { result: r.data } : {}),
      },
      origin: { kind: rec.trigger.kind === 'operator' || !plugin ? 'operator' : 'plugin', ...(plugin ? { plugin } : {}), invocationId: rec.id },
    });
  }
}
