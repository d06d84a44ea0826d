/**
 * A plugin thread that keeps a core busy is moved to a lower CPU priority, so that it cannot starve
 * the daemon's main thread (its HTTP API, the Bifrost streams, the other plugins' dispatch).
 *
 * Plugin threads start at the daemon's own priority: a plugin that handles its events and waits
 * for the next ones then gets the CPU as soon as it has work, which keeps event latency low (bench/core.ts
 * (d) on 2 shared cores, ingest-to-handler p99 at half load, 6 runs each: 3.0–4.4 ms with one run at
 * 9.0 ms at the normal priority, against 7.6–30 ms with every plugin thread at nice 10). Once a thread has
 * used at least BUSY_SHARE of a core in BUSY_SAMPLES samples in a row (one a second), the host lowers
 * it to nice PLUGIN_THREAD_NICENESS (Linux: setpriority on the thread id) for the rest of its life, and
 * says so in one log line. A process may not raise a thread's priority again without privilege,
 * so the thread keeps the lower one until the plugin restarts (a new thread starts at the normal
 * priority). Elsewhere than on Linux, or when /proc cannot be read, nothing is watched.
 */
import { readFileSync, readlinkSync } from 'node:fs';
import { getPriority, setPriority } from 'node:os';
import type { Logger } from 'pino';

/** Niceness of a plugin thread that kept a core busy. */
export const PLUGIN_THREAD_NICENESS = 10;
/** Share of one core a sample must reach to count as busy. */
export const BUSY_SHARE = 0.9;
/** Busy samples in a row before the thread is lowered. */
export const BUSY_SAMPLES = 2;
const SAMPLE_MS = 1000;

/** The OS id of the calling thread (Linux), or undefined. */
export function currentThreadId(): number | undefined {
  if (process.platform !== 'linux') return undefined;
  try {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    return Number.isInteger(tid) && tid > 0 ? tid : undefined;
  } catch {
    return undefined;
  }
}

const TICK_MS = 10; // USER_HZ is 100 on every Linux the daemon runs on

/** CPU time (user + system) the thread `tid` of this process has used, ms; undefined once it is gone. */
export function threadCpuMs(tid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
    // the command name (field 2) may hold spaces and parentheses: count fields after its last ')'
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * TICK_MS;
  } catch {
    return undefined;
  }
}

/** Sets the thread's niceness to `niceness`, or leaves it where it is when it is already lower in priority. */
function lowerTo(tid: number, niceness: number): void {
  if (getPriority(tid) < niceness) setPriority(tid, niceness);
}

export interface BusyThreadOptions {
  tid: number;
  /** The plugin, for the log line. */
  plugin: string;
  log: Pick<Logger, 'warn'>;
  cpuMs?: (tid: number) => number | undefined;
  now?: () => number;
  lower?: (tid: number, niceness: number) => void;
}

/** Watches one plugin thread; `sample()` is what the timer runs (tests call it with their own clock). */
export class BusyThreadWatch {
  private readonly cpuMs: (tid: number) => number | undefined;
  private readonly now: () => number;
  private lastCpu: number | undefined;
  private lastAt: number;
  private streak = 0;
  private timer: NodeJS.Timeout | undefined;
  /** The thread runs at PLUGIN_THREAD_NICENESS now. */
  lowered = false;

  constructor(private readonly o: BusyThreadOptions) {
    this.cpuMs = o.cpuMs ?? threadCpuMs;
    this.now = o.now ?? (() => performance.now());
    this.lastCpu = this.cpuMs(o.tid);
    this.lastAt = this.now();
  }

  /** Starts sampling once a second (unref'd). */
  start(): this {
    if (this.lastCpu !== undefined) {
      this.timer = setInterval(() => this.sample(), SAMPLE_MS);
      this.timer.unref();
    }
    return this;
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Takes one sample; lowers the thread after BUSY_SAMPLES busy ones in a row. */
  sample(): void {
    if (this.lowered) return;
    const cpu = this.cpuMs(this.o.tid);
    const at = this.now();
    if (cpu === undefined || this.lastCpu === undefined) return this.stop();
    const share = at > this.lastAt ? (cpu - this.lastCpu) / (at - this.lastAt) : 0;
    this.lastCpu = cpu;
    this.lastAt = at;
    this.streak = share >= BUSY_SHARE ? this.streak + 1 : 0;
    if (this.streak < BUSY_SAMPLES) return;
    this.stop();
    try {
      (this.o.lower ?? lowerTo)(this.o.tid, PLUGIN_THREAD_NICENESS);
    } catch {
      return; // not permitted: the thread keeps its priority
    }
    this.lowered = true;
    this.o.log.warn(
      `The plugin ${this.o.plugin} kept its worker thread busy (${Math.round(share * 100)}% of a core for ${BUSY_SAMPLES} s), so its thread now runs at a lower CPU priority ` +
        `(nice ${PLUGIN_THREAD_NICENESS}) and cannot starve the daemon's HTTP API, Bifrost streams or other plugins; it keeps that priority until the plugin restarts.`,
    );
  }
}
