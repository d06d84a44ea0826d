/**
 * The daemon's side of the admin HTTP API: the {@link DaemonApi} that daemon/http talks to, put
 * together from the parts' own status (plugins, sources, database, model) and their entry points
 * (ingest through the http source, actions and prompts through the invoker, metrics).
 */
import { readFileSync } from 'node:fs';
import type { HeimdallConfig } from '../config/types.js';
import type { BifrostApi } from './bifrost/types.js';
import type { DaemonApi, DaemonStatus, Readiness } from './http/daemon-api.js';
import type { ReloadApi, RulesApi } from './http/rules-api.js';
import type { ActionRegistry } from './invoker/action-registry.js';
import type { Invoker } from './invoker/invoker.js';
import type { MetricsHistoryApi } from './http/routes-history.js';
import type { IngestResult } from './sources/http-source.js';
import type { SourceStatus } from './sources/source.js';
import type { PluginStatus } from './workers/plugin-status.js';

const VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

export interface AdminApiParts {
  config: Pick<HeimdallConfig, 'database' | 'llm'>;
  /** The daemon's own state (starting, running, draining, stopped). */
  state: () => DaemonStatus['state'];
  startedAt: Date;
  plugins: { statuses(): PluginStatus[] };
  sources: { statuses(): SourceStatus[]; ingest(items: readonly unknown[], source?: string): IngestResult };
  /** The database router, when one is configured. */
  db: { readonly connected: boolean; readonly lastError: string | undefined } | undefined;
  registry: Pick<ActionRegistry, 'list'>;
  invoker: Pick<Invoker, 'invokeAction' | 'sendPrompt' | 'listInvocations' | 'getInvocation' | 'submit'>;
  metrics: { render(): Promise<{ contentType: string; body: string }> };
  bifrost: BifrostApi;
  rules?: RulesApi;
  reload?: ReloadApi;
  /** The sampled counter history of the console's charts. */
  metricsHistory?: MetricsHistoryApi;
}

/** Why each part that should be up is not, as sentences; empty when the daemon is ready. */
export function notReadyReasons(p: Pick<AdminApiParts, 'config' | 'state' | 'plugins' | 'sources' | 'db'>): string[] {
  const reasons: string[] = [];
  const state = p.state();
  if (state !== 'running') reasons.push(`The daemon is ${state}.`);
  for (const h of p.plugins.statuses()) if (h.state !== 'running') reasons.push(`The plugin ${h.name} is ${h.state}${h.reason ? `: ${h.reason}` : '.'}`);
  for (const s of p.sources.statuses()) if (s.state !== 'running') reasons.push(`The source ${s.name} is ${s.state}${s.reason ? `: ${s.reason}` : '.'}`);
  if (p.db && !p.db.connected) reasons.push(`The database at ${p.config.database!.uri} is not reachable: ${p.db.lastError ?? 'not connected yet'}.`);
  return reasons;
}

export function createAdminApi(p: AdminApiParts): DaemonApi {
  const { config, db, invoker } = p;
  return {
    readiness(): Readiness {
      const reasons = notReadyReasons(p);
      return { ready: reasons.length === 0, reasons };
    },
    status(): DaemonStatus {
      return {
        version: VERSION,
        startedAt: p.startedAt.toISOString(),
        uptimeS: Math.round((Date.now() - p.startedAt.getTime()) / 1000),
        state: p.state(),
        plugins: p.plugins.statuses(),
        sources: p.sources.statuses(),
        database: db ? { configured: true, connected: db.connected, uri: config.database!.uri, ...(db.lastError ? { reason: db.lastError } : {}) } : { configured: false, connected: false },
        llm: config.llm ? { configured: true, model: config.llm.model, baseURL: config.llm.baseURL } : { configured: false },
        ...(p.rules ? { rules: p.rules.summary() } : {}),
      };
    },
    plugins: () => p.plugins.statuses(),
    actions: () => p.registry.list(),
    ingest: (items, source) => p.sources.ingest(items, source),
    invokeAction: (name, params, trigger) => invoker.invokeAction(name, params, trigger),
    prompt: (prompt, opts) => invoker.sendPrompt(prompt, opts, { kind: 'operator' }),
    metrics: () => p.metrics.render(),
    bifrost: p.bifrost,
    ...(p.metricsHistory ? { metricsHistory: p.metricsHistory } : {}),
    invocations: { list: (f) => invoker.listInvocations(f), get: (id) => invoker.getInvocation(id), submit: (req) => invoker.submit(req) },
    ...(p.rules ? { rules: p.rules } : {}),
    ...(p.reload ? { reload: p.reload } : {}),
  };
}
