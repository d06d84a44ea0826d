/**
 * The open-loop client of the bolt-proxy benchmarks: `rate` statements per second for `seconds`,
 * over a pool of sessions of one neo4j-driver driver, each statement sent when it is due (not when
 * the previous one returned); a statement due while every session is busy waits for the next free
 * one, so every statement is sent and a client that falls behind takes longer (achievedPerS = done
 * / the time until the last answer). Each carries `t0` (epoch ms, sub-ms precision, the send time) as a parameter, so a plugin
 * that sees the event (captureParams: full) can tell how long it took to reach it.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import neo4j, { type Driver } from 'neo4j-driver';
import { percentile } from './stats.js';

export const now = (): number => performance.timeOrigin + performance.now();

export interface LoadResult {
  sent: number;
  done: number;
  failed: number;
  achievedPerS: number;
  /** Client round trips, ms. */
  latencies: number[];
  /** The client's own event-loop delay meanwhile, ms: how late its callbacks (sends, answers) ran. */
  loopDelay: LoopDelay;
}

export interface LoopDelay {
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

export function loopDelayOf(h: { percentile(p: number): number; max: number }): LoopDelay {
  return { p50Ms: h.percentile(50) / 1e6, p99Ms: h.percentile(99) / 1e6, maxMs: h.max / 1e6 };
}

export const pct = (xs: number[], p: number): number => percentile([...xs].sort((a, b) => a - b), p);

/** Runs `statement` (params `i`, `t0` and `extra`) at `rate` per second for `seconds`. */
export async function openLoop(d: Driver, rate: number, seconds: number, statement = 'RETURN $i AS i', sessions = 32): Promise<LoadResult> {
  const pool = Array.from({ length: sessions }, () => d.session({ database: 'neo4j' }));
  const free = [...pool];
  let sent = 0;
  let done = 0;
  let failed = 0;
  const latencies: number[] = [];
  const loop = monitorEventLoopDelay({ resolution: 1 });
  loop.enable();
  const t0 = performance.now();
  const end = t0 + seconds * 1000;
  const total = Math.floor(seconds * rate);
  await new Promise<void>((resolve) => {
    const finished = (): boolean => sent === total && done + failed === sent;
    const tick = (): void => {
      const t = performance.now();
      // (end - t0) need not be exactly seconds * 1000 in floating point: past the end, all are due
      const due = t >= end ? total : Math.min(Math.floor(((t - t0) / 1000) * rate), total);
      while (sent < due) {
        const s = free.pop();
        if (!s) break;
        const i = sent++;
        const start = performance.now();
        s.run(statement, { i: neo4j.int(i), t0: now() })
          .then(
            () => {
              done++;
              latencies.push(performance.now() - start);
            },
            () => void failed++,
          )
          .finally(() => {
            free.push(s);
            if (finished()) resolve();
          });
      }
      if (finished()) resolve();
      else if (sent < total) setTimeout(tick, 1); // statements still due (or overdue: every session was busy)
    };
    tick();
  });
  const wall = (performance.now() - t0) / 1000;
  loop.disable();
  await Promise.all(pool.map((s) => s.close()));
  return { sent, done, failed, achievedPerS: done / wall, latencies, loopDelay: loopDelayOf(loop) };
}

/**
 * Runs `measured` between two halves of `baseline` (each half as long as measured takes at half
 * its length), so a load that drifts during the run lands on both alike; returns both, the
 * baseline's halves merged (its loop delay: the mean p50, the worse p99 and max).
 */
export async function aroundBaseline<T>(baseline: (seconds: number) => Promise<LoadResult>, seconds: number, measured: () => Promise<T>): Promise<{ baseline: LoadResult; measured: T }> {
  const a = await baseline(seconds / 2);
  const m = await measured();
  const b = await baseline(seconds / 2);
  return { baseline: mergeLoads(a, b), measured: m };
}

export function mergeLoads(a: LoadResult, b: LoadResult): LoadResult {
  return {
    sent: a.sent + b.sent,
    done: a.done + b.done,
    failed: a.failed + b.failed,
    achievedPerS: (a.achievedPerS + b.achievedPerS) / 2,
    latencies: [...a.latencies, ...b.latencies],
    loopDelay: { p50Ms: (a.loopDelay.p50Ms + b.loopDelay.p50Ms) / 2, p99Ms: Math.max(a.loopDelay.p99Ms, b.loopDelay.p99Ms), maxMs: Math.max(a.loopDelay.maxMs, b.loopDelay.maxMs) },
  };
}

/** One line of the bolt benchmark's table: the figure, its baseline from the same run, the target, and whether it was met ('' when there is no target). */
export type Row = [metric: string, measured: string, baseline: string, target: string, met: string];

export const met = (ok: boolean): string => (ok ? 'met' : 'MISSED');

export function printRows(title: string, rows: Row[]): void {
  const head: Row = ['metric', 'measured', 'baseline', 'target', 'met?'];
  const w = [0, 1, 2, 3].map((c) => Math.max(...[head, ...rows].map((r) => r[c]!.length)));
  console.log(`\n${title}`);
  const line = (r: string[]): string => `${r[0]!.padEnd(w[0]!)}  ${r[1]!.padStart(w[1]!)}  ${r[2]!.padStart(w[2]!)}  ${r[3]!.padEnd(w[3]!)}  ${r[4]}`;
  console.log(line(head));
  console.log(line([...w.map((n) => '-'.repeat(n)), '------']));
  for (const r of rows) console.log(line(r));
}

/** The machine's load averages (1, 5, 15 min) and CPU count: the benchmark shares a small machine. */
export async function machineLoad(): Promise<{ loadAverage: number[]; cpus: number }> {
  const os = await import('node:os');
  return { loadAverage: os.loadavg().map((x) => Math.round(x * 100) / 100), cpus: os.cpus().length };
}
