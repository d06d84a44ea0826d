/**
 * The invoker as the plugins' ctx.heimdall sees it: synchronous and async action calls, and
 * prompts. Async calls return an invocation id at once and publish their result on Bifrost.
 * Without an `llm:` section every prompt answers success:false saying how to configure one.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { serializeError, type ActionResult, type ActionTrigger, type PromptOptions } from '../../sdk/index.js';
import type { HeimdallConfig } from '../../config/types.js';
import type { BifrostBus } from '../bifrost/bus.js';
import type { ActionRegistry } from './action-registry.js';

export const NO_MODEL_MESSAGE =
  'No language model is configured, so the prompt was not sent. Add an llm: section (baseURL, model, apiKey) to heimdall.config.yaml and restart the daemon.';

export class Invoker {
  private warnedNoModel = false;
  asyncStarted = 0;

  constructor(
    private readonly config: HeimdallConfig,
    private readonly registry: ActionRegistry,
    private readonly bus: BifrostBus,
    private readonly log: Logger,
  ) {}

  invokeAction(name: string, params: Record<string, unknown> | undefined, trigger: ActionTrigger, invocationId?: string): Promise<ActionResult> {
    return this.registry.invoke(name, params, { trigger, ...(invocationId ? { invocationId } : {}) });
  }

  /** Starts the action in the background and returns its invocation id at once. */
  invokeActionAsync(name: string, params: Record<string, unknown> | undefined, trigger: ActionTrigger): string {
    const invocationId = randomUUID();
    this.asyncStarted++;
    const started = Date.now();
    this.registry.invoke(name, params, { trigger, invocationId }).then(
      (r) => this.publishResult('action', name, invocationId, trigger, started, r),
      (err: unknown) => this.publishResult('action', name, invocationId, trigger, started, { success: false, message: serializeError(err).message, data: { code: serializeError(err).code } }),
    );
    return invocationId;
  }

  private noModel(): ActionResult {
    if (!this.warnedNoModel) {
      this.warnedNoModel = true;
      this.log.warn(NO_MODEL_MESSAGE);
    }
    return { success: false, message: NO_MODEL_MESSAGE, data: { code: 'HMD_ERR_NO_MODEL' } };
  }

  async sendPrompt(_prompt: string, _opts: PromptOptions | undefined, _trigger: ActionTrigger): Promise<ActionResult> {
    if (!this.config.llm) return this.noModel();
    return this.noModel();
  }

  sendPromptAsync(prompt: string, opts: PromptOptions | undefined, trigger: ActionTrigger): string {
    const invocationId = randomUUID();
    const started = Date.now();
    this.asyncStarted++;
    void this.sendPrompt(prompt, opts, trigger).then((r) => this.publishResult('prompt', 'prompt', invocationId, trigger, started, r));
    return invocationId;
  }

  async sendRawPrompt(prompt: string, trigger: ActionTrigger): Promise<ActionResult> {
    return this.sendPrompt(prompt, undefined, trigger);
  }

  private publishResult(kind: 'action' | 'prompt', name: string, invocationId: string, trigger: ActionTrigger, started: number, r: ActionResult): void {
    this.bus.publish({
      kind: 'notification',
      level: r.success ? 'success' : 'error',
      title: kind === 'action' ? `Action ${name} ${r.success ? 'succeeded' : 'failed'}` : `Prompt ${r.success ? 'answered' : 'failed'}`,
      message: r.message,
      data: { invocationId, kind, name, durationMs: Date.now() - started, success: r.success, ...(r.data ? { result: r.data } : {}) },
      origin: { kind: trigger.plugin ? 'plugin' : 'operator', ...(trigger.plugin ? { plugin: trigger.plugin } : {}), invocationId },
    });
  }
}
