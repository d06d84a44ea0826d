/**
 * One plugin: its bounded queue, its worker pool (by default piscina, one long-lived thread), its
 * lifecycle (starting → running → restarting/failed → draining → stopped), the dispatcher that
 * hands batches to the worker, the watchdog that terminates a handler past its deadline, and crash
 * recovery with backoff and fresh state. The state is the host's own: it changes only through
 * start(), stop(), markFailed(), restart(), pause()/resume() and the crash path, and others read it.
 *
 * restart() (an operator, a reload that changed the plugin's entry, `heimdall dev`) lets the
 * batches in flight finish, calls the plugin's stop(), and starts a fresh worker (a fresh module
 * graph, so fresh module state) with the new entry; the queue, its events and its counters stay.
 * pause() holds delivery: events queue up to capacity (beyond it they are dropped by the queue's
 * whenFull policy with reason `paused`) and resume() delivers them in order; actions still run.
 */
import type { Logger } from 'pino';
import {
  PluginInitError,
  PluginUnavailableError,
  deserializeError,
  eventTypeMatches,
  type ActionResult,
  type ActionTrigger,
  type DatabaseEvent,
} from '../../sdk/index.js';
import type { PluginConfig } from '../../config/types.js';
import { BoundedQueue } from '../queue/bounded-queue.js';
import type { PluginState, PluginStatus } from './plugin-status.js';
import { MAX_BATCHES_IN_FLIGHT, PROGRESS, type EventsResult, type InitAnswer, type InitResult, type WorkerTask } from './protocol.js';
import { WorkerChannel, type RpcHandler } from './worker-channel.js';
import type { PluginIdentity } from './host-ports.js';
import { settleCrashedBatches } from './crash-accounting.js';
import { piscinaPool, type WorkerPool, type WorkerPoolFactory } from './worker-pool.js';

export interface PluginHostHooks {
  /** Called after a (re)start succeeded, with what the plugin declared. */
  onReady(host: PluginHost, info: InitResult): void;
  /** Called when the plugin stops being able to run actions (crash, failed, stopped). */
  onUnavailable(host: PluginHost): void;
  /** Called after each batch with its handled count, failures and duration. */
  onBatch?(host: PluginHost, result: EventsResult, durationMs: number): void;
  /** Called on a crash, a restart, and when the plugin is marked failed. */
  onLifecycle?(host: PluginHost, what: 'crashed' | 'restarted' | 'failed', reason: string): void;
}

/** What a host takes from its surroundings; the defaults are the real ones. */
export interface PluginHostEnvironment {
  /** Builds the worker pool of each (re)start. Default: piscina, one thread. */
  createPool?: WorkerPoolFactory;
  /** Epoch ms, for the crash window and the handler watchdog. Default Date.now. */
  now?: () => number;
}

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
  private inFlightWaiters: Array<() => void> = [];
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
  private inFlight: Array<{ seq: number; batch: DatabaseEvent[]; startedAt: number }> = [];
  private nextSeq = 1;
  private terminating: string | undefined;
  private crashTimes: number[] = [];
  private restartTimer: NodeJS.Timeout | undefined;
  private watchdog: NodeJS.Timeout | undefined;
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
    this.inFlight = [];
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

  /** Starts the worker and runs init; resolves when running, rejects (state failed) on init failure. */
  async start(): Promise<void> {
    const gen = ++this.generation;
    this.currentState = this.restartCount > 0 ? 'restarting' : 'starting';
    this.terminating = undefined;
    const pool = this.createPool({ resourceLimits: this.cfg.resourceLimits });
    pool.onError((err: Error) => this.onCrash(gen, `its worker thread failed: ${err.message}`));
    this.pool = pool;
    const channel = new WorkerChannel(this.name, this.log, this.onRpc(() => ({ name: this.name, write: this.write })), () => {
      if (this.currentState === 'running' || this.currentState === 'draining') this.onCrash(gen, 'its worker thread exited');
    });
    this.channel = channel;
    this.progress.fill(0);
    const task: WorkerTask = {
      type: 'init',
      port: channel.workerPort,
      progress: this.progress.buffer as SharedArrayBuffer,
      modulePath: this.modulePath,
      config: this.cfg.config,
      ...(this.declared ? { expectedName: this.declared.name } : {}),
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
      this.dispatch();
    } catch (err) {
      if (gen !== this.generation) return;
      const e = deserializeMaybe(err);
      this.currentReason = e.message;
      this.currentState = 'failed';
      await this.teardownWorker(`init failed: ${e.message}`);
      this.queue.dropAll('plugin_failed');
      this.hooks.onLifecycle?.(this, 'failed', e.message);
      throw e;
    } finally {
      clearTimeout(timer);
    }
  }

  private startWatchdog(): void {
    clearInterval(this.watchdog);
    const every = Math.max(10, Math.min(250, Math.floor(this.cfg.handlerTimeoutMs / 4)));
    const gen = this.generation;
    this.watchdog = setInterval(() => {
      const started = this.progress[PROGRESS.HANDLER_STARTED_AT]!;
      if (started > 0 && this.inFlight.length > 0 && this.now() - started > this.cfg.handlerTimeoutMs && !this.terminating) {
        this.terminating = `its onDatabaseEvent handler ran past the ${this.cfg.handlerTimeoutMs} ms deadline (plugins[].handlerTimeoutMs)`;
        void this.pool?.destroy().catch(() => undefined);
        // the in-flight run() rejects, which takes the crash path below
        void gen;
      }
    }, every);
    this.watchdog.unref();
  }

  /** Hands batches to the worker while fewer than MAX_BATCHES_IN_FLIGHT are unanswered. */
  private dispatch(): void {
    if (this.currentState !== 'running' && this.currentState !== 'draining') return;
    // paused holds delivery while running; a stop (draining) delivers what is queued
    if (this.paused && this.currentState === 'running') return;
    if (!this.pool) return;
    while (this.inFlight.length < MAX_BATCHES_IN_FLIGHT && this.queue.waiting > 0) this.sendBatch(this.pool);
    if (this.inFlight.length === 0 && this.queue.waiting === 0) this.notifyIdle();
  }

  private sendBatch(pool: WorkerPool): void {
    const batch = this.queue.take(this.batchSize);
    const entry = { seq: this.nextSeq++, batch, startedAt: performance.now() };
    this.inFlight.push(entry);
    const gen = this.generation;
    (pool.run({ type: 'events', seq: entry.seq, batch } satisfies WorkerTask) as Promise<EventsResult>).then(
      (res) => {
        if (gen !== this.generation) return;
        // answers come back in order: the worker runs batches one after another
        this.inFlight.shift();
        if (this.inFlight.length === 0) this.notifyInFlightDone();
        this.queue.settle(batch.length, res.failed);
        this.hooks.onBatch?.(this, res, performance.now() - entry.startedAt);
        for (const f of res.failures) {
          const e = deserializeError(f.error);
          this.log.warn({ eventId: f.id, err: { message: e.message, stack: e.stack } }, `The plugin ${this.name} threw while handling event ${f.id}: ${e.message}. The event is counted as failed and the next one is delivered.`);
        }
        if (res.failed > res.failures.length) {
          this.log.warn(`The plugin ${this.name} threw on ${res.failed - res.failures.length} more events of the same batch.`);
        }
        this.dispatch();
      },
      (err: Error) => {
        if (gen !== this.generation) return;
        this.onCrash(gen, this.terminating ?? `its worker stopped while handling events: ${err.message}`);
      },
    );
  }

  /**
   * Settles the batches that were in flight when the worker died — those before the one it was
   * working on finished, that one up to its progress, later ones not at all — requeues what never
   * ran at the head of the queue, then restarts the plugin or marks it failed.
   */
  private onCrash(gen: number, reason: string): void {
    if (gen !== this.generation || this.currentState === 'failed' || this.currentState === 'stopped') return;
    const { lost } = settleCrashedBatches(this.inFlight, this.progress, this.queue);
    this.inFlight = [];
    this.notifyInFlightDone();
    if (lost) this.log.error({ eventId: lost.id }, `The plugin ${this.name} lost event ${lost.id}: ${reason}. It is counted as failed.`);
    // restart() is replacing the worker anyway: it goes on from here
    if (this.replacing) {
      this.diedWhileReplacing = true;
      return;
    }
    this.generation++;
    const draining = this.currentState === 'draining';
    void this.teardownWorker(reason);
    const now = this.now();
    this.crashTimes = this.crashTimes.filter((t) => now - t < this.cfg.restart.windowMs);
    this.crashTimes.push(now);
    this.hooks.onLifecycle?.(this, 'crashed', reason);
    if (this.crashTimes.length > this.cfg.restart.maxRestarts) {
      this.currentState = 'failed';
      this.currentReason = `The plugin crashed ${this.crashTimes.length} times within ${this.cfg.restart.windowMs} ms; last: ${reason}`;
      const lost = this.queue.dropAll('plugin_failed');
      this.log.error(`The plugin ${this.name} is marked failed after ${this.crashTimes.length} crashes within ${this.cfg.restart.windowMs} ms (last: ${reason}); ${lost} queued events were dropped and new ones will be counted as dropped. Fix the plugin and restart it (\`heimdall plugins restart ${this.name}\`).`);
      this.hooks.onLifecycle?.(this, 'failed', this.currentReason);
      this.notifyIdle();
      return;
    }
    const delay = Math.min(this.cfg.restart.maxBackoffMs, this.cfg.restart.backoffMs * 2 ** (this.crashTimes.length - 1));
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

  private async teardownWorker(reason: string): Promise<void> {
    clearInterval(this.watchdog);
    this.hooks.onUnavailable(this);
    this.channel?.close(reason);
    this.channel = undefined;
    const pool = this.pool;
    this.pool = undefined;
    if (pool) await pool.destroy().catch(() => undefined);
  }

  /** Runs one of this plugin's actions in its worker (params already validated). */
  invoke(action: string, params: Record<string, unknown>, invocationId: string, trigger: ActionTrigger, timeoutMs: number): Promise<ActionResult> {
    if ((this.currentState !== 'running' && this.currentState !== 'draining') || !this.channel) {
      return Promise.reject(new PluginUnavailableError(`The plugin ${this.name} is ${this.currentState}; its action ${action} cannot run now.${this.currentReason ? ` Reason: ${this.currentReason}` : ''}`));
    }
    return this.channel!.invoke(action, params, invocationId, trigger, timeoutMs);
  }

  private notifyInFlightDone(): void {
    const w = this.inFlightWaiters;
    this.inFlightWaiters = [];
    for (const f of w) f();
  }

  /** Resolves when no batch is in flight. */
  private whenNothingInFlight(): Promise<void> {
    if (this.inFlight.length === 0) return Promise.resolve();
    return new Promise((r) => this.inFlightWaiters.push(r));
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
        await Promise.race([this.whenNothingInFlight(), new Promise<void>((r) => (timer = setTimeout(r, Math.max(0, deadline - this.now()))))]);
        clearTimeout(timer);
      }
      this.generation++;
      if (this.inFlight.length > 0) {
        const { lost } = settleCrashedBatches(this.inFlight, this.progress, this.queue);
        this.inFlight = [];
        if (lost) this.log.warn({ eventId: lost.id }, `The plugin ${this.name} was still handling event ${lost.id} when it had to restart (${reason}); that event is counted as failed.`);
      }
      const pool = this.pool;
      if (pool && wasRunning && this.declared && !this.diedWhileReplacing) {
        let t: NodeJS.Timeout | undefined;
        try {
          await Promise.race([pool.run({ type: 'stop' } satisfies WorkerTask), new Promise((_, rej) => (t = setTimeout(() => rej(new Error('stop() did not finish within 5000 ms')), 5000)))]);
        } catch (err) {
          this.log.warn(`The plugin ${this.name} failed in stop() before its restart: ${(err as Error).message}.`);
        } finally {
          clearTimeout(t);
        }
      }
      await this.teardownWorker(`the plugin is restarting: ${reason}`);
      if (next.cfg) this.adopt(next.cfg);
      if (next.modulePath) this.currentModulePath = next.modulePath;
      this.crashTimes = [];
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
    this.inFlight = [];
    if (leftOver > 0) {
      this.log.warn(`The plugin ${this.name} still had ${leftOver} events queued at the shutdown deadline; they were dropped (counted as dropped, reason shutdown).`);
    }
    const pool = this.pool;
    if (pool && this.currentState === 'draining' && this.declared) {
      const stopDeadline = Math.max(1000, deadline - this.now());
      let t2: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          pool.run({ type: 'stop' } satisfies WorkerTask),
          new Promise((_, rej) => (t2 = setTimeout(() => rej(new Error(`stop() did not finish within ${stopDeadline} ms`)), stopDeadline))),
        ]);
      } catch (err) {
        this.log.warn(`The plugin ${this.name} failed in stop(): ${(err as Error).message}.`);
      } finally {
        clearTimeout(t2);
      }
    }
    const wasFailed = this.currentState === 'failed';
    await this.teardownWorker('the daemon is shutting down');
    if (!wasFailed) this.currentState = 'stopped';
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
    };
  }
}

function deserializeMaybe(err: unknown): Error {
  if (err instanceof Error) return err;
  return new Error(String(err));
}
