/**
 * The chain of actions calling actions, and its bound (limits.actions.maxDepth).
 *
 * Inside the daemon the chain travels in an AsyncLocalStorage: whatever runs on behalf of an action
 * (a built-in's work, a prompt's tool calls, an async invocation queued from it — the invoker
 * captures the chain when it queues one) sees the chain that led to it. Across a plugin worker it
 * travels in the host contract: the `invoke` message carries the chain to the worker, the calls the
 * action makes (ctx.heimdall.* from its actx) carry it back, and the host's dispatcher re-enters it
 * here. The registry refuses an action when the chain is already maxDepth actions long, naming the
 * chain, and says so when the chain loops (a cycle between two plugins ends the same way).
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { InvocationDepthError } from '../../sdk/index.js';
import { heimdallConfigSchema } from '../../config/schema.js';

export interface ActionLimits {
  /** Most actions in one chain. */
  maxDepth: number;
  /** Largest ActionResult as UTF-8 JSON, bytes. */
  maxResultBytes: number;
}

const D = heimdallConfigSchema.properties.limits.properties.actions.properties;

/** The defaults of limits.actions (from the config schema). */
export const DEFAULT_ACTION_LIMITS: Readonly<ActionLimits> = Object.freeze({ maxDepth: D.maxDepth.default, maxResultBytes: D.maxResultBytes.default });

const store = new AsyncLocalStorage<readonly string[]>();

/** The chain of actions the current code runs on behalf of (outermost first); empty at the top. */
export function currentChain(): readonly string[] {
  return store.getStore() ?? [];
}

/** Runs `fn` on behalf of `chain`. */
export function runInChain<T>(chain: readonly string[], fn: () => T): T {
  return store.run(chain, fn);
}

/** A chain as it came from a worker: a short array of strings, or nothing. */
export function sanitizeChain(raw: unknown, maxDepth: number): string[] {
  if (!Array.isArray(raw)) return [];
  // A chain longer than the limit is refused anyway; keep one more than it so the refusal says so.
  return raw.slice(0, maxDepth + 1).map((x) => String(x).slice(0, 200));
}

/** Throws InvocationDepthError when running `action` after `chain` would pass `maxDepth`. */
export function checkDepth(action: string, chain: readonly string[], maxDepth: number): void {
  if (chain.length < maxDepth) return;
  const shown = [...chain, action].join(' → ');
  const loop = chain.includes(action);
  throw new InvocationDepthError(
    `The action ${action} was not run: it would be call number ${chain.length + 1} in the chain ${shown}, and limits.actions.maxDepth allows ${maxDepth}. ` +
      (loop
        ? `The chain loops (${action} is already in it): the actions call each other; break the cycle.`
        : 'Make the actions call fewer actions in a row, or raise limits.actions.maxDepth.'),
    { chain: [...chain], maxDepth, action },
  );
}
