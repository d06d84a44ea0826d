/**
 * CPU time of this process's main thread alone (Linux: /proc/self/task/<pid>/stat, utime + stime),
 * so that a benchmark can report what the daemon's event loop spends without counting its plugin
 * workers, what the plugin workers spend, and the rest (garbage-collector helpers and other threads).
 * process.cpuUsage() counts every thread of the process; it is given beside it.
 */
import { readFileSync } from 'node:fs';
import { threadCpuMs as daemonThreadCpuMs } from '../daemon/workers/busy-thread.js';

/** CPU ms of the thread `tid` of this process so far; NaN once it is gone. */
const threadCpuMs = (tid: number): number => daemonThreadCpuMs(tid) ?? NaN;

/** Clock ticks per second of /proc's utime and stime (USER_HZ, 100 on Linux). */
const TICKS_PER_S = 100;

/** CPU ms of the main thread so far, or NaN where /proc is not there. */
export function mainThreadCpuMs(): number {
  try {
    const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
    // fields after the parenthesised command: state is field 3, utime 14, stime 15
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(rest[11]) + Number(rest[12])) * 1000) / TICKS_PER_S;
  } catch {
    return NaN;
  }
}

export interface CpuSpan {
  /** Main thread CPU ms over the span. */
  mainMs: number;
  /** Every thread of the process (process.cpuUsage), ms. */
  processMs: number;
  /** The worker threads named when the span started (their OS thread ids), ms in all. */
  workersMs: number;
  /** The rest: V8's garbage-collector helpers, libuv's pool and other threads, ms. */
  otherMs: number;
}

/**
 * Starts measuring; the returned function gives the CPU spent since: the main thread, the worker
 * threads `workerTids` (read again at the end, so call it before they stop), and the process.
 */
export function cpuSpan(workerTids: readonly number[] = []): () => CpuSpan {
  const m0 = mainThreadCpuMs();
  const w0 = workerTids.map(threadCpuMs);
  const p0 = process.cpuUsage();
  return () => {
    const p = process.cpuUsage(p0);
    const mainMs = mainThreadCpuMs() - m0;
    const workersMs = workerTids.reduce((a, tid, i) => a + (threadCpuMs(tid) - w0[i]!), 0);
    const processMs = (p.user + p.system) / 1000;
    return { mainMs, processMs, workersMs, otherMs: processMs - mainMs - workersMs };
  };
}

