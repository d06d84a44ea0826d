/**
 * Invoker metrics (prom-client). The metric objects exist from the start; daemon.ts registers them
 * into the daemon's registry with {@link InvokerMetrics.registerInto}, so they appear on /metrics.
 */
import { Counter, Gauge, Histogram, type Metric, type Registry } from 'prom-client';

export type InvocationOutcome = 'success' | 'failure' | 'timeout' | 'error' | 'rate_limited' | 'rejected';

export class InvokerMetrics {
  readonly invocations = new Counter({
    name: 'heimdall_invocations_total',
    help: 'Invocations by kind (action, prompt, raw_prompt), mode (sync, async) and outcome.',
    labelNames: ['kind', 'mode', 'outcome'] as const,
    registers: [],
  });
  readonly modelLatency = new Histogram({
    name: 'heimdall_model_request_duration_seconds',
    help: 'Duration of one Chat Completions request (retries included), by outcome.',
    labelNames: ['outcome'] as const,
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 40, 60, 120],
    registers: [],
  });
  readonly tokens = new Counter({
    name: 'heimdall_model_tokens_total',
    help: 'Model tokens as reported by the server, by direction (in = prompt, out = completion).',
    labelNames: ['direction'] as const,
    registers: [],
  });
  readonly toolCallsPerPrompt = new Histogram({
    name: 'heimdall_prompt_tool_calls',
    help: 'Tool (action) calls the model made per prompt.',
    buckets: [0, 1, 2, 3, 5, 8, 13, 21],
    registers: [],
  });
  readonly promptSteps = new Histogram({
    name: 'heimdall_prompt_steps',
    help: 'Model round trips per prompt.',
    buckets: [1, 2, 3, 4, 6, 8, 12, 20],
    registers: [],
  });
  readonly rateLimited = new Counter({
    name: 'heimdall_invocations_rate_limited_total',
    help: 'Prompts refused by a per-plugin rate limit, by plugin and reason (per_minute, per_hour, identical_prompt).',
    labelNames: ['plugin', 'reason'] as const,
    registers: [],
  });
  readonly rejected = new Counter({
    name: 'heimdall_invocations_rejected_total',
    help: 'Async invocations refused without running, by reason (queue_full, shutdown).',
    labelNames: ['reason'] as const,
    registers: [],
  });
  readonly queueDepth = new Gauge({ name: 'heimdall_invocation_queue_depth', help: 'Async invocations waiting for a slot.', registers: [] });
  readonly running = new Gauge({ name: 'heimdall_invocations_running', help: 'Async invocations running now.', registers: [] });

  private registered = false;

  registerInto(registry: Registry): void {
    if (this.registered) return;
    this.registered = true;
    const all = [this.invocations, this.modelLatency, this.tokens, this.toolCallsPerPrompt, this.promptSteps, this.rateLimited, this.rejected, this.queueDepth, this.running] as unknown as Metric[];
    for (const m of all) {
      registry.registerMetric(m);
    }
  }
}
