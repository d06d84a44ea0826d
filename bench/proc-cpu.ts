/**
 * CPU time from Linux's /proc for the benchmarks: of a process (all its threads), or of one thread of
 * any process. The command name (field 2) may hold spaces and parentheses, so the fields are counted
 * after its last ')'; utime and stime (fields 14, 15) are clock ticks of 10 ms.
 */
import { readFileSync } from 'node:fs';

/** User + system CPU seconds in a /proc `stat` text. */
export function statCpuS(stat: string): number {
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** CPU seconds (user + system) the process `pid` has used, all threads. */
export function procCpuS(pid: number): number {
  return statCpuS(readFileSync(`/proc/${pid}/stat`, 'utf8'));
}
