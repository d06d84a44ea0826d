/**
 * Retries with backoff on the engine's clock: attempt, wait, attempt again, up to
 * `maxAttempts` in all. The delay before retry n (n = 1 for the second attempt) is
 * initialDelayMs for 'fixed', initialDelayMs * 2^(n-1) for 'exponential', at most maxDelayMs.
 */
import { sleep, type Clock } from './clock.js';
import type { RetryPolicy } from './types.js';

/** Delay before retry `n` (1-based: n = 1 is the wait before the second attempt). */
export function retryDelay(policy: RetryPolicy, n: number): number {
  const d = policy.backoff === 'fixed' ? policy.initialDelayMs : policy.initialDelayMs * 2 ** (n - 1);
  return Math.min(policy.maxDelayMs, d);
}

export type RetryOutcome<T> =
  | { ok: true; value: T; attempts: number; errors: string[] }
  | { ok: false; error: string; attempts: number; errors: string[] };

/**
 * Runs `attempt` until it resolves or the attempts are used up. `onRetry` is told before each
 * wait (with the error that caused it and the delay). Never throws.
 */
export async function withRetry<T>(
  policy: RetryPolicy,
  clock: Clock,
  attempt: (n: number) => Promise<T>,
  onRetry?: (info: { attempt: number; error: string; delayMs: number }) => void,
): Promise<RetryOutcome<T>> {
  const errors: string[] = [];
  for (let n = 1; ; n++) {
    try {
      const value = await attempt(n);
      return { ok: true, value, attempts: n, errors };
    } catch (err) {
      const msg = errorText(err);
      errors.push(msg);
      if (n >= policy.maxAttempts) return { ok: false, error: msg, attempts: n, errors };
      const delayMs = retryDelay(policy, n);
      onRetry?.({ attempt: n, error: msg, delayMs });
      await sleep(clock, delayMs);
    }
  }
}

/** One line of text for an error of any kind. */
export function errorText(err: unknown): string {
  if (err instanceof Error) {
    const cause = (err as Error & { cause?: unknown }).cause;
    const extra = cause instanceof Error && cause.message && !err.message.includes(cause.message) ? ` (${cause.message})` : '';
    return `${err.message}${extra}`.split('\n')[0]!;
  }
  return String(err);
}
