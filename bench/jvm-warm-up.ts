/**
 * Warming a JVM up until its JIT compiler is done, for the Neo4j benchmarks. A fresh Neo4j spends
 * its first minute or so compiling: on this 2-core machine its compiler threads ("C1/C2
 * CompilerThread") took 40-70% of a core for about 45 s of closed-loop writes, while 8 writers beside
 * a draining daemon went from 213 to about 1,050 tx/s (bench probe, 2026-12-04). A phase measured in
 * that window measures the JVM's start-up, and worse, a phase whose code paths are new (a trigger,
 * the daemon's outbox queries) pays the compilation its baseline did not. So a phase first runs its
 * own load until the compiler threads' CPU falls below a share of one core over one round.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { statCpuS } from './proc-cpu.js';

/** CPU seconds the JIT compiler threads of the JVM `pid` have used (Linux /proc; 0 where it cannot say). */
export function compilerCpuS(pid: number): number {
  let seconds = 0;
  let tasks: string[];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return 0;
  }
  for (const t of tasks) {
    try {
      const s = readFileSync(`/proc/${pid}/task/${t}/stat`, 'utf8');
      const name = s.slice(s.indexOf('(') + 1, s.lastIndexOf(')'));
      if (/^C[12] CompilerThre/.test(name)) seconds += statCpuS(s);
    } catch {
      // the thread ended between the listing and the read
    }
  }
  return seconds;
}

export interface WarmUp {
  /** Seconds of load run before the compiler settled (or the cap). */
  seconds: number;
  /** Compiler threads' CPU in the last round, % of one core. */
  compilerPct: number;
  /** Whether it fell below the threshold before the cap. */
  settled: boolean;
}

/**
 * Runs `round` (one stretch of the phase's own load) again and again until the compiler threads of
 * JVM `pid` used less than `settledPct` % of one core during one, or `maxS` seconds have passed.
 */
export async function warmUntilCompiled(pid: number, round: () => Promise<unknown>, opts: { maxS: number; settledPct?: number }): Promise<WarmUp> {
  const settledPct = opts.settledPct ?? 10;
  const t0 = performance.now();
  for (;;) {
    const c0 = compilerCpuS(pid);
    const r0 = performance.now();
    await round();
    const pct = ((compilerCpuS(pid) - c0) / ((performance.now() - r0) / 1000)) * 100;
    const seconds = (performance.now() - t0) / 1000;
    if (pct < settledPct || seconds >= opts.maxS) return { seconds, compilerPct: pct, settled: pct < settledPct };
  }
}
