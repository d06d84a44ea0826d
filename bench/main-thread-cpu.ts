/**
 * CPU time of this process's main thread alone (Linux: /proc/self/task/<pid>/stat, utime + stime),
 * so that a benchmark can report what the daemon's event loop spends without counting its plugin
 * workers. process.cpuUsage() counts every thread of the process; it is given beside it.
 */
import { readFileSync } from 'node:fs';

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
}

/** Starts measuring; the returned function gives the CPU spent since. */
export function cpuSpan(): () => CpuSpan {
  const m0 = mainThreadCpuMs();
  const p0 = process.cpuUsage();
  return () => {
    const p = process.cpuUsage(p0);
    return { mainMs: mainThreadCpuMs() - m0, processMs: (p.user + p.system) / 1000 };
  };
}
