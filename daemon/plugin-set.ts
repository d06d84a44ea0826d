/**
 * The plugins the config enables, one PluginHost each, and what their lifecycle means to the rest
 * of the daemon: a plugin that is ready registers its actions (and loses them when it becomes
 * unavailable), each answered batch feeds the handler-latency metric, and a crash, a restart, a
 * failure, a quarantined event or a plugin over its output limits is a Bifrost notice (pending
 * confirmations of a crashed plugin are cancelled). All plugins start together; at stop they drain
 * under one deadline (shutdown.drainTimeoutMs). The quarantine is shared by all plugins; a retry
 * puts the event back at the head of its plugin's queue.
 */
import type { Logger } from 'pino';
import { HeimdallError, ErrorCode, type DatabaseEvent } from '../sdk/index.js';
import type { HeimdallConfig } from '../config/types.js';
import type { BifrostBus } from './bifrost/bus.js';
import type { ActionRegistry } from './invoker/action-registry.js';
import { PluginHost, type PluginHostEnvironment, type PluginHostHooks } from './workers/plugin-host.js';
import type { PluginStatus } from './workers/plugin-status.js';
import type { EventsResult } from './workers/protocol.js';
import { locatePlugin } from './workers/resolve-module.js';
import type { PluginIdentity } from './workers/host-ports.js';
import type { RpcHandler } from './workers/worker-channel.js';
import { Quarantine, type QuarantineListing, type QuarantineStats } from './workers/quarantine.js';

export interface PluginSetOptions {
  config: Pick<HeimdallConfig, 'plugins' | 'baseDir' | 'shutdown' | 'limits' | 'drops'>;
  logger: Logger;
  /** Answers a plugin worker's calls into the host (workers/host-rpc.ts). */
  onRpc: (plugin: () => PluginIdentity) => RpcHandler;
  registry: Pick<ActionRegistry, 'registerPlugin' | 'unregisterPlugin'>;
  metrics: { observeBatch(plugin: string, result: EventsResult): void };
  bus: Pick<BifrostBus, 'publish'>;
  confirmations: { cancelFor(plugin: string, reason: string): unknown };
  /** Worker pool factory and clock for every host (tests). */
  env?: PluginHostEnvironment;
}

export class PluginSet {
  readonly name = 'plugins';
  readonly hosts: PluginHost[] = [];
  readonly quarantine: Quarantine;
  /** Events still queued at the last stop's deadline (dropped, reason shutdown). */
  leftOver = 0;

  constructor(private readonly opts: PluginSetOptions) {
    const { config, logger } = opts;
    const hooks = this.hooks();
    const l = config.limits;
    this.quarantine = new Quarantine({ size: l.quarantine.size, maxBytes: l.quarantine.maxBytes, eventLimits: { maxDepth: l.events.maxDepth, maxBytes: l.events.maxBytes }, ...(opts.env?.now ? { now: opts.env.now } : {}) });
    const env = { quarantine: this.quarantine, outputLimits: l.plugins, summaryIntervalMs: config.drops.logIntervalMs, ...opts.env };
    for (const pc of config.plugins) {
      if (!pc.enabled) continue;
      // plugins[].path or plugins[].package
      const { name, modulePath, error: unresolved } = locatePlugin(pc, config.baseDir);
      const host = new PluginHost(name, modulePath, pc, logger.child({ plugin: name }), opts.onRpc, hooks, env);
      this.hosts.push(host);
      if (unresolved) host.markFailed(unresolved.message);
    }
  }

  /** The plugin going by `name` now. */
  find(name: string): PluginHost | undefined {
    return this.hosts.find((h) => h.name === name);
  }

  statuses(): PluginStatus[] {
    return this.hosts.map((h) => h.status());
  }

  /** Quarantined events, oldest first (of one plugin when given). */
  quarantined(plugin?: string): QuarantineListing[] {
    return this.quarantine.list(plugin);
  }

  quarantineStats(): QuarantineStats {
    return this.quarantine.stats();
  }

  /**
   * Puts the quarantined event `id` back at the head of its plugin's queue (a new receive) and takes
   * it out of the quarantine. Throws HMD_ERR_NOT_FOUND for an unknown id, and the plugin's refusal
   * (not running, queue full) otherwise, leaving the entry in place.
   */
  retryQuarantined(id: string): { id: string; plugin: string; eventId: string } {
    const q = this.quarantine.get(id);
    if (!q) {
      throw new HeimdallError(ErrorCode.HMD_ERR_NOT_FOUND, `There is no quarantined event ${id}. \`heimdall quarantine list\` (GET /v1/quarantine) lists them; they do not survive a daemon restart.`, { id });
    }
    const host = this.find(q.entry.plugin);
    if (!host) {
      throw new HeimdallError(ErrorCode.HMD_ERR_PLUGIN_UNAVAILABLE, `The plugin ${q.entry.plugin} of quarantined event ${id} is not loaded any more, so the event cannot be delivered again.`, { id, plugin: q.entry.plugin });
    }
    host.retry(q.event as DatabaseEvent);
    this.quarantine.remove(id);
    host.log.info({ quarantineId: id, eventId: q.entry.eventId }, `The quarantined event ${q.entry.eventId} (${id}) was put back at the head of the queue of the plugin ${host.name}.`);
    return { id, plugin: host.name, eventId: q.entry.eventId };
  }

  /** Starts every plugin that is not already failed; one that cannot start is marked failed, the others run. */
  async start(): Promise<void> {
    await Promise.all(
      this.hosts
        .filter((h) => h.state !== 'failed')
        .map((h) =>
          h.start().then(
            () => h.log.info({ actions: h.info?.actions.map((a) => a.name) }, `The plugin ${h.name} ${h.info?.version ?? ''} is running in its own worker thread.`),
            (err: Error) => h.log.error(`The plugin at ${h.modulePath} could not start and is marked failed: ${err.message}`),
          ),
        ),
    );
  }

  /** Drains every queue until shutdown.drainTimeoutMs from now, then stops the plugins. */
  async stop(): Promise<void> {
    const deadline = Date.now() + this.opts.config.shutdown.drainTimeoutMs;
    const results = await Promise.all(this.hosts.map((h) => h.stop(deadline)));
    this.leftOver = results.reduce((a, r) => a + r.leftOver, 0);
    for (const h of this.hosts) h.log.info({ counters: h.queue.counters() }, `The plugin ${h.name} stopped.`);
  }

  private hooks(): PluginHostHooks {
    const { registry, metrics, bus, confirmations } = this.opts;
    return {
      onReady: (h, info) => {
        const clash = this.hosts.find((o) => o !== h && o.name === h.name && o.state !== 'failed');
        if (clash) {
          h.log.error(`Two plugins are named ${h.name} (${clash.modulePath} and ${h.modulePath}); the second one's actions are not registered. Rename one of them.`);
          return;
        }
        registry.registerPlugin(h, info.actions);
      },
      onUnavailable: (h) => registry.unregisterPlugin(h.name),
      onBatch: (h, res) => metrics.observeBatch(h.name, res),
      onOutputDrops: (h, summary, text) =>
        bus.publish({ kind: 'notification', level: 'warning', title: `Plugin ${h.name} is over its output limits`, message: text, data: { plugin: h.name, droppedLogLines: summary.logLines, droppedNotifications: summary.notifications }, origin: { kind: 'daemon' } }),
      onQuarantined: (h, qid, eventId, reason) =>
        bus.publish({
          kind: 'notification',
          level: 'error',
          title: `Plugin ${h.name} quarantined an event`,
          message: `The event ${eventId} took the worker of the plugin ${h.name} down (${reason}); it is kept in quarantine as ${qid} and not delivered again unless retried.`,
          data: { plugin: h.name, quarantineId: qid, eventId },
          origin: { kind: 'daemon' },
        }),
      onLifecycle: (h, what, reason) => {
        if (what !== 'restarted') confirmations.cancelFor(h.name, `the plugin ${h.name} ${what}: ${reason}`);
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
  }
}
