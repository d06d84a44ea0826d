/**
 * One plugin: its bounded queue, its worker pool (by default piscina, one long-lived thread), its
 * lifecycle (starting → running → restarting/failed → draining → stopped), the dispatcher that
 * hands batches to the worker (in-flight-batches.ts keeps them, event-wire.ts writes them), the
 * handler watchdog (handler-watchdog.ts; the channel's terminates an action past its own), and
 * crash recovery with backoff and fresh state. The state is the host's own: it changes only through
 * start(), stop(), markFailed(), restart(), pause()/resume() and the crash path, and others read it.
 *
 * A crash never lets one event crash the plugin again and again: poison-events.ts decides which
 * event took the worker down; it goes to quarantine (counted delivered and failed) instead of back
 * into the queue, and the crash window counts distinct causes, so one poison event can never mark
 * the plugin failed. Log lines and Bifrost messages pass the plugin's output limits.
 *
 * restart() (an operator, a reload that changed the plugin's entry, `heimdall dev`) lets the
 * batches in flight finish, calls the plugin's stop(), and starts a fresh worker (a fresh module
 * graph, so fresh module state) with the new entry; the queue, its events and its counters stay.
 * pause() holds delivery: events queue up to capacity (beyond it they are dropped by the queue's
 * whenFull policy with reason `paused`) and resume() delivers them in order; actions still run.
 */
import type { Logger } from 'pino';
import { PluginInitError, PluginUnavailableError, QueueFullError, deserializeError, eventTypeMatches, type ActionResult, type ActionTrigger, type DatabaseEvent } from '../../sdk/index.js';
import type { PluginConfig } from '../../config/types.js';
import { BoundedQueue } from '../queue/bounded-queue.js';
import type { PluginState, PluginStatus } from './plugin-status.js';
import { MAX_BATCHES_IN_FLIGHT, PROGRESS, type EventsResult, type InitAnswer, type InitResult, type WorkerTask } from './protocol.js';
import { WorkerChannel, type RpcHandler } from './worker-channel.js';
import type { PluginIdentity } from './host-ports.js';
import type { PluginHostEnvironment, PluginHostHooks } from './plugin-host-options.js';
import { settleCrashedBatches } from './crash-accounting.js';
import { triageCrash } from './crash-triage.js';
import { CrashWindow } from './crash-window.js';
import { DEFAULT_OUTPUT_LIMITS, OutputLimiter, describeOutputDrops, type OutputLimits } from './output-limits.js';
import { PoisonTracker } from './poison-events.js';
import { Quarantine, type QuarantineSink } from './quarantine.js';
import { piscinaPool, type WorkerPool, type WorkerPoolFactory } from './worker-pool.js';
import { DEFAULT_EVENT_LIMITS } from '../router/event-limits.js';
import { encodeBatch } from './event-wire.js';
import { InFlightBatches } from './in-flight-batches.js';
import { runPluginStop } from './plugin-stop.js';
import { logBatchFailures } from './batch-failures.js';
import { startHandlerWatchdog } from './handler-watchdog.js';
import { BusyThreadWatch } from './busy-thread.js';
import { heimdallConfigSchema } from '../../config/schema.js';

export type { PluginHostEnvironment, PluginHostHooks } from './plugin-host-options.js';

const Q = heimdallConfigSchema.properties.limits.properties.quarantine.properties;

export class PluginHost {
  readonly queue: BoundedQueue<DatabaseEvent>;
  private currentName: string;
  private currentCfg: PluginConfig;
  private currentModulePath: string;
  private paused = false;
  /** Set while restart() replaces the worker: a crash then only settles the batches in flight. */
  private replacing = false;
  /** The old worker died while restart() waited for it: its stop() is not called. */
  private diedWhileReplacing = false;
  private restartChain: Promise<unknown> = Promise.resolve();
  private currentState: PluginState = 'starting';
  private currentReason: string | undefined;
  private declared: InitResult | undefined;
  private restartCount = 0;
  private readonly createPool: WorkerPoolFactory;
  private readonly now: () => number;
  private pool: WorkerPool | undefined;
  private channel: WorkerChannel | undefined;
  private progress = new Float64Array(new SharedArrayBuffer(PROGRESS.LENGTH * 8));
  /** Batches handed to the worker and not yet answered, oldest first. */
  private readonly inFlight = new InFlightBatches();
  private terminating: string | undefined;
  private crashWindow: CrashWindow;
  private readonly poison = new PoisonTracker<DatabaseEvent>();
  private readonly quarantine: QuarantineSink & { countFor?(plugin: string): number };
  private limiter: OutputLimiter;
  private outputLimits: OutputLimits;
  /** limits.plugins before this plugin's own plugins[].limits, and the output summary interval. */
  private readonly outputBase: { limits: OutputLimits; intervalMs: number };
  private restartTimer: NodeJS.Timeout | undefined;
  private watchdog: NodeJS.Timeout | undefined;
  private busyThread: BusyThreadWatch | undefined;
  private idleWaiters: Array<() => void> = [];
  private generation = 0;
  private batchSize: number;

  constructor(
    /** Name from the config file's point of view until the module declares its own. */
    name: string,
    modulePath: string,
    cfg: PluginConfig,
    readonly log: Logger,
    private readonly onRpc: (plugin: () => PluginIdentity) => RpcHandler,
    private readonly hooks: PluginHostHooks,
    env: PluginHostEnvironment = {},
  ) {
    this.currentName = name;
    this.currentCfg = cfg;
    this.currentModulePath = modulePath;
    this.queue = new BoundedQueue<DatabaseEvent>(cfg.queue.capacity, cfg.queue.whenFull);
    this.batchSize = Math.max(1, Math.min(cfg.queue.batchSize, cfg.queue.capacity));
    this.createPool = env.createPool ?? piscinaPool;
    this.now = env.now ?? Date.now;
    this.crashWindow = new CrashWindow(cfg.restart, this.now);
    this.quarantine = env.quarantine ?? new Quarantine({ size: Q.size.default, maxBytes: Q.maxBytes.default, eventLimits: DEFAULT_EVENT_LIMITS, now: this.now });
    this.outputBase = { limits: env.outputLimits ?? DEFAULT_OUTPUT_LIMITS, intervalMs: env.summaryIntervalMs ?? 10_000 };
    this.outputLimits = { ...this.outputBase.limits, ...definedOnly(cfg.limits) };
    this.limiter = this.makeLimiter();
  }

  private makeLimiter(): OutputLimiter {
    return new OutputLimiter({
      plugin: () => this.name,
      limits: this.outputLimits,
      intervalMs: this.outputBase.intervalMs,
      now: this.now,
      onSummary: (summary) => {
        const text = describeOutputDrops(summary);
        this.log.warn({ droppedLogLines: summary.logLines, droppedNotifications: summary.notifications }, text);
        this.hooks.onOutputDrops?.(this, summary, text);
      },
    });
  }

  /** The plugin's declared name once it has loaded; until then the one guessed from its path. */
  get name(): string {
    return this.currentName;
  }
  /** The module file the worker imports (a restart may point it elsewhere). */
  get modulePath(): string {
    return this.currentModulePath;
  }
  /** The plugins[] entry in force (a restart may bring a new one). */
  get cfg(): PluginConfig {
    return this.currentCfg;
  }
  /** The lifecycle state; `paused` while a running plugin's delivery is held. */
  get state(): PluginState {
    return this.paused && this.currentState === 'running' ? 'paused' : this.currentState;
  }
  /** Whether an operator paused the plugin (it stays paused across restarts until resumed). */
  get isPaused(): boolean {
    return this.paused;
  }
  /** Why the plugin is failed or restarting, as a sentence. */
  get reason(): string | undefined {
    return this.currentReason;
  }
  /** What the module declared at its last successful init. */
  get info(): InitResult | undefined {
    return this.declared;
  }
  get restarts(): number {
    return this.restartCount;
  }
  /** Deliver events caused by this plugin's own writes (plugins[].receiveOwnEvents). */
  get receiveOwnEvents(): boolean {
    return this.cfg.receiveOwnEvents;
  }
  /** Whether the plugin may write through ctx.database.query (plugins[].write). */
  get write(): boolean {
    return this.cfg.write;
  }
  /** The plugin's override of the remediation policy. */
  get remediation(): PluginConfig['remediation'] {
    return this.cfg.remediation;
  }

  /**
   * Marks the plugin failed without (or instead of) running it, e.g. when its module cannot be
   * found: the worker (if any) is torn down, queued events are dropped (plugin_failed) and new
   * ones are counted as dropped.
   */
  markFailed(reason: string): void {
    if (this.currentState === 'failed') return;
    clearTimeout(this.restartTimer);
    this.generation++;
    this.currentState = 'failed';
    this.currentReason = reason;
    this.inFlight.clear();
    this.poison.reset();
    void this.teardownWorker(reason);
    this.queue.dropAll('plugin_failed', true);
    this.log.error(`The plugin at ${this.modulePath} is marked failed: ${reason}`);
    this.notifyIdle();
  }

  /** Whether this plugin wants events of `type` (its `events` subscription). */
  subscribes(type: string): boolean {
    const ev = this.declared?.events;
    if (!ev) return true;
    for (const p of ev) if (eventTypeMatches(p, type)) return true;
    return false;
  }

  /** Offers an event to the queue; counted whatever happens. */
  offer(event: DatabaseEvent): void {
    if (this.currentState === 'failed' || this.currentState === 'stopped') {
      this.queue.refuse(this.currentState === 'failed' ? 'plugin_failed' : 'plugin_stopped');
      return;
    }
    this.queue.push(event, this.paused ? 'paused' : 'queue_full');
    if (this.currentState === 'running' && this.inFlight.length < MAX_BATCHES_IN_FLIGHT) this.dispatch();
  }

  /** Offers events in order and sends what waits at once, as one batch where batchSize allows (the router's way). */
  offerAll(events: readonly DatabaseEvent[]): void {
    if (this.currentState === 'failed' || this.currentState === 'stopped') {
      for (let i = 0; i < events.length; i++) this.queue.refuse(this.currentState === 'failed' ? 'plugin_failed' : 'plugin_stopped');
      return;
    }
    const reason = this.paused ? 'paused' : 'queue_full';
    for (const event of events) this.queue.push(event, reason);
    if (this.currentState === 'running' && this.inFlight.length < MAX_BATCHES_IN_FLIGHT) this.dispatch();
  }

  /** Starts the worker and runs init; resolves when running, rejects (state failed) on init failure. */
  async start(): Promise<void> {
    const gen = ++this.generation;
    this.currentState = this.restartCount > 0 ? 'restarting' : 'starting';
    this.terminating = undefined;
    const pool = this.createPool({ resourceLimits: this.cfg.resourceLimits });
    pool.onError((err: Error) => this.onCrash(gen, `its worker thread failed: ${err.message}`));
    this.pool = pool;
    const channel = new WorkerChannel(
      this.name,
      this.log,
      this.onRpc(() => ({ name: this.name, write: this.write })),
      () => {
        if (this.currentState === 'running' || this.currentState === 'draining') this.onCrash(gen, 'its worker thread exited');
      },
      { limiter: this.limiter, onOverdue: (reason) => this.terminateForAction(gen, reason) },
    );
    this.channel = channel;
    this.progress.fill(0);
    const task: WorkerTask = {
      type: 'init',
      port: channel.workerPort,
      progress: this.progress.buffer as SharedArrayBuffer,
      modulePath: this.modulePath,
      config: this.cfg.config,
      ...(this.declared ? { expectedName: this.declared.name } : {}),
      limits: this.outputLimits,
    };
    let timer: NodeJS.Timeout | undefined;
    try {
      const initP = (pool.run(task, { transferList: [channel.workerPort] }) as Promise<InitAnswer>).then((a) => {
        if (!a.ok) throw deserializeError(a.error);
        return a.info;
      });
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new PluginInitError(`The plugin ${this.name} did not finish init() within ${this.cfg.initTimeoutMs} ms; raise plugins[].initTimeoutMs or make init faster.`)),
          this.cfg.initTimeoutMs,
        );
      });
      const info = await Promise.race([initP, timeout]);
      if (gen !== this.generation) return;
      this.declared = info;
      this.currentName = info.name;
      this.currentState = 'running';
      this.currentReason = undefined;
      this.hooks.onReady(this, info);
      this.startWatchdog();
      if (info.threadId !== undefined) this.busyThread = new BusyThreadWatch({ tid: info.threadId, plugin: this.name, log: this.log }).start();
      this.dispatch();
    } catch (err) {
      if (gen !== this.generation) return;
      const e = deserializeMaybe(err);
      this.currentReason = e.message;
      this.currentState = 'failed';
      await this.teardownWorker(`init failed: ${e.message}`);
      this.poison.reset();
      this.queue.dropAll('plugin_failed');
      this.hooks.onLifecycle?.(this, 'failed', e.message);
      throw e;
    } finally {
      clearTimeout(timer);
    }
  }

  private startWatchdog(): void {
    clearInterval(this.watchdog);
    this.watchdog = startHandlerWatchdog({
      progress: this.progress, handlerTimeoutMs: this.cfg.handlerTimeoutMs, now: this.now,
      watching: () => this.inFlight.length > 0 && !this.terminating,
      onOverdue: (reason) => {
        this.terminating = reason;
        // the in-flight run() rejects, which takes the crash path below
        void this.pool?.destroy().catch(() => undefined);
      },
    });
  }

  /**
   * Hands batches to the worker while fewer than MAX_BATCHES_IN_FLIGHT are unanswered. A suspect
   * event (poison-events.ts) goes alone, with nothing else in flight, so a crash names it.
   */
  private dispatch(): void {
    if (this.currentState !== 'running' && this.currentState !== 'draining') return;
    // paused holds delivery while running; a stop (draining) delivers what is queued
    if (this.paused && this.currentState === 'running') return;
    if (!this.pool) return;
    while (this.inFlight.length < MAX_BATCHES_IN_FLIGHT && this.queue.waiting > 0) {
      if (this.inFlight.careful) break;
      if (this.poison.isCareful(this.queue.peek())) {
        if (this.inFlight.length > 0) break;
        this.sendBatch(this.pool, 1, true);
        break;
      }
      this.sendBatch(this.pool, this.batchSize, false);
    }
    if (this.inFlight.length === 0 && this.queue.waiting === 0) this.notifyIdle();
  }

  private sendBatch(pool: WorkerPool, size: number, careful: boolean): void {
    const batch = this.queue.take(size);
    const entry = this.inFlight.add(batch, careful);
    const gen = this.generation;
    (pool.run({ type: 'events', seq: entry.seq, wire: encodeBatch(batch) } satisfies WorkerTask) as Promise<EventsResult>).then(
      (res) => {
        if (gen !== this.generation) return;
        // answers come back in order: the worker runs batches one after another
        this.inFlight.shift();
        this.queue.settle(batch.length, res.failed);
        this.poison.delivered(batch);
        this.hooks.onBatch?.(this, res, performance.now() - entry.startedAt);
        logBatchFailures(this.log, this.name, res);
        this.dispatch();
      },
      (err: Error) => {
        if (gen !== this.generation) return;
        this.onCrash(gen, this.terminating ?? `its worker stopped while handling events: ${err.message}`, { failedSeq: entry.seq });
      },
    );
  }

  /** The channel saw an action keep the worker busy past its deadline: terminate it, blaming no event. */
  private terminateForAction(gen: number, reason: string): void {
    if (gen !== this.generation || (this.currentState !== 'running' && this.currentState !== 'draining')) return;
    this.log.warn(`The plugin ${this.name} is being restarted: ${reason}. Actions must end at their deadline (actx.signal); the worker is terminated like a handler past handlerTimeoutMs.`);
    this.onCrash(gen, reason, { actionTimeout: true });
  }

  /**
   * Settles the batches that were in flight when the worker died (crash-accounting.ts), quarantines
   * the event that took it down or marks suspects (poison-events.ts), requeues the rest at the head
   * of the queue, then restarts the plugin or marks it failed.
   */
  private onCrash(gen: number, reason: string, how: { failedSeq?: number; actionTimeout?: boolean } = {}): void {
    if (gen !== this.generation || this.currentState === 'failed' || this.currentState === 'stopped') return;
    const v = triageCrash({
      inFlight: this.inFlight.batches, progress: this.progress, queue: this.queue, poison: this.poison, quarantine: this.quarantine, plugin: this.name, log: this.log,
      reason, ...how, onQuarantined: (qid, eventId) => this.hooks.onQuarantined?.(this, qid, eventId, reason),
    });
    this.inFlight.clear();
    // restart() is replacing the worker anyway: it goes on from here
    if (this.replacing) {
      this.diedWhileReplacing = true;
      return;
    }
    this.generation++;
    const draining = this.currentState === 'draining';
    this.terminating = undefined;
    void this.teardownWorker(reason);
    const w = this.crashWindow.record(v.cause, v.reattribute);
    this.hooks.onLifecycle?.(this, 'crashed', reason);
    if (w.failed) {
      this.currentState = 'failed';
      this.currentReason = `The plugin crashed ${w.crashes} times within ${this.cfg.restart.windowMs} ms; last: ${reason}`;
      this.poison.reset();
      const lost = this.queue.dropAll('plugin_failed');
      this.log.error(`The plugin ${this.name} is marked failed after ${w.crashes} crashes within ${this.cfg.restart.windowMs} ms (last: ${reason}); ${lost} queued events were dropped and new ones will be counted as dropped. Fix the plugin and restart it (\`heimdall plugins restart ${this.name}\`).`);
      this.hooks.onLifecycle?.(this, 'failed', this.currentReason);
      this.notifyIdle();
      return;
    }
    const delay = this.crashWindow.backoffMs();
    this.currentState = 'restarting';
    this.currentReason = reason;
    this.log.warn(`The plugin ${this.name} crashed: ${reason}. It restarts with fresh state in ${delay} ms; ${this.queue.queued} events stay queued.`);
    this.restartTimer = setTimeout(() => {
      this.restartCount++;
      this.start().then(
        () => {
          if (draining && this.currentState === 'running') this.currentState = 'draining';
          this.hooks.onLifecycle?.(this, 'restarted', reason);
          this.log.info(`The plugin ${this.name} restarted (restart ${this.restartCount}).`);
        },
        (err: Error) => this.log.error(`The plugin ${this.name} could not be restarted: ${err.message}`),
      );
    }, delay);
  }

  /**
   * Puts a quarantined event back at the head of the queue (a new receive). Throws when the plugin
   * cannot take it now: failed or stopped (PluginUnavailableError), or its queue is full.
   */
  retry(event: DatabaseEvent): void {
    if (this.currentState === 'failed' || this.currentState === 'stopped' || this.currentState === 'draining') {
      throw new PluginUnavailableError(`The plugin ${this.name} is ${this.currentState}, so the event cannot be delivered to it again now.${this.currentReason ? ` Reason: ${this.currentReason}` : ''}`);
    }
    if (!this.queue.pushFront(event)) {
      throw new QueueFullError(`The queue of the plugin ${this.name} is full (${this.queue.capacity} events), so the event stays in quarantine; retry once it has drained.`, { capacity: this.queue.capacity });
    }
    if (this.currentState === 'running') this.dispatch();
  }

  private async teardownWorker(reason: string): Promise<void> {
    clearInterval(this.watchdog);
    this.busyThread?.stop();
    this.busyThread = undefined;
    this.hooks.onUnavailable(this);
    this.channel?.close(reason);
    this.channel = undefined;
    const pool = this.pool;
    this.pool = undefined;
    if (pool) await pool.destroy().catch(() => undefined);
  }

  /** Runs one of this plugin's actions in its worker (params already validated). */
  invoke(action: string, params: Record<string, unknown>, invocationId: string, trigger: ActionTrigger, timeoutMs: number, extras?: { chain: string[]; maxResultBytes: number }): Promise<ActionResult> {
    if ((this.currentState !== 'running' && this.currentState !== 'draining') || !this.channel) {
      return Promise.reject(new PluginUnavailableError(`The plugin ${this.name} is ${this.currentState}; its action ${action} cannot run now.${this.currentReason ? ` Reason: ${this.currentReason}` : ''}`));
    }
    return this.channel!.invoke(action, params, invocationId, trigger, timeoutMs, extras);
  }

  /**
   * Holds event delivery: events queue up to capacity (then are dropped by the whenFull policy,
   * reason `paused`); batches already in flight finish; actions still run. Returns false when the
   * plugin was paused already.
   */
  pause(): boolean {
    if (this.paused) return false;
    this.paused = true;
    this.log.info(`The plugin ${this.name} is paused: its events wait in its queue (${this.queue.queued} of ${this.queue.capacity} now) until it is resumed.`);
    return true;
  }

  /** Delivers again, starting with what queued while paused. Returns false when it was not paused. */
  resume(): boolean {
    if (!this.paused) return false;
    this.paused = false;
    this.log.info(`The plugin ${this.name} is resumed; the ${this.queue.waiting} events that waited are delivered now.`);
    this.dispatch();
    return true;
  }

  /**
   * Replaces the worker with a fresh one (fresh module state) and, when given, a new entry and
   * module file; the queue keeps its events and counters (a changed queue: section resizes it).
   * Batches in flight may finish until `deadline` (epoch ms); one still running then is settled
   * as after a crash (its event counted as failed, later ones requeued). The plugin's stop() is
   * called before the old worker goes. A failed plugin starts afresh (its crash count cleared).
   * Resolves when the new worker runs; rejects (state failed) when it cannot start. Restarts of
   * one host run one after another.
   */
  restart(reason: string, next: { cfg?: PluginConfig; modulePath?: string } = {}, deadline = this.now() + this.currentCfg.handlerTimeoutMs + 1000): Promise<void> {
    const run = this.restartChain.then(() => this.replaceWorker(reason, next, deadline));
    this.restartChain = run.catch(() => undefined);
    return run;
  }

  private async replaceWorker(reason: string, next: { cfg?: PluginConfig; modulePath?: string }, deadline: number): Promise<void> {
    if (this.currentState === 'stopped' || this.currentState === 'draining') {
      throw new PluginUnavailableError(`The plugin ${this.name} is ${this.currentState}, so it cannot be restarted.`);
    }
    clearTimeout(this.restartTimer);
    this.replacing = true;
    this.diedWhileReplacing = false;
    try {
      const wasRunning = this.currentState === 'running';
      this.currentState = 'restarting';
      this.currentReason = reason;
      if (this.inFlight.length > 0) {
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([this.inFlight.whenEmpty(), new Promise<void>((r) => (timer = setTimeout(r, Math.max(0, deadline - this.now()))))]);
        clearTimeout(timer);
      }
      this.generation++;
      if (this.inFlight.length > 0) {
        // what finished is delivered; the event still running is counted as failed (a restart is not its fault: no quarantine); what never ran goes back to the head
        const { running, unrun } = settleCrashedBatches(this.inFlight.batches, this.progress, this.queue);
        this.inFlight.clear();
        if (running) {
          this.queue.settle(1, 1);
          this.log.warn({ eventId: running.id }, `The plugin ${this.name} was still handling event ${running.id} when it had to restart (${reason}); that event is counted as failed.`);
        }
        if (unrun.length > 0) this.queue.requeueFront(unrun);
      }
      const pool = this.pool;
      if (pool && wasRunning && this.declared && !this.diedWhileReplacing) await runPluginStop(pool, 5000, this.log, this.name, ' before its restart');
      await this.teardownWorker(`the plugin is restarting: ${reason}`);
      if (next.cfg) this.adopt(next.cfg);
      if (next.modulePath) this.currentModulePath = next.modulePath;
      // a restart asked for starts the crash window afresh (with the restart: settings of the entry in force)
      this.crashWindow = new CrashWindow(this.currentCfg.restart, this.now);
      this.poison.reset();
      this.restartCount++;
    } finally {
      this.replacing = false;
    }
    await this.start();
    this.hooks.onLifecycle?.(this, 'restarted', reason);
  }

  /** Takes a new plugins[] entry: its queue settings resize the queue (events and counters kept). */
  private adopt(cfg: PluginConfig): void {
    this.currentCfg = cfg;
    const limits = { ...this.outputBase.limits, ...definedOnly(cfg.limits) };
    if (JSON.stringify(limits) !== JSON.stringify(this.outputLimits)) {
      this.limiter.summarise();
      this.limiter.close();
      this.outputLimits = limits;
      this.limiter = this.makeLimiter();
    }
    if (cfg.queue.capacity !== this.queue.capacity || cfg.queue.whenFull !== this.queue.whenFull) {
      const dropped = this.queue.resize(cfg.queue.capacity, cfg.queue.whenFull);
      if (dropped > 0) this.log.warn(`The queue of the plugin ${this.name} shrank to ${cfg.queue.capacity}; ${dropped} waiting events did not fit and were dropped (reason queue_full).`);
    }
    this.batchSize = Math.max(1, Math.min(cfg.queue.batchSize, cfg.queue.capacity));
  }

  private notifyIdle(): void {
    const w = this.idleWaiters;
    this.idleWaiters = [];
    for (const f of w) f();
  }

  /** Resolves when nothing is queued or in flight (or the plugin cannot make progress). */
  private whenIdle(): Promise<void> {
    if (this.queue.queued === 0 || this.currentState === 'failed' || this.currentState === 'stopped') return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  /**
   * Drains the queue until `deadline` (epoch ms), counts whatever is left as dropped (reason
   * shutdown), calls the plugin's stop(), and terminates the worker.
   */
  async stop(deadline: number): Promise<{ leftOver: number }> {
    // a restart under way finishes first, so its new worker is the one that drains
    await this.restartChain;
    clearTimeout(this.restartTimer);
    if (this.currentState === 'running' || this.currentState === 'restarting' || this.currentState === 'starting') this.currentState = 'draining';
    // a paused plugin delivers what waits while it drains
    this.dispatch();
    let timer: NodeJS.Timeout | undefined;
    const remaining = Math.max(0, deadline - this.now());
    await Promise.race([this.whenIdle(), new Promise<void>((r) => (timer = setTimeout(r, remaining)))]);
    clearTimeout(timer);
    // From here a batch still in flight is counted as dropped; its late answer is ignored.
    this.generation++;
    const leftOver = this.queue.dropAll('shutdown', true);
    this.inFlight.clear();
    if (leftOver > 0) {
      this.log.warn(`The plugin ${this.name} still had ${leftOver} events queued at the shutdown deadline; they were dropped (counted as dropped, reason shutdown).`);
    }
    const pool = this.pool;
    if (pool && this.currentState === 'draining' && this.declared) await runPluginStop(pool, Math.max(1000, deadline - this.now()), this.log, this.name);
    const wasFailed = this.currentState === 'failed';
    await this.teardownWorker('the daemon is shutting down');
    if (!wasFailed) this.currentState = 'stopped';
    this.limiter.summarise();
    this.limiter.close();
    return { leftOver };
  }

  status(): PluginStatus {
    return {
      name: this.name,
      ...(this.declared?.version ? { version: this.declared.version } : {}),
      ...(this.declared?.description ? { description: this.declared.description } : {}),
      path: this.modulePath,
      state: this.state,
      ...(this.currentReason ? { reason: this.currentReason } : {}),
      events: this.declared?.events ?? ['*'],
      actions: (this.declared?.actions ?? []).map((a) => `heimdall.${this.name}.${a.name}`),
      restarts: this.restartCount,
      write: this.cfg.write,
      counters: this.queue.counters(),
      quarantined: this.quarantine.countFor?.(this.name) ?? 0,
      output: this.limiter.stats(),
      ...(this.busyThread?.lowered ? { lowPriority: true as const } : {}),
    };
  }
}

/** The keys of a partial object that are set (plugins[].limits leaves the others to limits.plugins). */
function definedOnly<T extends object>(o: T | undefined): Partial<T> {
  if (!o) return {};
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function deserializeMaybe(err: unknown): Error {
  if (err instanceof Error) return err;
  return new Error(String(err));
}
