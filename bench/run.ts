/**
 * `npm run bench`: runs every benchmark, prints a table per area and writes bench/results.json.
 * Set HEIMDALL_BENCH_QUICK=1 for a short run (the soak lasts 10 s instead of 60 s).
 */
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { httpNdjson, inProcessThroughput, latencyAtRate, naivePiscina, overloadSoak, rawPostMessage } from './core.js';
import { fmt, printTable } from './stats.js';

const ROOT = resolve(fileURLToPath(new URL('../../', import.meta.url)));
const quick = process.env.HEIMDALL_BENCH_QUICK === '1';
const only = process.argv.slice(2);
const want = (k: string) => only.length === 0 || only.includes(k);

const results: Record<string, unknown> = { date: new Date().toISOString(), node: process.version, cpus: (await import('node:os')).cpus().length, quick };

if (want('core')) {
  const a = await inProcessThroughput();
  const c1 = await rawPostMessage();
  const c2 = await naivePiscina();
  const b = await httpNdjson();
  const half = Math.round(a.perPluginEventsPerS / 2);
  const d = await latencyAtRate(half);
  const e = await overloadSoak(quick ? 10 : 60);
  results.core = { inProcess: a, rawPostMessage: c1, naivePiscina: c2, httpNdjson: b, latencyAtHalfLoad: d, overload: e };
  printTable('Core event path (issue 2): 4 no-op worker plugins, batches of 256', [
    ['(a) in-process → 4 plugins, events/s per plugin', fmt(a.perPluginEventsPerS), '>= 100,000'],
    ['(a) handler calls/s, all plugins', fmt(a.totalHandlerCallsPerS)],
    ['(c) raw postMessage, events/s per worker', fmt(c1.perWorkerEventsPerS)],
    ['(a)/(c) ratio', fmt(a.perPluginEventsPerS / c1.perWorkerEventsPerS, 2), '>= 0.5 (within 2x)'],
    ['(c) naive piscina run() per event (4 pools), events/s per plugin', fmt(c2.perPluginEventsPerS)],
    ['(a)/naive ratio', fmt(a.perPluginEventsPerS / c2.perPluginEventsPerS, 1), '>= 10'],
    ['(b) HTTP NDJSON accepted events/s', fmt(b.acceptedPerS)],
    ['(b) HTTP NDJSON delivered events/s per plugin', fmt(b.deliveredPerS)],
    [`(d) latency p50 at ${fmt(d.rate)} ev/s per plugin, ms`, fmt(d.p50Ms, 2)],
    [`(d) latency p99 at ${fmt(d.rate)} ev/s per plugin, ms`, fmt(d.p99Ms, 2), '< 10'],
    [`(e) overload ${e.seconds} s at 10x: /healthz p99, ms`, fmt(e.healthzP99Ms as number, 2), '< 50'],
    ['(e) RSS MB over time (s:MB)', (e.rssMb as Array<{ s: number; mb: number }>).map((r) => `${r.s}:${r.mb}`).join(' ')],
    ['(e) RSS growth, 2nd half vs 1st half, MB', fmt(e.rssGrowthMb as number, 1), 'flat'],
    ['(e) counter invariant held', String(e.invariantHolds), 'true'],
    ['(e) received / delivered / dropped / queued', ['received', 'delivered', 'droppedTotal', 'queued'].map((k) => fmt((e.counters as Record<string, number>)[k]!)).join(' / ')],
  ]);
}

for (const [key, mod, fn] of [
  ['bifrost', './bifrost.js', 'runBifrostBench'],
  ['invoker', './invoker.js', 'runInvokerBench'],
  ['remediation', './remediation.js', 'runRemediationBench'],
  ['neo4j', './neo4j.js', 'runNeo4jBench'],
  ['rules', './rules.js', 'runRulesBench'],
  ['bolt', './bolt.js', 'runBoltBench'],
  ['console', './console.js', 'runConsoleBench'],
] as const) {
  if (!want(key)) continue;
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
