/**
 * Assembles and runs the daemon: Bifrost bus, action registry and invoker, plugin hosts (one
 * worker each), router, sources, metrics and the admin HTTP API; stops them in reverse order.
 */
import { basename, extname, resolve } from 'node:path';
import { readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import type { ActionTrigger, PromptOptions } from '../sdk/index.js';
import type { HeimdallConfig } from '../config/types.js';
import type { DaemonApi, DaemonStatus, IngestResult, Readiness } from './http/daemon-api.js';
import { BifrostBus } from './bifrost/bus.js';
import { createBifrost, type Bifrost } from './bifrost/index.js';
import { registerBuiltinActions } from './builtin-actions.js';
import { createHttpServer } from './http/server.js';
import { ActionRegistry } from './invoker/action-registry.js';
import { Invoker } from './invoker/invoker.js';
import { DaemonMetrics } from './metrics.js';
import { checkEvent } from './router/event-validator.js';
import { Router } from './router/router.js';
import { NO_DATABASE, makeRpcHandler, type PluginDatabase } from './workers/host-rpc.js';
import { PluginHost } from './workers/plugin-host.js';
import { resolvePluginModule } from './workers/resolve-module.js';
import { AuditLog } from './audit/audit-log.js';
import { Database } from './db/database.js';
import { makePluginDatabase } from './db/plugin-database.js';
import { RemediationExecutor } from './db/remediation-executor.js';
import type { SourceStatus } from './sources/source.js';
import { systemEvent } from './sources/system-source.js';
import { Neo4jApocSource } from './sources/neo4j-apoc-source.js';
import { roomInQueues, settledWhenQueuesDrain } from './sources/outbox-settle.js';

export interface RunningDaemon {
  api: DaemonApi;
  /** Base URL of the admin API. */
  url: string;
  /** Stops sources, drains queues up to the configured deadline, stops plugins. */
  stop(reason?: string): Promise<void>;
  /** Internals, for tests and benchmarks in this repository. */
  internals: { router: Router; hosts: PluginHost[]; bus: BifrostBus; bifrost: Bifrost; registry: ActionRegistry; invoker: Invoker; db: Database | undefined; executor: RemediationExecutor | undefined; audit: AuditLog };
}

const VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

export async function startDaemon(opts: { config: HeimdallConfig; logger: Logger; listen?: boolean }): Promise<RunningDaemon> {
  const { config, logger } = opts;
  const startedAt = new Date();
  let state: DaemonStatus['state'] = 'starting';
  const bus = new BifrostBus(config.bifrost.bufferSize, logger.child({ component: 'bifrost' }));
  const bifrost = createBifrost(bus, config, logger.child({ component: 'bifrost' }));
  const registry = new ActionRegistry(config.actions.timeoutMs);
  const invoker = new Invoker(config, registry, bus, logger.child({ component: 'invoker' }), { confirmations: bifrost.confirmations });
  const router = new Router();
  const audit = new AuditLog(resolve(config.baseDir, config.audit.path), logger.child({ component: 'audit' }));
  const db = config.database ? new Database(config.database, logger.child({ component: 'database' })) : undefined;
  const executor = db
    ? new RemediationExecutor({
        db,
        config,
        audit,
        bus,
        log: logger.child({ component: 'remediation' }),
        confirmations: () => bifrost.confirmations,
        pluginPolicy: (name) => hosts.find((h) => h.name === name)?.cfg.remediation,
      })
    : undefined;
  const database: PluginDatabase = db && executor ? makePluginDatabase(db, executor) : NO_DATABASE;
  if (db && config.audit.graph) {
    audit.setMirror(async (r) => {
      await db.run(
        'CREATE (a:HeimdallAudit {seq: $seq, hash: $hash, prev: $prev, type: $type, at: datetime($at), entry: $entry})',
        { seq: r.seq, hash: r.hash, prev: r.prev, type: r.type, at: r.at, entry: JSON.stringify(r) },
        { mode: 'write', metadata: { purpose: 'audit-mirror' } },
      );
    });
  }
  if (db && executor) {
    invoker.attach({
      reader: { read: async (cypher, params, o) => (await db.run(cypher, params, { mode: 'read', ...(o.database ? { database: o.database } : {}), ...(o.timeoutMs ? { timeoutMs: o.timeoutMs } : {}), metadata: { ...(o.invocationId ? { invocationId: o.invocationId } : {}) } })).rows.slice(0, o.maxRows ?? Infinity) },
      executor,
    });
  }
  invoker.attach({ audit: { append: (e) => void audit.append({ ...e }) }, confirmations: bifrost.confirmations });
  const onRpc = makeRpcHandler({ invoker, bus, database: () => database, confirmations: bifrost.confirmations });
  const hosts: PluginHost[] = [];
  const metrics = new DaemonMetrics(() => hosts);
  invoker.attachMetrics(metrics.registry);
  const sourceStats: Record<string, SourceStatus> = {};
  for (const s of config.sources) sourceStats[s.type] = { name: s.type, type: s.type, state: 'starting', emitted: 0 };

  const hooks = {
    onReady: (h: PluginHost, info: { actions: import('./workers/protocol.js').ActionDescriptor[] }) => {
      const clash = hosts.find((o) => o !== h && o.name === h.name && o.state !== 'failed');
      if (clash) {
        h.log.error(`Two plugins are named ${h.name} (${clash.modulePath} and ${h.modulePath}); the second one's actions are not registered. Rename one of them.`);
        return;
      }
      registry.registerPlugin(h, info.actions);
    },
    onUnavailable: (h: PluginHost) => registry.unregisterPlugin(h.name),
    onBatch: (h: PluginHost, res: import('./workers/protocol.js').EventsResult) => metrics.observeBatch(h.name, res),
    onLifecycle: (h: PluginHost, what: 'crashed' | 'restarted' | 'failed', reason: string) => {
      if (what !== 'restarted') bifrost.confirmations.cancelFor(h.name, `the plugin ${h.name} ${what}: ${reason}`);
      bus.publish({
        kind: 'notification',
        level: what === 'restarted' ? 'info' : what === 'crashed' ? 'warning' : 'error',
        title: `Plugin ${h.name} ${what}`,
        message: what === 'restarted' ? `The plugin ${h.name} was restarted with fresh state after: ${reason}` : `The plugin ${h.name} ${what}: ${reason}`,
        data: { plugin: h.name, restarts: h.restarts },
        origin: { kind: 'daemon' },
      });
    },
  };

  for (const pc of config.plugins) {
    if (!pc.enabled) continue;
    const guess = basename(pc.path, extname(pc.path)) === 'index' ? basename(resolve(config.baseDir, pc.path, '..')) : basename(pc.path, extname(pc.path));
    let modulePath: string;
    let resolveError: Error | undefined;
    try {
      modulePath = resolvePluginModule(pc.path, config.baseDir);
    } catch (err) {
      modulePath = resolve(config.baseDir, pc.path);
      resolveError = err as Error;
    }
    const log = logger.child({ plugin: guess });
    const host = new PluginHost(guess, modulePath, pc, log, onRpc, hooks);
    hosts.push(host);
    if (resolveError) host.markFailed(resolveError.message);
  }
  router.setTargets(hosts);

  if (db) {
    db.onConnectivity((up, reason) => {
      if (state === 'running') router.route([systemEvent(up ? 'database.started' : 'database.shutdown', db.defaultDatabase, { reason, uri: config.database!.uri })]);
      bifrost.notices.publish(up ? 'success' : 'error', up ? 'Database is back' : 'Database is down', up ? `The database at ${config.database!.uri} is reachable again.` : `The database at ${config.database!.uri} cannot be reached: ${reason}. Heimdall keeps running; plugin queries fail fast until it is back.`);
    });
    await db.start();
  }

  const defaults = { database: config.database?.database ?? 'neo4j', source: 'http' };
  const api: DaemonApi = {
    readiness(): Readiness {
      const reasons: string[] = [];
      if (state !== 'running') reasons.push(`The daemon is ${state}.`);
      for (const h of hosts) if (h.state !== 'running') reasons.push(`The plugin ${h.name} is ${h.state}${h.reason ? `: ${h.reason}` : '.'}`);
      for (const s of Object.values(sourceStats)) if (s.state !== 'running') reasons.push(`The source ${s.name} is ${s.state}${s.reason ? `: ${s.reason}` : '.'}`);
      if (db && !db.connected) reasons.push(`The database at ${config.database!.uri} is not reachable: ${db.lastError ?? 'not connected yet'}.`);
      return { ready: reasons.length === 0, reasons };
    },
    status(): DaemonStatus {
      return {
        version: VERSION,
        startedAt: startedAt.toISOString(),
        uptimeS: Math.round((Date.now() - startedAt.getTime()) / 1000),
        state,
        plugins: hosts.map((h) => h.status()),
        sources: Object.values(sourceStats).map((s) => ({ ...s })),
        database: db ? { configured: true, connected: db.connected, uri: config.database!.uri, ...(db.lastError ? { reason: db.lastError } : {}) } : { configured: false, connected: false },
        llm: config.llm ? { configured: true, model: config.llm.model, baseURL: config.llm.baseURL } : { configured: false },
      };
    },
    plugins: () => hosts.map((h) => h.status()),
    actions: () => registry.list(),
    ingest(items: unknown[], source: string): IngestResult {
      const d = source === defaults.source ? defaults : { ...defaults, source };
      const ok = [];
      const rejected = [];
      const ids: string[] = [];
      for (let i = 0; i < items.length; i++) {
        const c = checkEvent(items[i], d);
        if (c.ok) {
          ok.push(c.event);
          ids.push(c.event.id);
        } else rejected.push({ index: i, ...(c.id ? { id: c.id } : {}), reason: c.reason });
      }
      if (state === 'running') {
        router.route(ok);
        const st = sourceStats[source];
        if (st) st.emitted += ok.length;
      } else {
        for (const r of ok.map((e, i) => ({ index: i, id: e.id }))) rejected.push({ ...r, reason: `The daemon is ${state} and accepts no new events.` });
        return { accepted: 0, rejected, ids: [] };
      }
      return { accepted: ok.length, rejected, ids };
    },
    invokeAction: (name, params, trigger: ActionTrigger) => invoker.invokeAction(name, params, trigger),
    prompt: (prompt: string, popts?: PromptOptions) => invoker.sendPrompt(prompt, popts, { kind: 'operator' }),
    metrics: () => metrics.render(),
    bifrost: bifrost.api,
    invocations: { list: (f) => invoker.listInvocations(f), get: (id) => invoker.getInvocation(id), submit: (req) => invoker.submit(req) },
  };
  registerBuiltinActions(registry, () => api.status());
  metrics.addBifrost(() => bifrost.api.stats());
  if (invoker.modelClient) {
    invoker.modelClient.onReachability = (up, reason) => {
      if (up) bifrost.notices.available('model', config.llm!.baseURL);
      else bifrost.notices.unavailable('model', reason ?? 'no answer', config.llm!.baseURL);
    };
  }

  // Built (and listening) before the plugins start, so a refused bind or a port in use fails fast;
  // until the daemon is running, /readyz answers 503 and events are refused.
  const http = createHttpServer({ api, config, logger: logger.child({ component: 'http' }) });
  let url = '';
  if (opts.listen !== false) url = await http.listen();

  await Promise.all(
    hosts
      .filter((h) => h.state !== 'failed')
      .map((h) =>
        h.start().then(
          () => h.log.info({ actions: h.info?.actions.map((a) => a.name) }, `The plugin ${h.name} ${h.info?.version ?? ''} is running in its own worker thread.`),
          (err: Error) => h.log.error(`The plugin at ${h.modulePath} could not start and is marked failed: ${err.message}`),
        ),
      ),
  );

  const dropTimer = setInterval(() => {
    for (const h of hosts) {
      const d = h.queue.takeDropsSinceLastSummary();
      if (!d) continue;
      const total = Object.values(d).reduce((a, b) => a + b, 0);
      const c = h.queue.counters();
      const text = `The plugin ${h.name} dropped ${total} events in the last ${config.drops.logIntervalMs / 1000} s (${Object.entries(d).map(([k, v]) => `${k}: ${v}`).join(', ')}); it has received ${c.received}, delivered ${c.delivered}, dropped ${c.droppedTotal} in all. Raise queue.capacity or make the handler faster.`;
      h.log.warn({ dropped: d, counters: c }, text);
      bus.publish({ kind: 'notification', level: 'warning', title: `Plugin ${h.name} is dropping events`, message: text, data: { plugin: h.name, dropped: d }, origin: { kind: 'daemon' } });
    }
  }, config.drops.logIntervalMs);
  dropTimer.unref();

  // neo4j-apoc: the durable outbox source (daemon/sources/README.md); its live status replaces the placeholder entry.
  const apocSources: Neo4jApocSource[] = [];
  if (config.sources.some((s) => s.type === 'neo4j-apoc') && db) {
    metrics.addOutboxBacklog(() => apocSources.map((s) => ({ database: db.defaultDatabase, entries: s.backlog() })));
  }
  for (const sc of config.sources) {
    if (sc.type !== 'neo4j-apoc' || !db) continue;
    const src = new Neo4jApocSource({ db, config: sc, emit: (evs) => router.route(evs), logger: logger.child({ component: 'neo4j-apoc' }), settled: settledWhenQueuesDrain(() => hosts.map((h) => h.queue)), room: roomInQueues(() => hosts.map((h) => h.queue)) });
    Object.defineProperty(sourceStats, 'neo4j-apoc', { get: () => src.status(), enumerable: true, configurable: true });
    apocSources.push(src);
    await src.start();
  }
  for (const s of Object.values(sourceStats)) s.state = 'running';
  state = 'running';
  logger.info({ url, plugins: hosts.map((h) => ({ name: h.name, state: h.state })) }, `Heimdall is listening on ${url || '(not listening)'} with ${hosts.filter((h) => h.state === 'running').length} of ${hosts.length} plugins running.`);

  let stopping: Promise<void> | undefined;
  const stop = (reason = 'stop requested') =>
    (stopping ??= (async () => {
      logger.info(`Heimdall is stopping (${reason}); draining plugin queues for up to ${config.shutdown.drainTimeoutMs} ms.`);
      state = 'draining';
      bifrost.notices.publish('info', 'Heimdall is stopping', `Stopping because: ${reason}. Pending confirmations are denied; streams end once the plugins have drained.`);
      bifrost.confirmations.cancelAll('the daemon is stopping');
      for (const s of Object.values(sourceStats)) s.state = 'stopped';
      await Promise.all(apocSources.map((s) => s.stop()));
      invoker.close();
      const deadline = Date.now() + config.shutdown.drainTimeoutMs;
      const results = await Promise.all(hosts.map((h) => h.stop(deadline).then((r) => ({ h, ...r }))));
      clearInterval(dropTimer);
      await http.close().catch(() => undefined);
      await db?.close().catch(() => undefined);
      await bifrost.close(Date.now() + 2000);
      state = 'stopped';
      const left = results.reduce((a, r) => a + r.leftOver, 0);
      for (const { h } of results) h.log.info({ counters: h.queue.counters() }, `The plugin ${h.name} stopped.`);
      logger.info(`Heimdall stopped; ${left === 0 ? 'every queued event was delivered' : `${left} queued events were dropped at the deadline`}.`);
    })());

  return { api, url, stop, internals: { router, hosts, bus, bifrost, registry, invoker, db, executor, audit } };
}
