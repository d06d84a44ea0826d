/**
 * The rules' step of a reload (daemon/reload.ts): the rules of the new config reach the running
 * rules plugin through its `reload` action, without a restart and without touching its queue.
 * Rules that did not change keep their windows, cooldowns, statistics and history; changed ones
 * keep their statistics and history and start their gates afresh; removed ones go; added ones
 * start from zero. rulesEngine: (queue, limits, files) takes effect after a restart, and so does
 * a first rule when the daemon started with none (the plugin is started only when rules: or
 * rulesPath: is set at start).
 */
import type { HeimdallConfig } from '../../config/types.js';
import { canonicalJson } from '../../plugins/rules/reload.js';
import type { ReloadReport } from '../http/rules-api.js';
import { rulesEngineWanted } from './plugin-entry.js';
import type { RulesService } from './rules-service.js';

export interface RulesStepResult {
  applied: string[];
  restartRequired: Array<{ key: string; reason: string }>;
  rules?: ReloadReport['rules'];
  notes?: string[];
}

export function rulesReloadStep(service: Pick<RulesService, 'configured' | 'apply'>) {
  return {
    keys: ['rules', 'rulesPath', 'rulesEngine'] as const,
    async apply(next: HeimdallConfig, running: HeimdallConfig): Promise<RulesStepResult> {
      const out: RulesStepResult = { applied: [], restartRequired: [], notes: [] };
      if (!service.configured) {
        if (rulesEngineWanted(next)) {
          out.restartRequired.push({ key: 'rules', reason: 'The rules engine was not started, because no rules were configured when the daemon started; restart the daemon to start it (with rulesPath: set it keeps running for later reloads).' });
        }
        return out;
      }
      if (canonicalJson(running.rulesEngine) !== canonicalJson(next.rulesEngine)) {
        out.restartRequired.push({ key: 'rulesEngine', reason: 'The rules engine settings (queue, limits, files) take effect after a restart; the rules themselves were reloaded.' });
      }
      const set = next.ruleSet ?? { rules: [], origins: [], problems: [], invalid: [], files: [] };
      const change = await service.apply(set);
      out.applied.push('rules');
      if (running.rulesPath !== next.rulesPath) out.applied.push('rulesPath');
      out.rules = { added: change.added, changed: change.changed, removed: change.removed, unchanged: change.unchanged, droppedDebounced: change.droppedDebounced, files: [...set.files] };
      if (change.pending) out.notes!.push(change.pending);
      if (change.droppedDebounced > 0) out.notes!.push(`${change.droppedDebounced} debounced firing${change.droppedDebounced === 1 ? ' was' : 's were'} dropped with the changed or removed rules.`);
      if (!rulesEngineWanted(next)) out.notes!.push('No rules are configured any more; the rules plugin keeps running, with none, until the next restart.');
      return out;
    },
  };
}
