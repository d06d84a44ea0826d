/**
 * Per-plugin prompt limits that protect model spend: prompts per minute and per hour (sliding
 * windows) and a cooldown for identical prompt text. Each plugin has its own budget;
 * `invoker.pluginRateLimits.<plugin>` overrides `invoker.rateLimit`. A refused call is not counted
 * against the budget.
 */
import { createHash } from 'node:crypto';
import type { PromptRateLimitConfig } from '../../config/types.js';

export type RateLimitReason = 'per_minute' | 'per_hour' | 'identical_prompt';

export type RateDecision = { ok: true } | { ok: false; reason: RateLimitReason; message: string; retryAfterMs: number };

interface PluginState {
  /** Times of accepted prompts within the last hour, oldest first. */
  times: number[];
  /** Prompt hash → time it was last accepted. */
  recent: Map<string, number>;
}

const MINUTE = 60_000;
const HOUR = 3_600_000;

export class PromptRateLimiter {
  private readonly state = new Map<string, PluginState>();

  constructor(
    private readonly defaults: PromptRateLimitConfig,
    private readonly overrides: Record<string, Partial<PromptRateLimitConfig>> = {},
  ) {}

  limitsFor(plugin: string): PromptRateLimitConfig {
    return { ...this.defaults, ...(this.overrides[plugin] ?? {}) };
  }

  /** Checks and, when allowed, records one prompt of `plugin`. */
  take(plugin: string, prompt: string, now = Date.now()): RateDecision {
    const lim = this.limitsFor(plugin);
    let s = this.state.get(plugin);
    if (!s) {
      s = { times: [], recent: new Map() };
      this.state.set(plugin, s);
    }
    let drop = 0;
    while (drop < s.times.length && s.times[drop]! <= now - HOUR) drop++;
    if (drop) s.times.splice(0, drop);
    if (lim.identicalPromptCooldownMs > 0) {
      for (const [k, t] of s.recent) if (t <= now - lim.identicalPromptCooldownMs) s.recent.delete(k);
    } else s.recent.clear();

    const key = createHash('sha1').update(prompt).digest('base64');
    const last = s.recent.get(key);
    if (last !== undefined) {
      const retryAfterMs = last + lim.identicalPromptCooldownMs - now;
      return {
        ok: false,
        reason: 'identical_prompt',
        retryAfterMs,
        message: `The plugin ${plugin} sent the same prompt ${Math.round((now - last) / 1000)} s ago; identical prompts are refused for ${Math.round(lim.identicalPromptCooldownMs / 1000)} s (invoker.rateLimit.identicalPromptCooldownMs). Vary the prompt, or wait ${Math.ceil(retryAfterMs / 1000)} s.`,
      };
    }
    if (lim.promptsPerMinute > 0) {
      let inMinute = 0;
      for (let i = s.times.length - 1; i >= 0 && s.times[i]! > now - MINUTE; i--) inMinute++;
      if (inMinute >= lim.promptsPerMinute) {
        const oldest = s.times[s.times.length - inMinute]!;
        const retryAfterMs = oldest + MINUTE - now;
        return {
          ok: false,
          reason: 'per_minute',
          retryAfterMs,
          message: `The plugin ${plugin} has sent ${inMinute} prompts in the last minute, its limit (invoker.rateLimit.promptsPerMinute = ${lim.promptsPerMinute}); the prompt was not sent. Throttle the plugin or raise the limit; retry in ${Math.ceil(retryAfterMs / 1000)} s.`,
        };
      }
    }
    if (lim.promptsPerHour > 0 && s.times.length >= lim.promptsPerHour) {
      const retryAfterMs = s.times[s.times.length - lim.promptsPerHour]! + HOUR - now;
      return {
        ok: false,
        reason: 'per_hour',
        retryAfterMs,
        message: `The plugin ${plugin} has sent ${s.times.length} prompts in the last hour, its limit (invoker.rateLimit.promptsPerHour = ${lim.promptsPerHour}); the prompt was not sent. Throttle the plugin or raise the limit; retry in ${Math.ceil(retryAfterMs / 60000)} min.`,
      };
    }
    s.times.push(now);
    if (lim.identicalPromptCooldownMs > 0) s.recent.set(key, now);
    return { ok: true };
  }
}
