/**
 * The composition root: builds the daemon's parts — Bifrost, the action registry and invoker, the
 * database side (router, remediation executor, audit), the plugins (one worker each), the router,
 * the sources, the drop summary, metrics, the rules service, the reloader and the admin HTTP API —
 * wires them to each other, starts
 * them in order and stops them in reverse order of start. The parts hold the logic; this file only
 * says which part talks to which.
 */
import { resolve } from 'node:path';
import type { Logger } from 'pino';
import { redactUrl } from '../config/redact.js';
import { SecretScrubber } from '../config/secret-scrubber.js';
import type { HeimdallConfig } from '../config/types.js';
import { createAdminApi } from './admin-api.js';
import { AuditLog, graphMirror } from './audit/audit-log.js';
import { BifrostBus } from './bifrost/bus.js';
import type { Clock } from './bifrost/clock.js';
import { createBifrost, type Bifrost } from './bifrost/index.js';
import { registerBuiltinActions } from './builtin-actions.js';
import { databaseReader } from './db/cypher-reader.js';
import { Database } from './db/database.js';
import { startEmbeddedDatabase } from './embedded-neo4j.js';
import { makePluginDatabase } from './db/plugin-database.js';
import { RemediationExecutor } from './db/remediation-executor.js';
import type { DaemonApi, DaemonStatus } from './http/daemon-api.js';
import { createHttpServer } from './http/server.js';
import { ActionRegistry } from './invoker/action-registry.js';
import { Invoker } from './invoker/invoker.js';
import { Lifecycles, type Lifecycle } from './lifecycle.js';
import { logOutputStats } from './logger.js';
import { MetricsHistory } from './metrics-history.js';
import { DaemonMetrics } from './metrics.js';
import { validatePlugins } from './plugin-check.js';
import { pluginsReloadStep } from './plugin-reload-step.js';
import { PluginSet } from './plugin-set.js';
import { DropSummary, dropsNotice } from './queue/drop-summary.js';
import { Reloader } from './reload.js';
import { rulesPluginEntry } from './rules/plugin-entry.js';
import { rulesReloadStep } from './rules/reload-step.js';
import { RulesService } from './rules/rules-service.js';
import type { ReloadReport } from './http/rules-api.js';
import { Router } from './router/router.js';
import { SourceSet } from './sources/source-set.js';
import { EventTap } from './tap/event-tap.js';
import { makeRpcHandler } from './workers/host-rpc.js';
import { NO_DATABASE } from './workers/host-ports.js';
import type { PluginHost } from './workers/plugin-host.js';

export interface RunningDaemon {
  api: DaemonApi;
  /** Base URL of the admin API. */
  url: string;
  /** Stops sources, drains queues up to the configured deadline, stops plugins. */
  stop(reason?: string): Promise<void>;
  /** Re-reads the config and rule files and applies what can be applied (daemon/reload.ts); throws ConfigError when invalid. */
  reload(trigger: string): Promise<ReloadReport>;
  /** Internals, for tests and benchmarks in this repository. */
  internals: { router: Router; readonly hosts: readonly PluginHost[]; plugins: PluginSet; sources: SourceSet; drops: DropSummary; bus: BifrostBus; bifrost: Bifrost; registry: ActionRegistry; invoker: Invoker; db: Database | undefined; executor: RemediationExecutor | undefined; audit: AuditLog; rules: RulesService; reloader: Reloader };
}

/**
 * `clock`: Bifrost's time (timestamps, heartbeats, confirmation deadlines, sink retries); default the real one. Tests pass a fake.
 * `secrets`: the scrubber the logger was made with (it learns the secrets of reloaded configs too); default one for `config`.
 */
export async function startDaemon(opts: { config: HeimdallConfig; logger: Logger; listen?: boolean; clock?: Clock; secrets?: SecretScrubber }): Promise<RunningDaemon> {
  // database: { embedded: true } starts a Neo4j first (and stops it last); without one it can run, the config loses its database
  const embedded = await startEmbeddedDatabase(opts.config, opts.logger);
  try {
    return await composeDaemon({ ...opts, config: embedded.config }, embedded.part);
  } catch (err) {
    await embedded.part?.stop();
    throw err;
  }
}

async function composeDaemon(opts: { config: HeimdallConfig; logger: Logger; listen?: boolean; clock?: Clock; secrets?: SecretScrubber }, embeddedNeo4j: Lifecycle | undefined): Promise<RunningDaemon> {
  const { config, logger } = opts;
  const log = (component: string) => logger.child({ component });
  let state: DaemonStatus['state'] = 'starting';
  // what leaves the daemon (logs, HTTP bodies, Bifrost, the audit log) is scrubbed of the config's secrets
  const secrets = (opts.secrets ?? new SecretScrubber()).collect(config);
  const bus = new BifrostBus(config.bifrost.bufferSize, log('bifrost'), opts.clock);
  bus.scrubWith(secrets);
  const bifrost = createBifrost(bus, config, log('bifrost'));
  const { confirmations, notices } = bifrost;
  const registry = new ActionRegistry(config.actions.timeoutMs, config.limits.actions);
  const invoker = new Invoker(config, registry, bus, log('invoker'), { confirmations });
  const audit = new AuditLog(resolve(config.baseDir, config.audit.path), log('audit'), (e) => secrets.deep(e));
  const db = config.database ? new Database(config.database, log('database')) : undefined;
  const executor = db && new RemediationExecutor({ db, config, audit, bus, log: log('remediation'), confirmations: () => confirmations, pluginPolicy: (name) => plugins.find(name)?.remediation });
  if (db && config.audit.graph) audit.setMirror(graphMirror(db));
  invoker.attach({ audit: { append: (e) => void audit.append({ ...e }) }, confirmations });
  const database = db && executor ? makePluginDatabase(db, executor) : NO_DATABASE;
  const metrics = new DaemonMetrics(() => plugins.hosts);
  invoker.attachMetrics(metrics.registry);
  metrics.addBifrost(() => bifrost.api.stats());
  const onRpc = makeRpcHandler({ invoker, bus, database: () => database, confirmations });
  // rules: and rulesPath: run as the built-in rules plugin, after the configured plugins
  const rulesPlugin = rulesPluginEntry(config);
  const plugins: PluginSet = new PluginSet({ config, builtin: rulesPlugin ? [rulesPlugin.entry] : [], logger, onRpc, registry, metrics, bus, confirmations });
  const rules = new RulesService({ slice: rulesPlugin?.slice, ruleSet: config.ruleSet, host: () => plugins.hosts.find((h) => h.cfg === rulesPlugin?.entry), invokeAction: (n, p, t) => invoker.invokeAction(n, p, t), database: config.database?.database ?? 'neo4j', ...(config.configPath ? { configFile: config.configPath } : {}), log: log('rules') });
  rules.reportProblems();
  const reloader = new Reloader({ config, steps: [rulesReloadStep(rules), pluginsReloadStep({ plugins, check: validatePlugins })], log: log('reload'), onLoaded: (next) => void secrets.collect(next) });
  const { maxDepth, maxBytes } = config.limits.events;
  const router = new Router({ limits: { maxDepth, maxBytes }, log: log('router'), summaryIntervalMs: config.drops.logIntervalMs });
  // a reload changes the set of plugins: the router sends to the new set from then on
  plugins.watch((hosts) => router.setTargets(hosts));
  const tap = new EventTap(config.bifrost, () => plugins.hosts, log('tap'));
  // the tap sees what the sources emit before the router does; with nobody listening it costs one check
  const sources = new SourceSet({
    config,
    db,
    emit: (events, opts) => { if (tap.active) tap.publish(events); router.route(events, opts); },
    // a paused plugin's queue holds no source back: the outbox's back-pressure and checkpoint leave it out
    queues: () => plugins.hosts.filter((h) => h.state !== 'paused').map((h) => h.queue),
    logger,
    eventLimits: config.limits.events,
    notify: (level, title, message, data) => void notices.publish(level, title, message, data),
  });
  const backlog = sources.outboxBacklog();
  if (backlog) metrics.addOutboxBacklog(backlog);
  if (sources.proxies.size > 0) metrics.addBoltProxies(() => sources.proxies.reports());
  const drops = new DropSummary({ intervalMs: config.drops.logIntervalMs, plugins: () => plugins.hosts })
    .subscribe((ev) => metrics.observeDrops(ev))
    .subscribe((ev) => bus.publish({ kind: 'notification', ...dropsNotice(ev), origin: { kind: 'daemon' } }));
  if (db) notices.watchDatabase(db, db.where);
  if (invoker.modelClient) notices.watchModel(invoker.modelClient, redactUrl(config.llm!.baseURL));
  const history = new MetricsHistory({ plugins: () => plugins.statuses() });
  const api: DaemonApi = { ...createAdminApi({ config, state: () => state, startedAt: new Date(), plugins, pluginControl: plugins, sources, db, registry, invoker, metrics, bifrost: bifrost.api, router, logStats: logOutputStats, rules, reload: reloader, metricsHistory: history }), eventTap: tap };
  registerBuiltinActions(registry, () => api.status());

  // The admin API listens before the plugins start, so a refused bind or a port in use fails fast;
  // until the daemon is running, /readyz answers 503 and the http source refuses events.
  const http = createHttpServer({ api, config, logger: log('http'), secrets });
  let url = '';
  const parts: Lifecycle[] = [
    ...(embeddedNeo4j ? [embeddedNeo4j] : []),
    { name: 'Bifrost', stop: () => bifrost.close(bus.clock.now() + 2000) },
    // the bolt proxies listen before the database router connects, so the daemon's own driver may go through one
    sources.proxies,
    // the invoker gets its reader once the router has connected, so the schema's first read does not fail before it
    ...(db ? [{ name: 'the database router', start: async () => { await db.start(); executor?.start(); if (executor) invoker.attach({ reader: databaseReader(db, executor.statements, { maxBytes: config.invoker.queryMaxBytes }), executor }); }, stop: () => { executor?.close(); return db.close(); } }] : []),
    { name: 'the admin API', start: async () => { if (opts.listen !== false) url = await http.listen(); }, stop: () => http.close() },
    drops,
    plugins,
    history,
    { name: 'the invoker', stop: () => invoker.close() },
    sources,
  ];
  const lifecycles = new Lifecycles(logger);
  await lifecycles.start(parts);
  state = 'running';
  logger.info({ url, plugins: plugins.hosts.map((h) => ({ name: h.name, state: h.state })) }, `Heimdall is listening on ${url || '(not listening)'} with ${plugins.hosts.filter((h) => h.state === 'running').length} of ${plugins.hosts.length} plugins running.`);

  let stopping: Promise<void> | undefined;
  const stop = (reason = 'stop requested') =>
    (stopping ??= (async () => {
      logger.info(`Heimdall is stopping (${reason}); draining plugin queues for up to ${config.shutdown.drainTimeoutMs} ms.`);
      state = 'draining';
      notices.publish('info', 'Heimdall is stopping', `Stopping because: ${reason}. Pending confirmations are denied; streams end once the plugins have drained.`);
      confirmations.cancelAll('the daemon is stopping');
      await lifecycles.stop();
      audit.flush();
      state = 'stopped';
      logger.info(`Heimdall stopped; ${plugins.leftOver === 0 ? 'every queued event was delivered' : `${plugins.leftOver} queued events were dropped at the deadline`}.`);
    })());

  return { api, url, stop, reload: (trigger) => reloader.reload(trigger), internals: { router, get hosts() { return plugins.hosts; }, plugins, sources, drops, bus, bifrost, registry, invoker, db, executor, audit, rules, reloader } };
}
