/**
 * The daemon's side of the admin HTTP API: the {@link DaemonApi} that daemon/http talks to, put
 * together from the parts' own status (plugins, sources, database, model) and their entry points
 * (ingest through the http source, actions and prompts through the invoker, metrics).
 */
import { readFileSync } from 'node:fs';
import { redactUrl } from '../config/redact.js';
import type { HeimdallConfig } from '../config/types.js';
import type { BifrostApi } from './bifrost/types.js';
import type { DaemonApi, DaemonStatus, PluginControlApi, QuarantineApi, Readiness } from './http/daemon-api.js';
import type { ReloadApi, RulesApi } from './http/rules-api.js';
import type { ActionRegistry } from './invoker/action-registry.js';
import type { Invoker } from './invoker/invoker.js';
import type { MetricsHistoryApi } from './http/routes-history.js';
import type { IngestResult } from './sources/http-source.js';
import type { SourceStatus } from './sources/source.js';
import type { PluginStatus } from './workers/plugin-status.js';
import type { RouterStats } from './router/router.js';

const VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

export interface AdminApiParts {
  config: Pick<HeimdallConfig, 'database' | 'llm'>;
  /** The daemon's own state (starting, running, draining, stopped). */
  state: () => DaemonStatus['state'];
  startedAt: Date;
  plugins: { statuses(): PluginStatus[] } & Partial<{ quarantined: QuarantineApi['list']; quarantineStats: QuarantineApi['stats']; retryQuarantined: QuarantineApi['retry'] }>;
  /** Restart, pause and resume of one plugin (POST /v1/plugins/{name}/…). */
  pluginControl?: PluginControlApi;
  sources: { statuses(): SourceStatus[]; ingest(items: readonly unknown[], source?: string, texts?: readonly string[]): IngestResult };
  /** The database router, when one is configured. */
  db: { readonly connected: boolean; readonly lastError: string | undefined } | undefined;
  registry: Pick<ActionRegistry, 'list'>;
  invoker: Pick<Invoker, 'invokeAction' | 'sendPrompt' | 'listInvocations' | 'getInvocation' | 'submit'>;
  metrics: { render(): Promise<{ contentType: string; body: string }> };
  bifrost: BifrostApi;
  /** The router's counters (routed, refused over limits.events). */
  router?: { stats(): RouterStats };
  /** Lines the non-blocking log output dropped. */
  logStats?: () => { droppedLines: number; droppedBytes: number };
  rules?: RulesApi;
  reload?: ReloadApi;
  /** The sampled counter history of the console's charts. */
  metricsHistory?: MetricsHistoryApi;
}

/**
 * Readiness. Ready = the daemon is running, every source is running, the database (when one is
 * configured) is reachable, and every plugin is either running or failed for good (its init
 * failed, its module could not be loaded, or it crashed past restart.maxRestarts: nothing will
 * change without an operator, so it does not hold readiness back; it is listed in the reasons of
 * the 200). A plugin still starting or restarting keeps the daemon not ready.
 */
export function readiness(p: Pick<AdminApiParts, 'config' | 'state' | 'plugins' | 'sources' | 'db'>): Readiness {
  const blocking: string[] = [];
  const settled: string[] = [];
  const state = p.state();
  if (state !== 'running') blocking.push(`The daemon is ${state}.`);
  for (const h of p.plugins.statuses()) {
    // A disabled entry is turned off in the config on purpose, a paused one by an operator: neither holds readiness back.
    if (h.state === 'running' || h.state === 'disabled' || h.state === 'paused') continue;
    const why = `The plugin ${h.name} is ${h.state}${h.reason ? `: ${h.reason}` : '.'}`;
    if (h.state === 'failed') settled.push(`${why.replace(/\.$/, '')} (failed for good: fix it and \`heimdall plugins restart ${h.name}\`; it does not hold readiness back).`);
    else blocking.push(why);
  }
  for (const s of p.sources.statuses()) if (s.state !== 'running') blocking.push(`The source ${s.name} is ${s.state}${s.reason ? `: ${s.reason}` : '.'}`);
  if (p.db && !p.db.connected) blocking.push(`The database at ${redactUrl(p.config.database!.uri)} is not reachable: ${p.db.lastError ?? 'not connected yet'}.`);
  return blocking.length > 0 ? { ready: false, reasons: [...blocking, ...settled] } : { ready: true, reasons: settled };
}

/** Why each part that should be up is not, as sentences; empty when the daemon is ready. */
export function notReadyReasons(p: Pick<AdminApiParts, 'config' | 'state' | 'plugins' | 'sources' | 'db'>): string[] {
  const r = readiness(p);
  return r.ready ? [] : r.reasons;
}

export function createAdminApi(p: AdminApiParts): DaemonApi {
  const { config, db, invoker } = p;
  const { quarantined, quarantineStats, retryQuarantined } = p.plugins;
  const quarantine: QuarantineApi | undefined =
    quarantined && quarantineStats && retryQuarantined
      ? { list: (plugin) => quarantined.call(p.plugins, plugin), stats: () => quarantineStats.call(p.plugins), retry: (id) => retryQuarantined.call(p.plugins, id) }
      : undefined;
  return {
    readiness: () => readiness(p),
    status(): DaemonStatus {
      return {
        version: VERSION,
        startedAt: p.startedAt.toISOString(),
        uptimeS: Math.round((Date.now() - p.startedAt.getTime()) / 1000),
        state: p.state(),
        plugins: p.plugins.statuses(),
        sources: p.sources.statuses(),
        database: db ? { configured: true, connected: db.connected, uri: redactUrl(config.database!.uri), ...(db.lastError ? { reason: db.lastError } : {}) } : { configured: false, connected: false },
        llm: config.llm ? { configured: true, model: config.llm.model, baseURL: redactUrl(config.llm.baseURL) } : { configured: false },
        ...(p.router ? { router: p.router.stats() } : {}),
        ...(p.plugins.quarantineStats ? { quarantine: p.plugins.quarantineStats() } : {}),
        ...(p.logStats ? { log: p.logStats() } : {}),
        ...(p.rules ? { rules: p.rules.summary() } : {}),
      };
    },
    plugins: () => p.plugins.statuses(),
    ...(p.pluginControl ? { pluginControl: p.pluginControl } : {}),
    actions: () => p.registry.list(),
    ingest: (items, source, texts) => p.sources.ingest(items, source, texts),
    invokeAction: (name, params, trigger) => invoker.invokeAction(name, params, trigger),
    prompt: (prompt, opts) => invoker.sendPrompt(prompt, opts, { kind: 'operator' }),
    metrics: () => p.metrics.render(),
    bifrost: p.bifrost,
    ...(p.metricsHistory ? { metricsHistory: p.metricsHistory } : {}),
    invocations: { list: (f) => invoker.listInvocations(f), get: (id) => invoker.getInvocation(id), submit: (req) => invoker.submit(req) },
    ...(quarantine ? { quarantine } : {}),
    ...(p.rules ? { rules: p.rules } : {}),
    ...(p.reload ? { reload: p.reload } : {}),
  };
}
