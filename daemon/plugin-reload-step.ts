/**
 * The plugins' step of a reload (daemon/reload.ts): the plugins[] of the new config against the
 * running plugins, matched by module file. Before anything is applied, every entry that would
 * start (added, or changed) is checked as `heimdall validate` checks it (its module loads in a
 * one-shot worker, its definition is valid, its config matches its configSchema, no two plugins
 * share a name); a problem refuses the whole reload. Then added plugins start, removed ones drain
 * and stop, changed ones (their entry or its config differs) restart with fresh state and keep
 * their queue, and unchanged ones keep running with their queue and counters (PluginSet.apply).
 */
import type { ConfigIssue } from '../config/errors.js';
import type { HeimdallConfig } from '../config/types.js';
import { canonicalJson } from '../plugins/rules/reload.js';
import type { ValidatePluginsOptions } from './plugin-check.js';
import type { PluginSet } from './plugin-set.js';
import type { ReloadStep, StepResult } from './reload.js';

export interface PluginsStepDeps {
  plugins: Pick<PluginSet, 'plan' | 'apply'>;
  /** Checks entries of a config (plugin-check.ts validatePlugins). */
  check(config: HeimdallConfig, file: string, opts: ValidatePluginsOptions): Promise<ConfigIssue[]>;
}

export function pluginsReloadStep(deps: PluginsStepDeps): ReloadStep {
  return {
    keys: ['plugins'],
    async check(next: HeimdallConfig): Promise<ConfigIssue[]> {
      const plan = deps.plugins.plan(next.plugins, next.baseDir);
      const starting = new Set(plan.entries.filter((e) => e.kind === 'added' || e.kind === 'changed').map((e) => e.index));
      if (starting.size === 0 || !next.configPath) return [];
      const knownNames = new Map(plan.entries.filter((e) => e.kind === 'unchanged').map((e) => [e.index, e.host!.name] as const));
      return deps.check(next, next.configPath, { only: (i) => starting.has(i), knownNames });
    },
    async apply(next: HeimdallConfig, running: HeimdallConfig): Promise<StepResult> {
      const c = await deps.plugins.apply(next.plugins, next.baseDir);
      return {
        applied: canonicalJson(running.plugins) === canonicalJson(next.plugins) ? [] : ['plugins'],
        restartRequired: [],
        plugins: { added: c.added, removed: c.removed, restarted: c.restarted, unchanged: c.unchanged },
        notes: c.notes,
      };
    },
  };
}
