/**
 * The tool loop behind sendPrompt. Every visible action is offered to the model as a function tool
 * (native mode) or described in the system prompt for the JSON reply protocol (JSON mode). The
 * model's calls are validated and run (several at once when it asks for several); invalid
 * arguments and unknown names are fed back as errors without running anything; destructive
 * actions and heimdall.remediate.cypher go through the remediation router. The loop ends with the
 * model's answer or at the step limit. `toolMode: auto` starts native and switches to JSON mode
 * for a model whose server refuses tools (remembered per model).
 */
import type { Logger } from 'pino';
import { serializeError, type ActionResult, type ActionTrigger, type PromptOptions, ErrorCode } from '../../sdk/index.js';
import type { HeimdallConfig, LlmConfig } from '../../config/types.js';
import type { ActionInfo, ActionRegistry } from './action-registry.js';
import { closestNames } from './closest-names.js';
import { estimateTokens } from './context-budget.js';
import { DB_QUERY, DB_SCHEMA } from './db-actions.js';
import type { InvokerMetrics } from './invoker-metrics.js';
import { parseJsonReply } from './json-reply.js';
import { ModelError, type ChatCompletionMessageParam, type ChatCompletionTool, type ModelClient } from './model-client.js';
import { REMEDIATE_CYPHER, type RemediationRouter } from './remediation.js';
import type { SchemaCache } from './schema-cache.js';
import type { AuditSink, InvokerAttachments, ModelUsage } from './seams.js';
import { buildSystemPrompt, type SystemPrompt } from './system-prompt.js';
import { ToolNameMap } from './tool-names.js';

export interface ToolCallRecord {
  step: number;
  /** The tool name (native) or action name (JSON mode) the model used. */
  tool: string;
  action?: string;
  params?: Record<string, unknown>;
  /** ok: ran and succeeded; failed: ran (or was refused by policy) and did not succeed; invalid: bad arguments, not run; unknown: no such tool, not run. */
  status: 'ok' | 'failed' | 'invalid' | 'unknown';
  success: boolean;
  message: string;
  durationMs: number;
}

export interface PromptRunnerDeps {
  config: HeimdallConfig;
  llm: LlmConfig;
  client: ModelClient;
  registry: ActionRegistry;
  remediation: RemediationRouter;
  schema: SchemaCache;
  attachments: () => InvokerAttachments;
  metrics: InvokerMetrics;
  audit: AuditSink;
  log: Logger;
}

const HIDDEN_FROM_MODEL = new Set(['heimdall.help']);
const MAX_DESCRIPTION = 1000;

const addUsage = (a: ModelUsage, b: ModelUsage): ModelUsage => ({
  promptTokens: a.promptTokens + b.promptTokens,
  completionTokens: a.completionTokens + b.completionTokens,
  totalTokens: a.totalTokens + b.totalTokens,
});

function toolSchema(params: Record<string, unknown>): Record<string, unknown> {
  const { $schema: _drop, ...rest } = params;
  return { type: 'object', properties: {}, ...rest };
}

interface LoopState {
  invocationId: string;
  trigger: ActionTrigger;
  usage: ModelUsage;
  modelMs: number;
  calls: ToolCallRecord[];
  model: string;
}

export class PromptRunner {
  /** Models whose server refused tools (auto mode uses JSON mode for them from then on). */
  private readonly jsonModels = new Set<string>();

  constructor(private readonly d: PromptRunnerDeps) {}

  private visibleActions(): ActionInfo[] {
    const a = this.d.attachments();
    return this.d.registry.list().filter((x) => {
      if (HIDDEN_FROM_MODEL.has(x.name)) return false;
      if ((x.name === DB_QUERY || x.name === DB_SCHEMA) && !a.reader && !a.schema) return false;
      if (x.name === REMEDIATE_CYPHER && !a.executor) return false;
      return true;
    });
  }

  private maxResultChars(): number {
    return Math.max(2000, Math.floor((this.d.llm.contextTokenBudget * 3.5) / 2));
  }

  private resultText(r: ActionResult): string {
    let text: string;
    try {
      text = JSON.stringify(r);
    } catch {
      text = JSON.stringify({ success: r.success, message: r.message });
    }
    const max = this.maxResultChars();
    return text.length <= max ? text : `${text.slice(0, max)}…(result cut to ${max} characters)`;
  }

  /** Sends the prompt as-is: no system prompt, no tools. */
  async raw(prompt: string, invocationId: string, trigger: ActionTrigger): Promise<ActionResult> {
    const started = performance.now();
    try {
      const a = await this.d.client.chat({ messages: [{ role: 'user', content: prompt }] });
      this.observeModel(a.latencyMs, 'success', a.usage);
      const totalMs = performance.now() - started;
      return {
        success: true,
        message: a.message.content ?? '',
        data: { invocationId, model: a.model, usage: a.usage, finishReason: a.finishReason, timing: { totalMs, modelMs: a.latencyMs, overheadMs: totalMs - a.latencyMs } },
      };
    } catch (err) {
      return this.modelFailure(err, performance.now() - started, { invocationId, usage: { promptTokens: 0, completionTokens: 0, totalTokens: 0 }, modelMs: 0, calls: [], model: this.d.llm.model, trigger }, 1);
    }
  }

  private observeModel(latencyMs: number, outcome: string, usage?: ModelUsage): void {
    this.d.metrics.modelLatency.observe({ outcome }, latencyMs / 1000);
    if (usage) {
      if (usage.promptTokens) this.d.metrics.tokens.inc({ direction: 'in' }, usage.promptTokens);
      if (usage.completionTokens) this.d.metrics.tokens.inc({ direction: 'out' }, usage.completionTokens);
    }
  }

  private modelFailure(err: unknown, elapsedMs: number, s: LoopState, steps: number): ActionResult {
    const e = err instanceof ModelError ? err : new ModelError('bad_response', `The model call failed: ${(err as Error)?.message ?? String(err)}.`);
    this.observeModel(elapsedMs, e.reason);
    this.d.log.warn({ invocationId: s.invocationId, reason: e.reason, status: e.status }, e.message);
    return {
      success: false,
      message: e.message,
      data: { invocationId: s.invocationId, reason: `model_${e.reason}`, ...(e.status ? { status: e.status } : {}), model: s.model, steps, toolCalls: s.calls, usage: s.usage },
    };
  }

  async run(prompt: string, opts: PromptOptions, trigger: ActionTrigger, invocationId: string): Promise<ActionResult> {
    const started = performance.now();
    const llm = this.d.llm;
    const model = opts.model ?? llm.model;
    const maxSteps = Math.max(1, Math.min(opts.maxSteps ?? llm.maxSteps, 100));
    let jsonMode = llm.toolMode === 'json' || (llm.toolMode === 'auto' && this.jsonModels.has(model));
    const actions = this.visibleActions();
    const names = new ToolNameMap(actions.map((a) => a.name));
    const tools: ChatCompletionTool[] = actions.map((a) => ({
      type: 'function',
      function: {
        name: names.tool(a.name)!,
        description: `${a.description}${a.destructive ? ' Destructive: runs under the remediation policy (may need approval).' : ''}`.slice(0, MAX_DESCRIPTION),
        parameters: toolSchema(a.params),
      },
    }));
    const schema = await this.d.schema.get();
    const a = this.d.attachments();
    const system = (json: boolean): SystemPrompt =>
      buildSystemPrompt({
        actions,
        ...(json ? {} : { toolName: (n: string) => names.tool(n) }),
        jsonMode: json,
        schema,
        schemaNote: !this.d.schema.available
          ? this.d.config.database
            ? 'The database router is not available, so the schema is unknown.'
            : 'No database is configured.'
          : this.d.schema.lastError ?? 'The schema has not been read yet.',
        trigger,
        context: opts.context,
        remediation: {
          mode: this.d.config.remediation.mode,
          allowSchema: this.d.config.remediation.allowSchema,
          autoApproveDestructive: this.d.config.remediation.autoApproveDestructive ?? false,
          executor: a.executor !== undefined,
        },
        database: a.reader !== undefined || a.schema !== undefined,
        userPrompt: prompt,
        toolTokens: json ? 0 : estimateTokens(JSON.stringify(tools)),
        budget: llm.contextTokenBudget,
      });
    let sys = system(jsonMode);
    if (sys.overBudget) {
      this.d.log.warn({ invocationId, tokens: sys.tokens, budget: llm.contextTokenBudget }, `The prompt needs about ${sys.tokens} tokens even after trimming, more than llm.contextTokenBudget (${llm.contextTokenBudget}); it is sent anyway. Shorten the prompt or raise the budget.`);
    }
    const messages: ChatCompletionMessageParam[] = [
      { role: 'system', content: sys.text },
      { role: 'user', content: prompt },
    ];
    const s: LoopState = { invocationId, trigger, usage: { promptTokens: 0, completionTokens: 0, totalTokens: 0 }, modelMs: 0, calls: [], model };
    let lastText = '';
    let step = 0;
    while (step < maxSteps) {
      step++;
      const t = performance.now();
      let answer;
      try {
        answer = await this.d.client.chat({ messages, ...(jsonMode ? {} : { tools }), model, ...(opts.temperature !== undefined ? { temperature: opts.temperature } : {}) });
      } catch (err) {
        s.modelMs += performance.now() - t;
        if (err instanceof ModelError && err.reason === 'tools_unsupported' && llm.toolMode === 'auto' && !jsonMode) {
          this.jsonModels.add(model);
          this.d.log.info(`The model server refused function tools for ${model}, so prompts to it use the JSON reply protocol from now on (llm.toolMode is auto).`);
          jsonMode = true;
          sys = system(true);
          messages[0] = { role: 'system', content: sys.text };
          step--;
          continue;
        }
        return this.finish(this.modelFailure(err, performance.now() - t, s, step), s, started, step);
      }
      s.modelMs += answer.latencyMs;
      s.usage = addUsage(s.usage, answer.usage);
      s.model = answer.model;
      this.observeModel(answer.latencyMs, 'success', answer.usage);
      lastText = answer.message.content ?? '';

      if (!jsonMode) {
        const calls = (answer.message.tool_calls ?? []).filter((c) => c.type === 'function');
        if (calls.length === 0) return this.finish(this.answer(lastText, answer.finishReason, s, step, jsonMode, sys), s, started, step);
        messages.push({ role: 'assistant', content: answer.message.content ?? null, tool_calls: calls });
        const base = s.calls.length;
        s.calls.length += calls.length;
        const results = await Promise.all(calls.map((c, i) => this.callTool(c.function.name, c.function.arguments, names, s, step, base + i)));
        calls.forEach((c, i) => messages.push({ role: 'tool', tool_call_id: c.id, content: this.resultText(results[i]!) }));
        continue;
      }

      const reply = parseJsonReply(lastText);
      if (reply.kind === 'answer') return this.finish(this.answer(reply.text, answer.finishReason, s, step, jsonMode, sys), s, started, step);
      messages.push({ role: 'assistant', content: lastText });
      if (reply.kind === 'malformed') {
        s.calls.push({ step, tool: '(json)', status: 'invalid', success: false, message: reply.error, durationMs: 0 });
        messages.push({ role: 'user', content: `Error: ${reply.error}` });
        continue;
      }
      const base = s.calls.length;
      s.calls.length += reply.calls.length;
      const results = await Promise.all(reply.calls.map((c, i) => this.callAction(c.action, c.action, c.params, s, step, base + i)));
      const lines = reply.calls.map((c, i) => `${i + 1}. ${c.action} → ${this.resultText(results[i]!)}`);
      messages.push({ role: 'user', content: `Results of your actions:\n${lines.join('\n')}\nRun more actions with a JSON object, or answer in plain text to finish.` });
    }
    const ran = s.calls.filter((c) => c.status === 'ok' || c.status === 'failed').length;
    return this.finish(
      {
        success: false,
        message: `The model did not finish within ${maxSteps} steps (llm.maxSteps or the prompt's maxSteps); it made ${s.calls.length} action calls (${ran} ran). Raise the step limit or make the prompt more specific.${lastText ? ` Its last reply was: ${lastText.slice(0, 300)}` : ''}`,
        data: { invocationId, reason: 'step_limit', model: s.model, mode: jsonMode ? 'json' : 'native', steps: step, toolCalls: s.calls, usage: s.usage },
      },
      s,
      started,
      step,
    );
  }

  private answer(text: string, finishReason: string, s: LoopState, steps: number, jsonMode: boolean, sys: SystemPrompt): ActionResult {
    const cut = finishReason === 'length' ? ' (the answer was cut off at llm.maxTokens)' : '';
    return {
      success: true,
      message: text === '' ? `The model finished without text${cut}.` : `${text}${cut}`,
      data: {
        invocationId: s.invocationId,
        model: s.model,
        mode: jsonMode ? 'json' : 'native',
        steps,
        toolCalls: s.calls,
        usage: s.usage,
        finishReason,
        systemPrompt: { tokens: sys.tokens, trimmed: sys.trimmed, overBudget: sys.overBudget },
      },
    };
  }

  private finish(r: ActionResult, s: LoopState, started: number, steps: number): ActionResult {
    this.d.metrics.toolCallsPerPrompt.observe(s.calls.length);
    this.d.metrics.promptSteps.observe(steps);
    const entry = { type: 'prompt.completed' as const, invocationId: s.invocationId, ...(s.trigger.plugin ? { plugin: s.trigger.plugin } : {}), success: r.success, message: r.message.slice(0, 2000), usage: s.usage, model: s.model };
    const failed = (err: unknown) => this.d.log.error({ entry }, `The audit entry of prompt ${s.invocationId} could not be written: ${(err as Error)?.message ?? String(err)}. This log line is its only record.`);
    try {
      void Promise.resolve(this.d.audit.append(entry)).catch(failed);
    } catch (err) {
      failed(err);
    }
    const totalMs = performance.now() - started;
    return { ...r, data: { ...(r.data ?? {}), timing: { totalMs, modelMs: s.modelMs, overheadMs: totalMs - s.modelMs } } };
  }

  /** A native tool call: map the name back, parse the arguments, then run it. */
  private async callTool(tool: string, args: string, names: ToolNameMap, s: LoopState, step: number, slot: number): Promise<ActionResult> {
    const action = names.action(tool);
    if (!action) {
      const hint = closestNames(tool, names.tools);
      const message = `There is no tool named "${tool}".${hint.length ? ` Did you mean ${hint.join(', ')}?` : ''} Use only the tools you were given.`;
      s.calls[slot] = { step, tool, status: 'unknown', success: false, message, durationMs: 0 };
      return { success: false, message, data: { code: ErrorCode.HMD_ERR_ACTION_NOT_FOUND } };
    }
    let params: unknown;
    try {
      params = args.trim() === '' ? {} : JSON.parse(args);
    } catch (err) {
      const message = `The arguments of ${tool} are not valid JSON (${(err as Error).message}); the action was not run. Send a JSON object that matches its parameter schema.`;
      s.calls[slot] = { step, tool, action, status: 'invalid', success: false, message, durationMs: 0 };
      return { success: false, message, data: { code: ErrorCode.HMD_ERR_INVALID_PARAMS } };
    }
    if (typeof params !== 'object' || params === null || Array.isArray(params)) {
      const message = `The arguments of ${tool} must be a JSON object; the action was not run.`;
      s.calls[slot] = { step, tool, action, status: 'invalid', success: false, message, durationMs: 0 };
      return { success: false, message, data: { code: ErrorCode.HMD_ERR_INVALID_PARAMS } };
    }
    return this.callAction(tool, action, params as Record<string, unknown>, s, step, slot);
  }

  /** Validates and runs one action the model asked for, routing remediation to the executor. */
  private async callAction(tool: string, action: string, raw: Record<string, unknown>, s: LoopState, step: number, slot: number): Promise<ActionResult> {
    const t = performance.now();
    const record = (r: ActionResult, status: ToolCallRecord['status'], params?: Record<string, unknown>): ActionResult => {
      s.calls[slot] = { step, tool, action, ...(params ? { params } : {}), status, success: r.success, message: r.message, durationMs: performance.now() - t };
      return r;
    };
    const visible = this.visibleActions().some((a) => a.name === action);
    let checked;
    try {
      if (!visible && this.d.registry.get(action)) throw Object.assign(new Error(`The action ${action} is not offered to the model.`), { code: ErrorCode.HMD_ERR_ACTION_NOT_FOUND });
      checked = this.d.registry.check(action, raw);
    } catch (err) {
      const e = serializeError(err);
      const status = e.code === ErrorCode.HMD_ERR_INVALID_PARAMS ? 'invalid' : 'unknown';
      const message = status === 'invalid' ? `${e.message} The action was not run; fix the arguments and call it again.` : e.message;
      return record({ success: false, message, data: { code: e.code, ...(e.details ? { details: e.details } : {}) } }, status, raw);
    }
    const { info, params } = checked;
    const trigger: ActionTrigger = { kind: 'prompt', ...(s.trigger.plugin ? { plugin: s.trigger.plugin } : {}) };
    await this.auditCall(s, action, params);
    const ctx = {
      invocationId: s.invocationId,
      action,
      proposedBy: 'model' as const,
      trigger,
      usage: { ...s.usage },
      ...(s.trigger.plugin ? { plugin: s.trigger.plugin } : {}),
    };
    let r: ActionResult;
    try {
      if (action === REMEDIATE_CYPHER) {
        r = await this.d.remediation.cypher(String(params['statement']), (params['params'] ?? {}) as Record<string, unknown>, {
          ...ctx,
          reason: String(params['reason']),
          ...(typeof params['database'] === 'string' ? { database: params['database'] } : {}),
        });
      } else if (info.destructive) {
        r = await this.d.remediation.destructiveAction(info, params, ctx, () => this.d.registry.run(action, params, { trigger, invocationId: s.invocationId }));
      } else {
        r = await this.d.registry.run(action, params, { trigger, invocationId: s.invocationId });
      }
    } catch (err) {
      const e = serializeError(err);
      r = { success: false, message: e.message, data: { code: e.code } };
    }
    if (!r || typeof r.success !== 'boolean' || typeof r.message !== 'string') {
      r = { success: false, message: `The action ${action} returned something that is not an ActionResult.`, data: { code: ErrorCode.HMD_ERR_ACTION_FAILED } };
    }
    return record(r, r.success ? 'ok' : 'failed', params);
  }

  private async auditCall(s: LoopState, action: string, params: Record<string, unknown>): Promise<void> {
    try {
      await this.d.audit.append({ type: 'model.tool_call', invocationId: s.invocationId, action, params, usage: { ...s.usage }, model: s.model, ...(s.trigger.plugin ? { plugin: s.trigger.plugin } : {}) });
    } catch (err) {
      this.d.log.error(`The audit entry of a tool call of prompt ${s.invocationId} could not be written: ${(err as Error).message}.`);
    }
  }
}
