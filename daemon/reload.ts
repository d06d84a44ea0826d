/**
 * Reload without a restart (POST /v1/reload, SIGHUP, `heimdall reload`, `heimdall dev`): the
 * config file and the rule files are read again and checked as `heimdall validate` checks them,
 * then every step checks what it would start (the plugins step loads each added or changed plugin
 * in a one-shot worker and checks its config against its configSchema). An invalid config is
 * refused with every problem (a ConfigError) before anything is applied, and the running one stays
 * as it was. A valid one is compared with the running config key by key: each step applies the
 * keys it owns, and every other changed key is reported as needing a restart.
 *
 * Steps: the rules (daemon/rules/reload-step.ts: rules:, rulesPath: and rulesEngine:) and the
 * plugins (daemon/plugin-reload-step.ts: plugins:). Reloads run one at a time, in the order asked.
 */
import type { Logger } from 'pino';
import type { ConfigIssue } from '../config/errors.js';
import { ConfigError, loadConfig } from '../config/loader.js';
import type { HeimdallConfig } from '../config/types.js';
import { canonicalJson } from '../plugins/rules/reload.js';
import { ErrorCode, HeimdallError } from '../sdk/errors.js';
import type { ReloadApi, ReloadReport } from './http/rules-api.js';

/** What one step did. */
export interface StepResult {
  applied: string[];
  restartRequired: Array<{ key: string; reason: string }>;
  rules?: ReloadReport['rules'];
  plugins?: ReloadReport['plugins'];
  /** Sentences for the report. */
  notes?: string[];
}

export interface ReloadStep {
  /** Top-level config keys this step applies. */
  readonly keys: readonly string[];
  /** The problems of the next config this step would meet (checked before any step applies); none by default. */
  check?(next: HeimdallConfig, running: HeimdallConfig): Promise<ConfigIssue[]>;
  /** Applies what changed in `keys` between the running and the next config. */
  apply(next: HeimdallConfig, running: HeimdallConfig): Promise<StepResult>;
}

/** Why a changed key is not applied, where there is more to say than "restart". */
const RESTART_REASONS: Record<string, string> = {
  sources: 'Sources take effect after a restart.',
  server: 'The admin API keeps its address and token until a restart.',
};

/** Keys set by the loader, not written in the file. */
const DERIVED = new Set(['configPath', 'baseDir', 'ruleSet']);

export interface ReloaderOptions {
  /** The config the daemon started with. */
  config: HeimdallConfig;
  steps: ReloadStep[];
  log: Pick<Logger, 'info' | 'warn' | 'error'>;
  env?: Record<string, string | undefined>;
  /** Told about every config that loaded, before anything about it is logged (the daemon's scrubber learns its secrets). */
  onLoaded?: (next: HeimdallConfig) => void;
}

export class Reloader implements ReloadApi {
  private running: HeimdallConfig;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly o: ReloaderOptions) {
    this.running = o.config;
  }

  /** The config in force now (the start config with what reloads applied). */
  get config(): HeimdallConfig {
    return this.running;
  }

  reload(trigger: string): Promise<ReloadReport> {
    const run = this.queue.then(() => this.once(trigger));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async once(trigger: string): Promise<ReloadReport> {
    const file = this.running.configPath;
    if (!file) {
      throw new HeimdallError(ErrorCode.HMD_ERR_CONFLICT, 'Heimdall was started without a config file, so there is nothing to read again; start it with --config FILE to use reload.');
    }
    let next: HeimdallConfig;
    try {
      next = loadConfig(file, this.o.env ?? process.env);
      // before the steps' checks: a plugin's configSchema problem may quote a secret of the new config
      this.o.onLoaded?.(next);
      const issues: ConfigIssue[] = [];
      for (const step of this.o.steps) if (step.check) issues.push(...(await step.check(next, this.running)));
      if (issues.length > 0) throw new ConfigError(issues, file);
    } catch (err) {
      if (err instanceof ConfigError) {
        this.o.log.error({ errors: err.errors }, `The reload (${trigger}) was refused: ${err.errors.length === 1 ? 'the config has a problem' : `the config has ${err.errors.length} problems`}, and the running config stays.\n${err.format()}`);
      }
      throw err;
    }
    const report: ReloadReport = { file, at: new Date().toISOString(), applied: [], restartRequired: [], message: '' };
    const notes: string[] = [];
    const owned = new Set<string>();
    let running = this.running;
    for (const step of this.o.steps) {
      for (const k of step.keys) owned.add(k);
      const r = await step.apply(next, running);
      report.applied.push(...r.applied);
      report.restartRequired.push(...r.restartRequired);
      if (r.rules) report.rules = r.rules;
      if (r.plugins) report.plugins = r.plugins;
      notes.push(...(r.notes ?? []));
      // what a step applied is in force from now on
      running = { ...running, ...Object.fromEntries(r.applied.map((k) => [k, (next as Record<string, unknown>)[k]])), ...(r.applied.includes('rules') ? { ruleSet: next.ruleSet } : {}) } as HeimdallConfig;
    }
    this.running = running;
    const keys = new Set([...Object.keys(this.running), ...Object.keys(next)]);
    for (const k of keys) {
      if (DERIVED.has(k) || owned.has(k)) continue;
      if (canonicalJson((this.running as Record<string, unknown>)[k]) === canonicalJson((next as Record<string, unknown>)[k])) continue;
      report.restartRequired.push({ key: k, reason: RESTART_REASONS[k] ?? `Changes to ${k}: take effect after a restart.` });
    }
    report.message = describe(report, notes);
    this.o.log.info({ trigger, applied: report.applied, rules: report.rules, plugins: report.plugins, restartRequired: report.restartRequired }, report.message);
    return report;
  }
}

function describe(r: ReloadReport, notes: string[]): string {
  const parts: string[] = [`Reloaded ${r.file}.`];
  if (r.rules) {
    const x = r.rules;
    const list = (n: string[], what: string) => `${n.length} ${what}${n.length ? ` (${n.join(', ')})` : ''}`;
    const any = x.added.length + x.changed.length + x.removed.length > 0;
    parts.push(any ? `Rules: ${list(x.added, 'added')}, ${list(x.changed, 'changed')}, ${list(x.removed, 'removed')}, ${x.unchanged.length} unchanged.` : `Rules: none changed (${x.unchanged.length}).`);
  }
  const p = r.plugins;
  // the plugins are mentioned when one of them was started, stopped or restarted
  if (p && p.added.length + p.removed.length + p.restarted.length > 0) {
    const list = (n: string[], what: string) => `${n.length} ${what}${n.length ? ` (${n.join(', ')})` : ''}`;
    parts.push(`Plugins: ${list(p.added, 'added')}, ${list(p.removed, 'removed')}, ${list(p.restarted, 'restarted')}, ${p.unchanged.length} unchanged.`);
  }
  parts.push(...notes);
  if (r.restartRequired.length > 0) parts.push(`Not applied until a restart: ${r.restartRequired.map((x) => `${x.key} (${x.reason.replace(/\.$/, '')})`).join('; ')}.`);
  else if (!r.rules && r.applied.length === 0 && parts.length === 1) parts.push('Nothing changed.');
  return parts.join(' ');
}
