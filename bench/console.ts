/**
 * Console benchmark: the operator page under a steady Bifrost load, in Debian's Chromium.
 *
 * Ten plugins (copies of test/fixtures/plugins/chatter.mjs) publish 100 notifications a second in
 * all; the page shows the Live pane for 30 s while a Performance trace (the DevTools timeline
 * categories, read over the Chrome DevTools Protocol) records every task of the page's main
 * thread. Reported: the longest task and the tasks over 50 ms (the browser's "long task") and over
 * 100 ms (target: none), the messages the page received, and the tab's JS heap after a forced
 * garbage collection at the start and at the end (target: flat), with samples in between.
 *
 *   node dist/bench/console.js         (prints a table)
 *   runConsoleBench()                  (bench/run.ts; prints the table, returns the figures)
 */
import { cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { CDPSession } from 'playwright-core';
import { launchBrowser, openPage } from '../test/helpers/browser.js';
import { chatterPlugins, freePort, startConsoleDaemon } from '../test/helpers/console-daemon.js';
import { fmt, printTable, sleep } from './stats.js';

export interface ConsoleBenchResult {
  /** Until the page's buffer was full, before the trace. */
  warmUpS: number;
  seconds: number;
  plugins: number;
  ratePerS: number;
  /** Messages the page took in during the trace, and per second. */
  received: number;
  receivedPerS: number;
  tasks: number;
  /** Wall-clock duration of the main thread's tasks (what a person waits through). */
  maxTaskMs: number;
  tasksOver50Ms: number;
  tasksOver100Ms: number;
  /** The same tasks by the thread's CPU time (what the page itself costs, whatever else runs on the machine). */
  maxTaskCpuMs: number;
  tasksOver50MsCpu: number;
  tasksOver100MsCpu: number;
  /** Main-thread CPU time of all tasks, as a share of the traced time. */
  mainThreadBusy: number;
  /** The machine's 1-minute load average at the end, and its cores. */
  loadAverage: number;
  cores: number;
  /** The tab's used JS heap after a forced GC, MB. */
  heapStartMb: number;
  heapEndMb: number;
  /** Used JS heap (no forced GC) every 5 s, MB. */
  heapSeriesMb: number[];
}

interface TraceEvent {
  name: string;
  ph: string;
  pid: number;
  tid: number;
  dur?: number;
  /** The thread's CPU time within the event, µs. */
  tdur?: number;
  args?: { name?: string };
}

async function heapMb(cdp: CDPSession, gc: boolean): Promise<number> {
  if (gc) await cdp.send('HeapProfiler.collectGarbage');
  const u = await cdp.send('Runtime.getHeapUsage');
  return Math.round((u.usedSize / 1024 / 1024) * 100) / 100;
}

/** The page keeps the newest 2,000 messages (console/src/store.ts). */
const PAGE_BUFFER = 2000;

/** "… · 2,000 kept in the page · …" in the Live pane. */
function keptOf(text: string | null): number {
  const m = /([\d,.\s]+) kept in the page/.exec(text ?? '');
  return m ? Number(m[1]!.replace(/[^\d]/g, '')) : 0;
}

/** The number after "· " … " received since it opened" in the Live pane. */
function receivedOf(text: string | null): number {
  const m = /([\d,.\s]+) received since it opened/.exec(text ?? '');
  return m ? Number(m[1]!.replace(/[^\d]/g, '')) : 0;
}

export async function runConsoleBench(opts: { seconds?: number; plugins?: number; ratePerS?: number } = {}): Promise<ConsoleBenchResult> {
  const seconds = opts.seconds ?? Number(process.env['HEIMDALL_CONSOLE_BENCH_S'] ?? 30);
  const plugins = opts.plugins ?? 10;
  const ratePerS = opts.ratePerS ?? 100;
  const d = await startConsoleDaemon({ port: await freePort(), plugins: chatterPlugins(plugins, ratePerS / plugins) });
  const browser = await launchBrowser();
  try {
    const p = await openPage(browser, `${d.url}/console#/live`);
    const { page } = p;
    await page.getByTestId('stream-state').filter({ hasText: 'Live' }).waitFor();
    // Let the page fill its bounded buffer of the latest messages first: from then on its memory
    // should stay where it is.
    const counts = page.locator('p.counts');
    const warmStart = Date.now();
    while (keptOf(await counts.textContent()) < PAGE_BUFFER && Date.now() - warmStart < 60_000) await sleep(500);
    const warmUpS = Math.round((Date.now() - warmStart) / 100) / 10;
    const cdp = await p.context.newCDPSession(page);
    const heapStartMb = await heapMb(cdp, true);
    const receivedStart = receivedOf(await counts.textContent());

    const events: TraceEvent[] = [];
    const all: Array<TraceEvent & { ts: number }> = [];
    cdp.on('Tracing.dataCollected', (e) => {
      for (const raw of e.value) {
        const ev = raw as unknown as TraceEvent & { ts: number };
        if ((ev.ph === 'X' && ev.name === 'RunTask') || ev.ph === 'M') events.push(ev);
        if (process.env['HEIMDALL_CONSOLE_BENCH_DEBUG'] && ev.ph === 'X') all.push(ev);
      }
    });
    const done = new Promise<void>((resolve) => cdp.once('Tracing.tracingComplete', () => resolve()));
    await cdp.send('Tracing.start', { categories: 'devtools.timeline,disabled-by-default-devtools.timeline', transferMode: 'ReportEvents' });
    const heapSeriesMb: number[] = [];
    const t0 = Date.now();
    while (Date.now() - t0 < seconds * 1000) {
      await sleep(Math.min(5000, seconds * 1000 - (Date.now() - t0)));
      heapSeriesMb.push(await heapMb(cdp, false));
    }
    await cdp.send('Tracing.end');
    await done;
    const elapsedS = (Date.now() - t0) / 1000;
    const received = receivedOf(await counts.textContent()) - receivedStart;
    const heapEndMb = await heapMb(cdp, true);

    // The renderer's main thread, named in the trace's metadata.
    const main = events.find((e) => e.ph === 'M' && e.name === 'thread_name' && e.args?.name === 'CrRendererMain');
    const tasks = events.filter((e) => e.ph === 'X' && (!main || (e.pid === main.pid && e.tid === main.tid)));
    const ms = tasks.map((e) => (e.dur ?? 0) / 1000);
    const cpu = tasks.map((e) => (e.tdur ?? e.dur ?? 0) / 1000);
    if (process.env['HEIMDALL_CONSOLE_BENCH_DEBUG']) {
      for (const t of tasks.filter((x) => (x.dur ?? 0) > 50_000) as Array<TraceEvent & { ts: number }>) {
        const inside = all.filter((x) => x.pid === t.pid && x.tid === t.tid && x.ts >= t.ts && x.ts < t.ts + (t.dur ?? 0) && x !== t);
        const by = new Map<string, number>();
        for (const x of inside) by.set(x.name, (by.get(x.name) ?? 0) + (x.dur ?? 0) / 1000);
        console.log(`task ${((t.dur ?? 0) / 1000).toFixed(1)} ms (cpu ${((t.tdur ?? 0) / 1000).toFixed(1)}):`, [...by.entries()].sort((a, b) => b[1] - a[1]).slice(0, 8).map(([k, v]) => `${k} ${v.toFixed(1)}`).join(', '));
      }
    }
    const errors = p.errors.filter((e) => !/Failed to load resource/.test(e));
    if (errors.length > 0) throw new Error(`The page logged errors during the benchmark: ${errors.join('; ')}`);
    await p.close();
    const result: ConsoleBenchResult = {
      warmUpS,
      seconds: Math.round(elapsedS * 10) / 10,
      plugins,
      ratePerS,
      received,
      receivedPerS: Math.round((received / elapsedS) * 10) / 10,
      tasks: tasks.length,
      maxTaskMs: Math.round(Math.max(0, ...ms) * 10) / 10,
      tasksOver50Ms: ms.filter((x) => x > 50).length,
      tasksOver100Ms: ms.filter((x) => x > 100).length,
      maxTaskCpuMs: Math.round(Math.max(0, ...cpu) * 10) / 10,
      tasksOver50MsCpu: cpu.filter((x) => x > 50).length,
      tasksOver100MsCpu: cpu.filter((x) => x > 100).length,
      mainThreadBusy: Math.round((cpu.reduce((a, b) => a + b, 0) / (elapsedS * 1000)) * 1000) / 1000,
      loadAverage: Math.round(loadavg()[0]! * 10) / 10,
      cores: cpus().length,
      heapStartMb,
      heapEndMb,
      heapSeriesMb,
    };
    printConsoleBench(result);
    return result;
  } finally {
    await browser.close();
    await d.stop();
  }
}

export function printConsoleBench(r: ConsoleBenchResult): void {
  printTable(`Console (issue 11): the Live pane in Chromium, ${r.plugins} plugins publishing ${fmt(r.ratePerS)} notifications/s, ${fmt(r.seconds, 1)} s traced`, [
    ['messages the page received, per second', fmt(r.receivedPerS, 1), `${fmt(r.ratePerS)}`],
    ['main-thread tasks traced', fmt(r.tasks)],
    ['longest task (wall clock), ms', fmt(r.maxTaskMs, 1), '< 100'],
    ['tasks over 50 ms / over 100 ms (wall clock)', `${fmt(r.tasksOver50Ms)} / ${fmt(r.tasksOver100Ms)}`, '– / 0'],
    ['longest task (main thread CPU time), ms', fmt(r.maxTaskCpuMs, 1), '< 100'],
    ['tasks over 50 ms / over 100 ms (CPU time)', `${fmt(r.tasksOver50MsCpu)} / ${fmt(r.tasksOver100MsCpu)}`, '– / 0'],
    ['main thread busy (CPU time / traced time)', `${fmt(r.mainThreadBusy * 100, 1)} %`],
    ['load average (1 min) at the end, cores', `${fmt(r.loadAverage, 1)}, ${r.cores}`],
    ['warm-up until the page held its 2,000 messages, s', fmt(r.warmUpS, 1)],
    ['JS heap after GC, start → end, MB', `${fmt(r.heapStartMb, 2)} → ${fmt(r.heapEndMb, 2)}`, 'flat'],
    ['JS heap every 5 s (no GC), MB', r.heapSeriesMb.map((m) => fmt(m, 1)).join(' ')],
  ]);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await runConsoleBench();
  process.exit(0);
}
