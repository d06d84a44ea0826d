/**
 * `npm run bench`: runs every benchmark, prints a table per area and writes bench/results.json.
 * Set HEIMDALL_BENCH_QUICK=1 for a short run (the soak lasts 10 s instead of 60 s).
 */
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BATCH, httpNdjson, inProcessThroughput, latencyAtRate, naivePiscina, overloadSoak } from './core.js';
import { rawLatencyAtRate, rawPostMessage } from './raw-baseline.js';
import { fmt, printTable } from './stats.js';

const ROOT = resolve(fileURLToPath(new URL('../../', import.meta.url)));
const quick = process.env.HEIMDALL_BENCH_QUICK === '1';
const only = process.argv.slice(2);
const want = (k: string) => only.length === 0 || only.includes(k);

const results: Record<string, unknown> = { date: new Date().toISOString(), node: process.version, cpus: (await import('node:os')).cpus().length, quick };

if (want('core')) {
  const a = await inProcessThroughput();
  const c2 = await naivePiscina();
  // the HTTP path and the raw worker_threads baseline with as many workers, side by side
  const paths: Array<{ plugins: number; http: Awaited<ReturnType<typeof httpNdjson>>; raw: Awaited<ReturnType<typeof rawPostMessage>> }> = [];
  for (const plugins of [1, 4, 16]) {
    const n = plugins === 16 ? 50_000 : 200_000;
    const raw = await rawPostMessage(plugins, n, BATCH, 2_000);
    const http = await httpNdjson(plugins, n, 2_000);
    paths.push({ plugins, http, raw });
  }
  const four = paths.find((p) => p.plugins === 4)!;
  const half = Math.round(a.perPluginEventsPerS / 2);
  const d = await latencyAtRate(half);
  const dRaw = await rawLatencyAtRate(half, 4);
  const e = await overloadSoak(quick ? 10 : 60);
  results.core = { inProcess: a, naivePiscina: c2, paths, latencyAtHalfLoad: d, rawLatencyAtHalfLoad: dRaw, overload: e };
  const rows: Array<[string, string, string?, string?]> = [
    ['(a) in-process → 4 plugins, events/s per plugin', fmt(a.perPluginEventsPerS), '>= 100,000', `raw ${fmt(four.raw.perWorkerEventsPerS)}`],
    ['(a) handler calls/s, all plugins', fmt(a.totalHandlerCallsPerS)],
    ['(c) naive piscina run() per event (4 pools), events/s per plugin', fmt(c2.perPluginEventsPerS)],
    ['(a)/naive ratio', fmt(a.perPluginEventsPerS / c2.perPluginEventsPerS, 1), '>= 10'],
  ];
  for (const p of paths) {
    rows.push([`(b) HTTP NDJSON → ${p.plugins} plugin${p.plugins > 1 ? 's' : ''}, delivered events/s per plugin`, fmt(p.http.deliveredPerS), '', `raw ${p.plugins} worker${p.plugins > 1 ? 's' : ''} ${fmt(p.raw.perWorkerEventsPerS)}`]);
    rows.push([`(b) HTTP/raw ratio, ${p.plugins} plugin${p.plugins > 1 ? 's' : ''}`, fmt(p.http.deliveredPerS / p.raw.perWorkerEventsPerS, 2), p.plugins === 4 ? '>= 1.0' : '', '1.00']);
    rows.push([`(b) main-thread CPU per 100k delivered, ${p.plugins} plugin${p.plugins > 1 ? 's' : ''}, ms`, fmt(p.http.mainCpuMsPer100k, 1), '', `raw ${fmt(p.raw.mainCpuMsPer100k, 1)}`]);
    rows.push([`(b)   worker threads' CPU per 100k delivered, ${p.plugins} plugin${p.plugins > 1 ? 's' : ''}, ms`, fmt(p.http.workersCpuMsPer100k, 1), '', `raw ${fmt(p.raw.workersCpuMsPer100k, 1)}`]);
    rows.push([`(b)   other threads' CPU (GC helpers, libuv) per 100k delivered, ${p.plugins} plugin${p.plugins > 1 ? 's' : ''}, ms`, fmt(p.http.otherCpuMsPer100k, 1), '', `raw ${fmt(p.raw.otherCpuMsPer100k, 1)}`]);
  }
  rows.push(
    ['(b) HTTP NDJSON accepted events/s, 4 plugins', fmt(four.http.acceptedPerS)],
    [`(d) latency p50 at ${fmt(d.rate)} ev/s per plugin, ms`, fmt(d.p50Ms, 2), '', `raw ${fmt(dRaw.p50Ms, 2)}`],
    [`(d) latency p99 at ${fmt(d.rate)} ev/s per plugin, ms`, fmt(d.p99Ms, 2), '< 5', `raw ${fmt(dRaw.p99Ms, 2)}`],
    [`(d)   p99 in the first second after start (warm-up, not in the row above), ms`, fmt(d.warmUpP99Ms, 2), '', `raw ${fmt(dRaw.warmUpP99Ms, 2)}`],
    [`(e) overload ${e.seconds} s at 10x: /healthz p99, ms`, fmt(e.healthzP99Ms as number, 2), '< 50'],
    ['(e) RSS MB over time (s:MB)', (e.rssMb as Array<{ s: number; mb: number }>).map((r) => `${r.s}:${r.mb}`).join(' ')],
    ['(e) RSS growth, 2nd half vs 1st half, MB', fmt(e.rssGrowthMb as number, 1), 'flat'],
    ['(e) counter invariant held', String(e.invariantHolds), 'true'],
    ['(e) received / delivered / dropped / queued', ['received', 'delivered', 'droppedTotal', 'queued'].map((k) => fmt((e.counters as Record<string, number>)[k]!)).join(' / ')],
  );
  printTable('Core event path (issues 2, 12): no-op worker plugins, batches of 256; baselines: raw worker_threads postMessage of the same parsed batches', rows);
}

for (const [key, mod, fn] of [
  ['bifrost', './bifrost.js', 'runBifrostBench'],
  ['invoker', './invoker.js', 'runInvokerBench'],
  ['remediation', './remediation.js', 'runRemediationBench'],
  ['neo4j', './neo4j.js', 'runNeo4jBench'],
  ['rules', './rules.js', 'runRulesBench'],
  ['bolt', './bolt.js', 'runBoltBench'],
  ['console', './console.js', 'runConsoleBench'],
  // only when named: which part of the outbox trigger the writers pay for (about 5 min)
  ['trigger-parts', './neo4j-trigger-parts.js', 'runTriggerPartsBench'],
] as const) {
  if (key === 'trigger-parts' ? !only.includes(key) : !want(key)) continue;
  let m: Record<string, unknown>;
  try {
    m = (await import(mod)) as Record<string, unknown>;
  } catch {
    continue; // that area has no benchmark in this build
  }
  if (typeof m[fn] === 'function') results[key] = await (m[fn] as () => Promise<unknown>)();
}

const file = join(ROOT, 'bench', 'results.json');
writeFileSync(file, JSON.stringify(results, null, 2));
console.log(`\nWrote ${file}.`);
process.exit(0);
