/**
 * A fake worker pool for driving a PluginHost without threads: the test answers each batch, writes
 * the progress buffer as a worker would, and makes the "worker" crash when it wants.
 */
import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';
import type { PluginConfig } from '../../config/types.js';
import type { DatabaseEvent } from '../../sdk/index.js';
import { PROGRESS, type EventsResult, type InitResult, type WorkerTask } from '../../daemon/workers/protocol.js';
import type { WorkerPool, WorkerPoolFactory } from '../../daemon/workers/worker-pool.js';
import { decodeBatch } from '../../daemon/workers/event-wire.js';

export interface OpenBatch {
  seq: number;
  batch: DatabaseEvent[];
  resolve(result: EventsResult): void;
  reject(err: Error): void;
}

export class FakePool implements WorkerPool {
  progress: Float64Array<ArrayBufferLike> = new Float64Array(PROGRESS.LENGTH);
  /** Batches sent and not answered yet, oldest first. */
  readonly open: OpenBatch[] = [];
  /** Every batch this pool was sent, in order. */
  readonly sent: DatabaseEvent[][] = [];
  destroyed = false;
  /** How many stop tasks (the plugin's stop()) this pool ran. */
  stops = 0;
  private readonly errorListeners: Array<(err: Error) => void> = [];

  constructor(private readonly declared: InitResult) {}

  run(task: WorkerTask): Promise<unknown> {
    switch (task.type) {
      case 'init':
        this.progress = new Float64Array(task.progress);
        return Promise.resolve({ ok: true, info: this.declared });
      case 'events': {
        // what the worker would see: the batch as it crossed (event-wire.ts)
        const batch = decodeBatch(task.wire);
        this.sent.push(batch);
        return new Promise((resolve, reject) => this.open.push({ seq: task.seq, batch, resolve, reject }));
      }
      case 'stop':
        this.stops++;
        return Promise.resolve(undefined);
    }
  }

  async destroy(): Promise<void> {
    this.destroyed = true;
    for (const b of this.open.splice(0)) b.reject(new Error('the worker was terminated'));
  }

  onError(fn: (err: Error) => void): void {
    this.errorListeners.push(fn);
  }

  /** Answers the oldest open batch: every event handled, `failed` of them threw. */
  answer(failed = 0): DatabaseEvent[] {
    const b = this.open.shift();
    if (!b) throw new Error('No batch is open.');
    b.resolve({ handled: b.batch.length, failed, failures: [], buckets: [], sumMs: 0 });
    return b.batch;
  }

  /** Writes the progress buffer as the worker does while it runs batch `seq`. */
  setProgress(p: { seq: number; completed: number; failed?: number; handlerStartedAt?: number }): void {
    this.progress[PROGRESS.BATCH_SEQ] = p.seq;
    this.progress[PROGRESS.COMPLETED] = p.completed;
    this.progress[PROGRESS.FAILED] = p.failed ?? 0;
    this.progress[PROGRESS.HANDLER_STARTED_AT] = p.handlerStartedAt ?? 0;
  }

  /** The worker thread fails outside a task (piscina's 'error' event). */
  crash(err: Error): void {
    for (const fn of this.errorListeners) fn(err);
  }
}

/** Hands a new FakePool to every (re)start of a host and keeps them in order. */
export class FakePools {
  readonly pools: FakePool[] = [];
  constructor(public declared: InitResult = { name: 'fake', version: '1.0.0', actions: [] }) {}

  readonly factory: WorkerPoolFactory = () => {
    const p = new FakePool(this.declared);
    this.pools.push(p);
    return p;
  };

  get current(): FakePool {
    const p = this.pools.at(-1);
    if (!p) throw new Error('No pool was created yet.');
    return p;
  }
}

/** A plugins[] entry with the loader's defaults; `over` replaces parts of it. */
export function pluginConfig(over: Partial<Omit<PluginConfig, 'queue' | 'restart'>> & { queue?: Partial<PluginConfig['queue']>; restart?: Partial<PluginConfig['restart']> } = {}): PluginConfig {
  const { queue, restart, ...rest } = over;
  return {
    path: 'fake.mjs',
    enabled: true,
    config: {},
    write: false,
    receiveOwnEvents: false,
    handlerTimeoutMs: 30_000,
    initTimeoutMs: 1000,
    resourceLimits: {},
    ...rest,
    queue: { capacity: 100, whenFull: 'drop_newest', batchSize: 3, ...queue },
    restart: { maxRestarts: 5, windowMs: 60_000, backoffMs: 0, maxBackoffMs: 0, ...restart },
  };
}

/** A pino logger that keeps each line's msg (and level) in `lines`. */
export function recordingLogger(): { log: Logger; lines: Array<{ level: number; msg: string }> } {
  const lines: Array<{ level: number; msg: string }> = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString().split('\n').filter(Boolean)) {
        const o = JSON.parse(l) as { level: number; msg: string };
        lines.push({ level: o.level, msg: o.msg });
      }
      done();
    },
  });
  return { log: pino({ level: 'debug' }, stream), lines };
}

/** `n` node.created events with ids e0, e1, …. */
export function events(n: number, from = 0, type: DatabaseEvent['type'] = 'node.created'): DatabaseEvent[] {
  return Array.from({ length: n }, (_, i) => ({ id: `e${from + i}`, type, timestamp: '2025-01-01T00:00:00.000Z', database: 'neo4j', source: 'test' }));
}
