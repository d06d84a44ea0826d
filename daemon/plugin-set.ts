/**
 * The plugins the config enables, one PluginHost each, and what their lifecycle means to the rest
 * of the daemon: a plugin that is ready registers its actions (and loses them when it becomes
 * unavailable), each answered batch feeds the handler-latency metric, and a crash, a restart, a
 * failure, a quarantined event or a plugin over its output limits is a Bifrost notice (pending
 * confirmations of a crashed plugin are cancelled). All plugins start together; at stop they drain
 * under one deadline (shutdown.drainTimeoutMs). The quarantine is shared by all plugins; a retry
 * puts the event back at the head of its plugin's queue.
 *
 * The set changes while the daemon runs: apply() takes the plugins[] of a reloaded config (added
 * entries start, removed ones drain and stop, changed ones restart with their queue kept,
 * unchanged ones are left alone), and an operator (or `heimdall dev`) restarts, pauses and
 * resumes one plugin. Whoever routes to the hosts watches the set (watch()). Built-in plugins
 * (the rules engine) are not part of plugins[]: a reload leaves them to their own step.
 */
import type { Logger } from 'pino';
import type { HeimdallConfig, PluginConfig } from '../config/types.js';
import { canonicalJson } from '../plugins/rules/reload.js';
import { ErrorCode, HeimdallError, type DatabaseEvent } from '../sdk/index.js';
import type { BifrostBus } from './bifrost/bus.js';
import type { PluginControlApi, PluginControlResult } from './http/daemon-api.js';
import type { ActionRegistry } from './invoker/action-registry.js';
import { closestNames } from './invoker/closest-names.js';
import { PluginHost, type PluginHostEnvironment, type PluginHostHooks } from './workers/plugin-host.js';
import type { PluginStatus } from './workers/plugin-status.js';
import type { EventsResult } from './workers/protocol.js';
import { locatePlugin, pluginFiles } from './workers/resolve-module.js';
import type { PluginIdentity } from './workers/host-ports.js';
import type { RpcHandler } from './workers/worker-channel.js';
import { Quarantine, type QuarantineListing, type QuarantineStats } from './workers/quarantine.js';

export interface PluginSetOptions {
  config: Pick<HeimdallConfig, 'plugins' | 'baseDir' | 'shutdown' | 'limits' | 'drops'>;
  /** Entries the daemon adds after the configured plugins (the rules engine); reloads leave them alone. */
  builtin?: readonly PluginConfig[];
  logger: Logger;
  /** Answers a plugin worker's calls into the host (workers/host-rpc.ts). */
  onRpc: (plugin: () => PluginIdentity) => RpcHandler;
  registry: Pick<ActionRegistry, 'registerPlugin' | 'unregisterRunner'>;
  metrics: { observeBatch(plugin: string, result: EventsResult): void; forgetPlugin?(plugin: string): void };
  bus: Pick<BifrostBus, 'publish'>;
  confirmations: { cancelFor(plugin: string, reason: string): unknown };
  /** Worker pool factory and clock for every host (tests). */
  env?: PluginHostEnvironment;
}

/** What a reload did to the configured plugins, by name. */
export interface PluginChanges {
  added: string[];
  removed: string[];
  restarted: string[];
  unchanged: string[];
  /** Sentences about plugins that could not start. */
  notes: string[];
}

/** How each entry of a new plugins[] relates to the running plugins. */
export interface PluginPlan {
  /** Per entry of the new plugins[] (disabled ones: `disabled`), in order. */
  entries: Array<{ index: number; entry: PluginConfig; kind: 'added' | 'changed' | 'unchanged' | 'disabled'; host?: PluginHost; modulePath: string; error?: Error }>;
  /** Running configured plugins that the new plugins[] no longer has. */
  removed: PluginHost[];
}

export class PluginSet implements PluginControlApi {
  readonly name = 'plugins';
  private list: PluginHost[] = [];
  private readonly builtins = new Set<PluginHost>();
  private readonly watchers: Array<(hosts: readonly PluginHost[]) => void> = [];
  private baseDir: string;
  readonly quarantine: Quarantine;
  private readonly env: PluginHostEnvironment;
  /** Events still queued at the last stop's deadline (dropped, reason shutdown). */
  leftOver = 0;

  constructor(private readonly opts: PluginSetOptions) {
    const { config } = opts;
    this.baseDir = config.baseDir;
    const l = config.limits;
    this.quarantine = new Quarantine({ size: l.quarantine.size, maxBytes: l.quarantine.maxBytes, eventLimits: { maxDepth: l.events.maxDepth, maxBytes: l.events.maxBytes }, ...(opts.env?.now ? { now: opts.env.now } : {}) });
    this.env = { quarantine: this.quarantine, outputLimits: l.plugins, summaryIntervalMs: config.drops.logIntervalMs, ...opts.env };
    for (const pc of config.plugins) if (pc.enabled) this.list.push(this.build(pc, locatePlugin(pc, config.baseDir)));
    for (const pc of opts.builtin ?? []) {
      const host = this.build(pc, locatePlugin(pc, config.baseDir));
      this.builtins.add(host);
      this.list.push(host);
    }
  }

  /** The plugins now, configured ones in config order, then built-ins. A new array after each change. */
  get hosts(): readonly PluginHost[] {
    return this.list;
  }

  /** Calls `fn` with the hosts now and after every change of the set (the router's targets). */
  watch(fn: (hosts: readonly PluginHost[]) => void): void {
    this.watchers.push(fn);
    fn(this.list);
  }

  /** The plugin going by `name` now. */
  find(name: string): PluginHost | undefined {
    return this.list.find((h) => h.name === name);
  }

  /** Whether the host is one of the daemon's own (not from plugins[]). */
  isBuiltin(host: PluginHost): boolean {
    return this.builtins.has(host);
  }

  /** The folder or file that holds a configured plugin's files (what `heimdall dev` watches); undefined for built-ins or when it does not exist. */
  filesOf(host: PluginHost): { path: string; folder: boolean } | undefined {
    if (this.builtins.has(host)) return undefined;
    return pluginFiles(host.cfg, this.baseDir);
  }

  statuses(): PluginStatus[] {
    return this.list.map((h) => h.status());
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
    await Promise.all(this.list.filter((h) => h.state !== 'failed').map((h) => this.startOne(h)));
  }

  /** Drains every queue until shutdown.drainTimeoutMs from now, then stops the plugins. */
  async stop(): Promise<void> {
    const deadline = Date.now() + this.opts.config.shutdown.drainTimeoutMs;
    const results = await Promise.all(this.list.map((h) => h.stop(deadline)));
    this.leftOver = results.reduce((a, r) => a + r.leftOver, 0);
    for (const h of this.list) h.log.info({ counters: h.queue.counters() }, `The plugin ${h.name} stopped.`);
  }

  /** How the entries of a new plugins[] match the running plugins (by module file), without changing anything. */
  plan(entries: readonly PluginConfig[], baseDir: string): PluginPlan {
    const unmatched = this.list.filter((h) => !this.builtins.has(h));
    const out: PluginPlan['entries'] = [];
    entries.forEach((entry, index) => {
      const loc = locatePlugin(entry, baseDir);
      const base = { index, entry, modulePath: loc.modulePath, ...(loc.error ? { error: loc.error } : {}) };
      if (!entry.enabled) {
        out.push({ ...base, kind: 'disabled' });
        return;
      }
      const i = unmatched.findIndex((h) => h.modulePath === loc.modulePath);
      if (i < 0) {
        out.push({ ...base, kind: 'added' });
        return;
      }
      const host = unmatched.splice(i, 1)[0]!;
      out.push({ ...base, host, kind: canonicalJson(host.cfg) === canonicalJson(entry) ? 'unchanged' : 'changed' });
    });
    return { entries: out, removed: unmatched };
  }

  /**
   * Applies a new plugins[]: the router sees the new set at once (a removed plugin gets no more
   * events, an added one queues them while it starts); removed plugins drain until
   * shutdown.drainTimeoutMs and stop; changed ones restart with the new entry and keep their
   * queue; added ones start. Resolves when all of that is done.
   */
  async apply(entries: readonly PluginConfig[], baseDir: string): Promise<PluginChanges> {
    const plan = this.plan(entries, baseDir);
    this.baseDir = baseDir;
    const added: PluginHost[] = [];
    const changed: Array<{ host: PluginHost; entry: PluginConfig; modulePath: string; error?: Error }> = [];
    const unchanged: PluginHost[] = [];
    const next: PluginHost[] = [];
    for (const p of plan.entries) {
      if (p.kind === 'disabled') continue;
      if (p.kind === 'added') {
        const h = this.build(p.entry, { name: undefined, modulePath: p.modulePath, error: p.error });
        added.push(h);
        next.push(h);
        continue;
      }
      next.push(p.host!);
      if (p.kind === 'unchanged') unchanged.push(p.host!);
      else changed.push({ host: p.host!, entry: p.entry, modulePath: p.modulePath, ...(p.error ? { error: p.error } : {}) });
    }
    this.setList([...next, ...this.list.filter((h) => this.builtins.has(h))]);
    const notes: string[] = [];
    const deadline = Date.now() + this.opts.config.shutdown.drainTimeoutMs;
    await Promise.all([
      ...plan.removed.map((h) => this.retire(h, deadline)),
      ...changed.map(async (c) => {
        if (c.error) {
          c.host.markFailed(c.error.message);
          notes.push(`The plugin ${c.host.name} could not be restarted: ${c.error.message}`);
          return;
        }
        try {
          await this.replace(c.host, 'its plugins[] entry in the config changed', { cfg: c.entry, modulePath: c.modulePath }, deadline);
          c.host.log.info(`The plugin ${c.host.name} was restarted with fresh state because its plugins[] entry changed; its ${c.host.queue.queued} queued events stayed.`);
        } catch (err) {
          notes.push(`The plugin ${c.host.name} was restarted with its new entry but is failed: ${(err as Error).message}`);
        }
      }),
      ...added.map(async (h) => {
        if (h.state === 'failed') notes.push(`The plugin ${h.name} was added but is failed: ${h.reason ?? 'its module cannot be found'}`);
        else if (!(await this.startOne(h))) notes.push(`The plugin ${h.name} was added but could not start: ${h.reason ?? 'init failed'}`);
      }),
    ]);
    return { added: added.map((h) => h.name), removed: plan.removed.map((h) => h.name), restarted: changed.map((c) => c.host.name), unchanged: unchanged.map((h) => h.name), notes };
  }

  /** Restarts one plugin by name with fresh state (its module file found again); its queue stays. */
  async restart(name: string, reason = 'an operator asked for it'): Promise<PluginControlResult> {
    const h = this.named(name);
    await this.restartHost(h, reason);
    return { name: h.name, state: h.state, changed: true, message: `The plugin ${h.name} was restarted with fresh state (restart ${h.restarts}); its queue stayed, with ${h.queue.queued} events in it now.` };
  }

  /** Restarts `host` (e.g. `heimdall dev` after its files changed); rejects when it cannot start again. */
  async restartHost(host: PluginHost, reason: string): Promise<void> {
    const loc = locatePlugin(host.cfg, this.baseDir);
    if (loc.error) {
      host.markFailed(loc.error.message);
      throw loc.error;
    }
    await this.replace(host, reason, { modulePath: loc.modulePath });
  }

  /** Restarts a host; its pending confirmations are denied first, so a handler waiting on one can finish. */
  private replace(h: PluginHost, reason: string, next: { cfg?: PluginConfig; modulePath: string }, deadline?: number): Promise<void> {
    this.opts.confirmations.cancelFor(h.name, `the plugin ${h.name} is restarting: ${reason}`);
    return h.restart(reason, next, deadline);
  }

  pause(name: string): PluginControlResult {
    const h = this.named(name);
    this.refuseWhenDown(h, 'paused');
    const changed = h.pause();
    return { name: h.name, state: h.state, changed, message: changed ? `The plugin ${h.name} is paused: its events wait in its queue (up to ${h.queue.capacity}; beyond that they are dropped with reason paused) until \`heimdall plugins resume ${h.name}\`.` : `The plugin ${h.name} was paused already; nothing changed.` };
  }

  resume(name: string): PluginControlResult {
    const h = this.named(name);
    this.refuseWhenDown(h, 'resumed');
    const waiting = h.queue.waiting;
    const changed = h.resume();
    return { name: h.name, state: h.state, changed, message: changed ? `The plugin ${h.name} is resumed; the ${waiting} events that waited are being delivered.` : `The plugin ${h.name} was not paused; nothing changed.` };
  }

  private named(name: string): PluginHost {
    const h = this.find(name);
    if (h) return h;
    const names = this.list.map((x) => x.name);
    const near = closestNames(name, names);
    throw new HeimdallError(
      ErrorCode.HMD_ERR_NOT_FOUND,
      `No plugin is named ${name}${near.length ? `; did you mean ${near.join(' or ')}?` : '.'} ${names.length ? `The plugins are ${names.join(', ')} (\`heimdall plugins\` lists them).` : 'No plugins are running.'}`,
      { plugin: name, suggestions: near },
    );
  }

  private refuseWhenDown(h: PluginHost, what: string): void {
    if (h.state === 'failed' || h.state === 'stopped' || h.state === 'draining') {
      throw new HeimdallError(ErrorCode.HMD_ERR_CONFLICT, `The plugin ${h.name} is ${h.state}${h.reason ? ` (${h.reason.replace(/\.$/, '')})` : ''}, so it cannot be ${what}; \`heimdall plugins restart ${h.name}\` starts it again.`, { plugin: h.name, state: h.state });
    }
  }

  private setList(list: PluginHost[]): void {
    this.list = list;
    for (const w of this.watchers) w(list);
  }

  private build(pc: PluginConfig, loc: { name?: string | undefined; modulePath: string; error?: Error | undefined }): PluginHost {
    const name = loc.name ?? locatePlugin(pc, this.baseDir).name;
    const host = new PluginHost(name, loc.modulePath, pc, this.opts.logger.child({ plugin: name }), this.opts.onRpc, this.hooks(), this.env);
    if (loc.error) host.markFailed(loc.error.message);
    return host;
  }

  /** Starts one plugin; false (and marked failed, logged) when it cannot. */
  private startOne(h: PluginHost): Promise<boolean> {
    return h.start().then(
      () => {
        h.log.info({ actions: h.info?.actions.map((a) => a.name) }, `The plugin ${h.name} ${h.info?.version ?? ''} is running in its own worker thread.`);
        return true;
      },
      (err: Error) => {
        h.log.error(`The plugin at ${h.modulePath} could not start and is marked failed: ${err.message}`);
        return false;
      },
    );
  }

  /** A plugin the config no longer has: drains until `deadline`, stops, and leaves no trace in the registry or metrics. */
  private async retire(h: PluginHost, deadline: number): Promise<void> {
    const { leftOver } = await h.stop(deadline);
    this.opts.confirmations.cancelFor(h.name, `the plugin ${h.name} was removed from the config`);
    if (!this.find(h.name)) this.opts.metrics.forgetPlugin?.(h.name);
    const c = h.queue.counters();
    h.log.info({ counters: c }, `The plugin ${h.name} was removed from the config and stopped after delivering ${c.delivered} events${leftOver ? `; ${leftOver} still queued at the drain deadline were dropped` : ''}.`);
  }

  private hooks(): PluginHostHooks {
    const { registry, metrics, bus, confirmations } = this.opts;
    return {
      onReady: (h, info) => {
        const clash = this.list.find((o) => o !== h && o.name === h.name && o.state !== 'failed');
        if (clash) {
          h.log.error(`Two plugins are named ${h.name} (${clash.modulePath} and ${h.modulePath}); the second one's actions are not registered. Rename one of them.`);
          return;
        }
        registry.registerPlugin(h, info.actions);
      },
      onUnavailable: (h) => registry.unregisterRunner(h),
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
