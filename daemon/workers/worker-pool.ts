/**
 * The worker pool a plugin host runs its plugin in: the few calls the host makes, and the default
 * factory (one piscina pool, one long-lived thread). A test hands the host a fake factory instead
 * and drives the tasks and the progress buffer itself.
 */
import type { MessagePort } from 'node:worker_threads';
import { Piscina } from 'piscina';
import type { ResourceLimitsConfig } from '../../config/types.js';
import { MAX_BATCHES_IN_FLIGHT, type WorkerTask } from './protocol.js';

export interface WorkerPool {
  /** Runs one task in the worker; `transferList` moves the init task's MessagePort. */
  run(task: WorkerTask, options?: { transferList?: MessagePort[] }): Promise<unknown>;
  /** Terminates the worker; tasks still running reject. */
  destroy(): Promise<void>;
  /** The worker thread failed outside a task. */
  onError(fn: (err: Error) => void): void;
}

export type WorkerPoolFactory = (opts: { resourceLimits: ResourceLimitsConfig }) => WorkerPool;

const WORKER_FILE = new URL('./plugin-worker.js', import.meta.url).href;

/**
 * One thread, `idleTimeout: Infinity`, `atomics: 'disabled'` (so the worker's MessagePort listeners
 * and timers run between tasks), and room for MAX_BATCHES_IN_FLIGHT tasks: the worker chains
 * batches itself, so a second one can be on its way while the first runs.
 */
export const piscinaPool: WorkerPoolFactory = ({ resourceLimits }) => {
  const pool = new Piscina({
    filename: WORKER_FILE,
    minThreads: 1,
    maxThreads: 1,
    idleTimeout: Infinity,
    atomics: 'disabled',
    concurrentTasksPerWorker: MAX_BATCHES_IN_FLIGHT,
    resourceLimits,
    env: process.env,
  });
  return {
    run: (task, options) => pool.run(task, options),
    destroy: () => pool.destroy(),
    onError: (fn) => void pool.on('error', fn),
  };
};
