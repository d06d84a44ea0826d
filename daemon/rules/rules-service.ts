/**
 * The daemon's side of the rules: what the HTTP routes, the CLI (through them), status and reload
 * reach the rules plugin with. Every read and change is one of the plugin's actions
 * (heimdall.rules.<action>) invoked as an operator; their failures become HeimdallErrors whose
 * codes give the HTTP status: an unknown rule or dead letter is NOT_FOUND, a disabled rule is
 * CONFLICT, a test event that is not an event is INVALID_EVENT, and a rules plugin that is not
 * running (starting, restarting, failed, stopped) is PLUGIN_UNAVAILABLE.
 *
 * The daemon also knows the rules itself (it compiled them when it read the config), so status and
 * the list name a broken rule with its file and line even while the plugin is down.
 */
import type { Logger } from 'pino';
import type { RuleSet } from '../../config/rule-set.js';
import { canonicalJson, type ReloadSummary } from '../../plugins/rules/reload.js';
import { ErrorCode, HeimdallError, PluginUnavailableError, type ActionResult, type ActionTrigger } from '../../sdk/index.js';
import type { InvalidRuleInfo, RulesAnswer, RulesApi, RulesSummary } from '../http/rules-api.js';
import { checkEvent } from '../router/event-validator.js';
import type { PluginHost } from '../workers/plugin-host.js';
import { RULES_PLUGIN, type RulesSlice } from './plugin-entry.js';

export interface RulesServiceOptions {
  /** The plugin's slice when the daemon runs the rules plugin; undefined when no rules are configured. */
  slice: RulesSlice | undefined;
  ruleSet: RuleSet | undefined;
  /** The rules plugin's host, when it exists. */
  host: () => PluginHost | undefined;
  invokeAction: (name: string, params: Record<string, unknown>, trigger: ActionTrigger) => Promise<ActionResult>;
  /** Default database of test events. */
  database: string;
  /** The config file, to name it in log lines. */
  configFile?: string;
  log: Pick<Logger, 'info' | 'warn' | 'error'>;
}

/** What a reload did to the rules. */
export type RulesChange = Omit<ReloadSummary, 'events' | 'invalid'> & { pending?: string };

const EMPTY_SET: RuleSet = { rules: [], origins: [], problems: [], invalid: [], files: [] };
const OPERATOR: ActionTrigger = { kind: 'operator' };

/** How a failed action's reason becomes an error code. */
const CODE_BY_REASON: Record<string, ErrorCode> = {
  no_such_rule: ErrorCode.HMD_ERR_NOT_FOUND,
  invalid_rule: ErrorCode.HMD_ERR_NOT_FOUND,
  no_such_dead_letter: ErrorCode.HMD_ERR_NOT_FOUND,
  disabled: ErrorCode.HMD_ERR_CONFLICT,
  not_started: ErrorCode.HMD_ERR_PLUGIN_UNAVAILABLE,
  refused: ErrorCode.HMD_ERR_POLICY_DENIED,
};

export class RulesService implements RulesApi {
  private ruleSet: RuleSet;

  constructor(private readonly o: RulesServiceOptions) {
    this.ruleSet = o.ruleSet ?? EMPTY_SET;
  }

  /** Logs each problem of the rules the daemon started with (they are left out; the others run). */
  reportProblems(): void {
    for (const p of this.ruleSet.problems) {
      const at = `${p.file ?? this.o.configFile ?? '<config>'}:${p.line ?? 1}:${p.column ?? 1}`;
      this.o.log.error({ path: p.path }, `${at} ${p.message} The rule is left out and the other rules run; \`heimdall validate\` lists every problem.`);
    }
  }

  /** Whether the daemon runs the rules plugin. */
  get configured(): boolean {
    return this.o.slice !== undefined;
  }

  summary(): RulesSummary {
    const host = this.o.host();
    return { configured: this.configured, rules: this.ruleSet.rules.length, invalid: this.invalidRules([]), ...(host ? { state: host.state } : {}) };
  }

  async list(): Promise<RulesAnswer> {
    if (!this.configured) return { message: 'No rules are configured; add rules: or rulesPath: to the config and restart.', configured: false, rules: [], invalid: [] };
    const r = await this.call('list', {});
    const data = r.data as { rules: unknown[]; invalid: Array<{ name: string; errors: Array<{ message: string }> }> };
    return { message: r.message, configured: true, rules: data.rules, invalid: this.invalidRules(data.invalid) };
  }

  show(name: string): Promise<RulesAnswer> {
    return this.answer('show', { name }, name);
  }

  pause(name: string): Promise<RulesAnswer> {
    return this.answer('pause', { name }, name);
  }

  resume(name: string): Promise<RulesAnswer> {
    return this.answer('resume', { name }, name);
  }

  test(name: string, event: unknown): Promise<RulesAnswer> {
    // a copy (checkEvent fills in missing fields), with the id the plugin's dry runs use
    const checked = checkEvent(event === null || typeof event !== 'object' || Array.isArray(event) ? event : { id: 'dry-run', ...event }, { database: this.o.database, source: 'test' });
    if (!checked.ok) {
      throw new HeimdallError(ErrorCode.HMD_ERR_INVALID_EVENT, `The test event is not a valid event: ${checked.reason} Send { "event": { "type": "node.updated", "properties": { … } } }; id, timestamp, database and source may be left out.`, { reason: checked.reason });
    }
    return this.answer('test', { name, event: checked.event }, name);
  }

  history(name: string, limit?: number): Promise<RulesAnswer> {
    return this.answer('history', { name, ...(limit !== undefined ? { limit } : {}) }, name);
  }

  async deadLetters(filter: { rule?: string; limit?: number }): Promise<RulesAnswer> {
    if (!this.configured) return { message: 'No rules are configured, so there are no dead letters.', configured: false, count: 0, entries: [] };
    const r = await this.call('deadLetters', { ...filter });
    return { message: r.message, ...r.data };
  }

  async retryDeadLetter(id: string): Promise<RulesAnswer & { success: boolean }> {
    if (!this.configured) throw new HeimdallError(ErrorCode.HMD_ERR_NOT_FOUND, `There is no dead letter with id ${id}: no rules are configured.`, { id });
    const r = await this.call('retryDeadLetter', { id }, ['retry_failed']);
    return { success: r.success, message: r.message, ...r.data };
  }

  /**
   * Hands a reloaded rule set to the running plugin (its `reload` action keeps the state of the
   * rules that did not change). Called by the reloader with a valid set only.
   */
  async apply(next: RuleSet): Promise<RulesChange> {
    const slice = this.o.slice!;
    const names = (set: readonly unknown[]): string[] => set.map((r) => String((r as { name?: unknown })?.name));
    if (canonicalJson(slice.rules) === canonicalJson(next.rules)) {
      this.ruleSet = next;
      return { added: [], changed: [], removed: [], unchanged: names(next.rules), droppedDebounced: 0 };
    }
    const host = this.o.host();
    if (!host || (host.state !== 'running' && host.state !== 'draining')) {
      // the next start of the worker reads the slice
      slice.rules = [...next.rules];
      this.ruleSet = next;
      const state = host?.state ?? 'missing';
      return { added: [], changed: [], removed: [], unchanged: [], droppedDebounced: 0, pending: `The rules plugin is ${state}, so the new rules take effect when it starts${state === 'failed' ? ' (it is failed: a restart of the daemon starts it again)' : ''}.` };
    }
    const r = await this.call('reload', { key: slice.reloadKey, rules: next.rules });
    const s = r.data as unknown as ReloadSummary;
    slice.rules = [...next.rules];
    this.ruleSet = next;
    setSubscription(host, s.events);
    return { added: s.added, changed: s.changed, removed: s.removed, unchanged: s.unchanged, droppedDebounced: s.droppedDebounced };
  }

  /** The daemon's invalid rules (with file and line) and the plugin's ones it does not know of. */
  private invalidRules(fromPlugin: Array<{ name: string; errors: Array<{ message: string }> }>): InvalidRuleInfo[] {
    const out: InvalidRuleInfo[] = this.ruleSet.invalid.map((i) => ({ name: i.name, at: i.at, problems: [...i.problems] }));
    for (const p of fromPlugin) if (!out.some((o) => o.name === p.name)) out.push({ name: p.name, problems: p.errors.map((e) => e.message) });
    return out;
  }

  private async answer(action: string, params: Record<string, unknown>, name: string): Promise<RulesAnswer> {
    if (!this.configured) throw new HeimdallError(ErrorCode.HMD_ERR_NOT_FOUND, `There is no rule named ${name}: no rules are configured (add rules: or rulesPath: to the config and restart).`, { name });
    const r = await this.call(action, params);
    return { message: r.message, ...r.data };
  }

  /** Invokes heimdall.rules.<action> as an operator; a failure (but those in `allowed`) is thrown as an error with its code. */
  private async call(action: string, params: Record<string, unknown>, allowed: string[] = []): Promise<ActionResult> {
    const host = this.o.host();
    if (!host || (host.state !== 'running' && host.state !== 'draining')) throw this.unavailable(host);
    let r: ActionResult;
    try {
      r = await this.o.invokeAction(`heimdall.${RULES_PLUGIN}.${action}`, params, OPERATOR);
    } catch (err) {
      // between a crash and the restart the plugin's actions are not registered
      if ((err as { code?: unknown }).code === ErrorCode.HMD_ERR_ACTION_NOT_FOUND) throw this.unavailable(this.o.host());
      throw err;
    }
    if (r.success) return r;
    const reason = typeof r.data?.reason === 'string' ? r.data.reason : undefined;
    if (reason !== undefined && allowed.includes(reason)) return r;
    const code = (reason !== undefined ? CODE_BY_REASON[reason] : undefined) ?? ErrorCode.HMD_ERR_ACTION_FAILED;
    const { reason: _r, ...details } = r.data ?? {};
    throw new HeimdallError(code, r.message, { ...details, ...(reason ? { reason } : {}) });
  }

  private unavailable(host: PluginHost | undefined): PluginUnavailableError {
    const state = host?.state ?? 'not started';
    const why = host?.reason ? ` (${host.reason.replace(/\.$/, '')})` : '';
    const todo = state === 'failed' ? ' Fix the cause in its log and restart the daemon.' : ' Retry in a moment.';
    return new PluginUnavailableError(`The rules engine (the built-in plugin ${RULES_PLUGIN}) is ${state}${why}, so the rules cannot be reached.${todo}`, { plugin: RULES_PLUGIN, state });
  }
}

/**
 * The rules plugin's event subscription after a reload. The router asks each host whether it wants
 * an event type (PluginHost.subscribes), and the host answers from what the plugin declared at
 * init (`info.events`). The rules plugin subscribes to the types its enabled rules name, so a
 * reload that adds a rule on another type widens it (one that removes rules may narrow it): the
 * reload action returns the new list and it is put in place of the declared one. A later restart
 * of the worker declares the same list (init compiles the reloaded slice). When PluginHost grows a
 * method to change a subscription, this is the one place to use it. `events` null: every type.
 */
export function setSubscription(host: Pick<PluginHost, 'info'>, events: readonly string[] | null): void {
  const info = host.info;
  if (!info) return;
  if (events === null) delete info.events;
  else info.events = [...events];
}
