/**
 * The action registry: `heimdall.<plugin>.<action>` for plugin actions (added when a plugin is
 * ready, removed when it stops or fails) plus built-ins run in the host. Params schemas are
 * compiled once with ajv and checked on every call; every call has a deadline, a place in a chain
 * of actions bounded by limits.actions.maxDepth (invocation-chain.ts), and a result of at most
 * limits.actions.maxResultBytes.
 */
import { randomUUID } from 'node:crypto';
import type { Ajv2020 } from 'ajv/dist/2020.js';
import {
  ActionNotFoundError,
  ActionTimeoutError,
  ActionFailedError,
  ResultTooLargeError,
  type ActionResult,
  type ActionTrigger,
  type JsonSchema,
} from '../../sdk/index.js';
import type { RemediationConfig } from '../../config/types.js';
import { checkParams, compileParams, createParamsAjv, type ParamsValidator } from '../../sdk/checks/params.js';
import { closestNames } from './closest-names.js';
import { DEFAULT_ACTION_LIMITS, checkDepth, currentChain, runInChain, type ActionLimits } from './invocation-chain.js';

/** One registered action, as /v1/actions, `heimdall actions` and the model's catalogue show it. */
export interface ActionInfo {
  name: string;
  /** The plugin that provides it; null for built-ins. */
  plugin: string | null;
  description: string;
  params: JsonSchema;
  destructive: boolean;
  timeoutMs: number;
}

/** An action as a plugin declares it (the short name, without `heimdall.<plugin>.`). */
export interface PluginActionDeclaration {
  name: string;
  description: string;
  params: JsonSchema;
  destructive: boolean;
  timeoutMs?: number;
}

/** Runs a plugin's actions (the plugin host satisfies it: its worker runs them). */
export interface ActionRunner {
  readonly name: string;
  /** The plugin's override of the remediation policy. */
  readonly remediation?: Partial<RemediationConfig> | undefined;
  invoke(action: string, params: Record<string, unknown>, invocationId: string, trigger: ActionTrigger, timeoutMs: number, extras?: { chain: string[]; maxResultBytes: number }): Promise<ActionResult>;
}

/** A built-in action, run in the daemon process. */
export interface BuiltinAction {
  description: string;
  params?: JsonSchema;
  destructive?: boolean;
  timeoutMs?: number;
  run(params: Record<string, unknown>, call: { invocationId: string; trigger: ActionTrigger; signal: AbortSignal }): Promise<ActionResult> | ActionResult;
}

interface Entry {
  info: ActionInfo;
  validate: ParamsValidator;
  runner?: ActionRunner;
  shortName?: string;
  builtin?: BuiltinAction;
}

export interface InvokeOptions {
  trigger: ActionTrigger;
  invocationId?: string;
  /** The actions that led to this call (default: the chain the caller runs in). */
  chain?: readonly string[];
}

export class ActionRegistry {
  private readonly entries = new Map<string, Entry>();
  private readonly ajv: Ajv2020;
  readonly limits: ActionLimits;

  constructor(private readonly defaultTimeoutMs: number, limits: Partial<ActionLimits> = {}) {
    this.limits = { ...DEFAULT_ACTION_LIMITS, ...limits };
    // The same settings as the testing kit's (sdk/checks/params.ts).
    this.ajv = createParamsAjv();
  }

  private compile(name: string, schema: JsonSchema): ParamsValidator {
    return compileParams(this.ajv, name, schema);
  }

  registerBuiltin(name: string, a: BuiltinAction): void {
    const params = a.params ?? { type: 'object', additionalProperties: false };
    this.entries.set(name, {
      info: { name, plugin: null, description: a.description, params, destructive: a.destructive === true, timeoutMs: a.timeoutMs ?? this.defaultTimeoutMs },
      validate: this.compile(name, params),
      builtin: a,
    });
  }

  /** Registers a plugin's actions (replacing any earlier registration of the same plugin). */
  registerPlugin(runner: ActionRunner, actions: readonly PluginActionDeclaration[]): void {
    this.unregisterPlugin(runner.name);
    for (const a of actions) {
      const name = `heimdall.${runner.name}.${a.name}`;
      this.entries.set(name, {
        info: { name, plugin: runner.name, description: a.description, params: a.params, destructive: a.destructive, timeoutMs: a.timeoutMs ?? this.defaultTimeoutMs },
        validate: this.compile(name, a.params),
        runner,
        shortName: a.name,
      });
    }
  }

  unregisterPlugin(plugin: string): void {
    for (const [k, e] of this.entries) if (e.info.plugin === plugin) this.entries.delete(k);
  }

  /** Removes the actions `runner` registered, and only those (another plugin may have taken the name since). */
  unregisterRunner(runner: ActionRunner): void {
    for (const [k, e] of this.entries) if (e.runner === runner) this.entries.delete(k);
  }

  list(): ActionInfo[] {
    return [...this.entries.values()].map((e) => e.info).sort((a, b) => a.name.localeCompare(b.name));
  }

  get(name: string): ActionInfo | undefined {
    return this.entries.get(name)?.info;
  }

  /** The remediation override of a plugin that has registered actions. */
  pluginRemediation(plugin: string): Partial<RemediationConfig> | undefined {
    for (const e of this.entries.values()) if (e.info.plugin === plugin && e.runner) return e.runner.remediation;
    return undefined;
  }

  /** Finds the action or throws ActionNotFoundError with the closest names. */
  private lookup(name: string): Entry {
    const e = this.entries.get(name);
    if (e) return e;
    const suggestions = closestNames(name, [...this.entries.keys()]);
    const hint = suggestions.length ? ` Did you mean ${suggestions.join(', ')}?` : ' Run `heimdall actions` to list them.';
    throw new ActionNotFoundError(`No action is registered as ${JSON.stringify(name)}.${hint}`, { action: name, suggestions });
  }

  /** The closest registered names to a misspelt one. */
  suggest(name: string): string[] {
    return closestNames(name, [...this.entries.keys()]);
  }

  /**
   * Looks the action up and validates (a copy of) its params, applying schema defaults.
   * Throws ActionNotFoundError (with suggestions) or InvalidParamsError (with the failing paths).
   */
  check(name: string, params: Record<string, unknown> | undefined): { info: ActionInfo; params: Record<string, unknown> } {
    const e = this.lookup(name);
    return { info: e.info, params: checkParams(name, e.validate, params) };
  }

  /** Validates params and runs the action within its deadline. */
  async invoke(name: string, params: Record<string, unknown> | undefined, opts: InvokeOptions): Promise<ActionResult> {
    const { params: p } = this.check(name, params);
    return this.run(name, p, opts);
  }

  /** Runs an action whose params {@link check} has already validated. */
  async run(name: string, p: Record<string, unknown>, opts: InvokeOptions): Promise<ActionResult> {
    const e = this.lookup(name);
    const chain = opts.chain ?? currentChain();
    checkDepth(name, chain, this.limits.maxDepth);
    const next = [...chain, name];
    const invocationId = opts.invocationId ?? randomUUID();
    if (e.runner) {
      const r = await e.runner.invoke(e.shortName!, p, invocationId, opts.trigger, e.info.timeoutMs, { chain: next, maxResultBytes: this.limits.maxResultBytes });
      return this.checkSize(name, r);
    }
    return this.checkSize(name, await this.runBuiltin(name, e, p, invocationId, opts.trigger, next));
  }

  /** Refuses a result larger than limits.actions.maxResultBytes (or one that is not JSON). */
  private checkSize(name: string, r: ActionResult): ActionResult {
    let bytes: number;
    try {
      bytes = Buffer.byteLength(JSON.stringify(r) ?? '', 'utf8');
    } catch (err) {
      throw new ActionFailedError(`The action ${name} returned a result that cannot be turned into JSON: ${(err as Error).message}`);
    }
    const max = this.limits.maxResultBytes;
    if (bytes > max) {
      throw new ResultTooLargeError(`The action ${name} returned ${bytes} bytes of JSON, more than limits.actions.maxResultBytes (${max}); return less (page or summarise the data) or raise the limit.`, { action: name, maxBytes: max, bytes });
    }
    return r;
  }

  private async runBuiltin(name: string, e: Entry, p: Record<string, unknown>, invocationId: string, trigger: ActionTrigger, chain: string[]): Promise<ActionResult> {
    const ac = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        runInChain(chain, () => Promise.resolve(e.builtin!.run(p, { invocationId, trigger, signal: ac.signal }))),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => {
            const err = new ActionTimeoutError(`The action ${name} did not finish within ${e.info.timeoutMs} ms.`, { invocationId });
            ac.abort(err);
            reject(err);
          }, e.info.timeoutMs);
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }
}
