/**
 * Runs the plugin's stop() in its worker (the `stop` task) before the worker goes, for a restart or
 * a shutdown, with a deadline: a stop() that throws or does not finish in time is logged as a
 * sentence and the host goes on (the worker is terminated either way).
 */
import type { Logger } from 'pino';
import type { WorkerTask } from './protocol.js';
import type { WorkerPool } from './worker-pool.js';

/** Calls stop() in `pool` and waits for it at most `timeoutMs`; `when` ends the warning (" before its restart"). */
export async function runPluginStop(pool: WorkerPool, timeoutMs: number, log: Pick<Logger, 'warn'>, plugin: string, when = ''): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      pool.run({ type: 'stop' } satisfies WorkerTask),
      new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`stop() did not finish within ${timeoutMs} ms`)), timeoutMs))),
    ]);
  } catch (err) {
    log.warn(`The plugin ${plugin} failed in stop()${when}: ${(err as Error).message}.`);
  } finally {
    clearTimeout(timer);
  }
}
