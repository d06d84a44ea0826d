/**
 * The ports of the rules, dead-letter and reload routes (routes-rules.ts, routes-reload.ts):
 * what daemon/http needs from the daemon's rules service (daemon/rules/) and its reloader
 * (daemon/reload.ts). Both throw HeimdallErrors whose codes give the HTTP status (404 unknown
 * rule or dead letter, 400 bad test event or invalid config, 409 conflict, 503 rules plugin not
 * running).
 */

/** A rule that has a problem: left out, the others run. */
export interface InvalidRuleInfo {
  /** Its name, or where it is (`rules[3]`) when it has no usable name. */
  name: string;
  /** `file:line:col` of the rule, when the daemon read it from a file. */
  at?: string;
  problems: string[];
}

/** The rules part of GET /v1/status. */
export interface RulesSummary {
  /** Whether the daemon runs its rules plugin (rules: or rulesPath: was set at start). */
  configured: boolean;
  /** Rules handed to the plugin (the invalid ones included; it leaves them out). */
  rules: number;
  invalid: InvalidRuleInfo[];
  /** The rules plugin's state, when configured. */
  state?: string;
}

/** A read of the rules plugin: its answer's data and its sentence. */
export type RulesAnswer = Record<string, unknown> & { message: string };

export interface RulesApi {
  summary(): RulesSummary;
  list(): Promise<RulesAnswer>;
  show(name: string): Promise<RulesAnswer>;
  pause(name: string): Promise<RulesAnswer>;
  resume(name: string): Promise<RulesAnswer>;
  /** Dry run; `event` is checked against the event schema first. */
  test(name: string, event: unknown): Promise<RulesAnswer>;
  history(name: string, limit?: number): Promise<RulesAnswer>;
  deadLetters(filter: { rule?: string; limit?: number }): Promise<RulesAnswer>;
  /** `success: false` when the action failed again (it stays listed). */
  retryDeadLetter(id: string): Promise<RulesAnswer & { success: boolean }>;
}

/** What one reload did. */
export interface ReloadReport {
  /** The config file that was read again. */
  file: string;
  at: string;
  /** What changed in the rules, when the rules engine runs. */
  rules?: { added: string[]; changed: string[]; removed: string[]; unchanged: string[]; droppedDebounced: number; files: string[] };
  /** What the reload did to the plugins of plugins[], by name: started, drained and stopped, restarted with their queue kept, left running. */
  plugins?: { added: string[]; removed: string[]; restarted: string[]; unchanged: string[] };
  /** Config keys whose change was applied. */
  applied: string[];
  /** Changes that were not applied and need a restart of the daemon, each with why. */
  restartRequired: Array<{ key: string; reason: string }>;
  /** One paragraph for logs and the CLI. */
  message: string;
}

export interface ReloadApi {
  /** Re-reads the config file and the rule files; throws a ConfigError (400) when the new config is invalid. */
  reload(trigger: string): Promise<ReloadReport>;
}
