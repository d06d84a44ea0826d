/**
 * Rules benchmark (issue 10), the rules plugin in its real worker inside an in-process daemon:
 *   (a) 50 rules on the event's type, none firing (each evaluates its match and CEL condition):
 *       events/s through the rules plugin, source to handler done (target >= 50,000/s);
 *   (b) the same 50 rules in the engine alone on this thread, no worker (for comparison);
 *   (c) one rule firing a templated notify per event at 1,000 events/s: event routed → the
 *       notification published on Bifrost, p50/p99 (target p99 < 10 ms).
 *   (a0) the same events through a no-op plugin: what the worker path alone allows.
 * (a), (a0) and (b) are also given per CPU-second of the thread doing the work (from
 * /proc/self/task/<tid>/stat), the rate it would reach with a core to itself.
 * Each is run three times; the table shows the median and the spread (min–max). The machine's
 * load average is printed with the table: other processes on these two cores move the figures.
 *
 *   node dist/bench/rules.js            (prints a table)
 *   runRulesBench()                     (bench/run.ts; returns the figures)
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { parseConfig } from '../config/loader.js';
import { startDaemon, type RunningDaemon } from '../daemon/daemon.js';
import { compileRules } from '../plugins/rules/compile.js';
import { DeadLetterStore } from '../plugins/rules/dead-letters.js';
import { RulesEngine } from '../plugins/rules/engine.js';
import { PauseState } from '../plugins/rules/pause-state.js';
import { systemClock } from '../plugins/rules/clock.js';
import type { DatabaseEvent, PluginContext } from '../sdk/index.js';
import { fmt, percentile, printTable, sleep } from './stats.js';

const ROOT = resolve(fileURLToPath(new URL('../../', import.meta.url)));
const RULES_PLUGIN = join(ROOT, 'dist/plugins/rules/index.js');
const NOOP_PLUGIN = join(ROOT, 'bench/plugins/noop-1.mjs');
const quick = process.env['HEIMDALL_BENCH_QUICK'] === '1';
const RUNS = 3;
const now = () => performance.timeOrigin + performance.now();

/** 50 rules on node.updated that do not fire for the benchmark's events, with a spread of conditions. */
export function fiftyQuietRules(): unknown[] {
  const log = [{ log: { message: 'never' } }];
  return Array.from({ length: 50 }, (_, i) => {
    const name = `quiet-${i}`;
    switch (i % 5) {
      case 0:
        return { name, on: 'node.updated', when: `event.properties.total > ${1_000_000 + i}`, actions: log };
      case 1:
        return { name, on: ['node.updated', 'node.created'], match: { labels: 'Order' }, when: `changedTo("status", "state-${i}")`, actions: log };
      case 2:
        return { name, on: 'node.*', match: { labels: [`Label${i}`] }, actions: log };
      case 3:
        return { name, on: 'node.updated', when: `event.properties.status == "s-${i}" && event.properties.total > 10`, window: { count: 5, within: '1m' }, actions: log };
      default:
        return { name, on: 'node.updated', match: { database: 'neo4j' }, when: `has(event.properties.flag) && event.properties.flag == ${i}`, cooldown: '1m', actions: log };
    }
  });
}

function makeEvents(n: number): DatabaseEvent[] {
  const ts = new Date().toISOString();
  return Array.from({ length: n }, (_, i) => ({
    id: `r-${i}`,
    type: 'node.updated',
    timestamp: ts,
    database: 'neo4j',
    source: 'bench',
    nodeId: `4:x:${i}`,
    nodeLabels: ['Order'],
    properties: { total: i % 1000, status: 'open' },
    oldProperties: { total: (i % 1000) + 1, status: 'open' },
  }));
}

async function rulesDaemon(rules: unknown[] | undefined, capacity = 65_536): Promise<RunningDaemon> {
  const cfg = { rules, deadLetters: { path: null }, statePath: null };
  const entry = rules ? `  - path: ${JSON.stringify(RULES_PLUGIN)}\n    config: ${JSON.stringify(cfg)}\n` : `  - path: ${JSON.stringify(NOOP_PLUGIN)}\n`;
  const yaml = `server:\n  port: 0\nplugins:\n${entry}    queue:\n      capacity: ${capacity}\n      batchSize: 256\n`;
  return startDaemon({ config: parseConfig(yaml, { file: join(ROOT, 'bench-rules.yaml'), env: {} }), logger: pino({ level: 'silent' }), listen: false });
}

/** CPU seconds (user + system) used so far by each thread of this process, from /proc (Linux). */
function threadCpu(): Map<string, number> {
  const out = new Map<string, number>();
  try {
    for (const tid of readdirSync('/proc/self/task')) {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.set(tid, (Number(f[11]) + Number(f[12])) / 100);
    }
  } catch {
    // not Linux: no per-thread figure
  }
  return out;
}

/** CPU seconds of the busiest thread other than the main one between two snapshots: the plugin worker. */
function workerCpu(before: Map<string, number>, after: Map<string, number>): number {
  let best = NaN;
  for (const [tid, t] of after) {
    if (tid === String(process.pid)) continue;
    const d = t - (before.get(tid) ?? 0);
    if (!(d <= best)) best = d;
  }
  return best;
}

const delivered = (d: RunningDaemon) => d.internals.hosts[0]!.queue.counters().delivered;

/** (a) events/s through the plugin with 50 quiet rules (or, `baseline`, through a no-op plugin). */
async function throughput(n: number, baseline = false): Promise<{ eventsPerS: number; eventsPerWorkerCpuS: number; dropped: number; fired: number }> {
  const d = await rulesDaemon(baseline ? undefined : fiftyQuietRules());
  try {
    const events = makeEvents(n);
    // warm the worker up (JIT, caches) before timing
    d.internals.router.route(events.slice(0, 20_000));
    while (delivered(d) < 20_000) await new Promise((r) => setImmediate(r));
    const base = delivered(d);
    const host = d.internals.hosts[0]!;
    const chunk = 4096;
    const cpu0 = threadCpu();
    const t0 = performance.now();
    let i = 0;
    while (i < n) {
      if (host.queue.capacity - host.queue.queued >= chunk) {
        d.internals.router.route(events.slice(i, i + chunk));
        i += chunk;
      } else await new Promise((r) => setImmediate(r));
    }
    while (delivered(d) < base + n) await new Promise((r) => setImmediate(r));
    const s = (performance.now() - t0) / 1000;
    const cpu = workerCpu(cpu0, threadCpu());
    const list = baseline ? undefined : await d.api.invokeAction('heimdall.rules.list', {}, { kind: 'operator' });
    const fired = list ? (list.data!.rules as Array<{ fired: number }>).reduce((a, r) => a + r.fired, 0) : 0;
    return { eventsPerS: n / s, eventsPerWorkerCpuS: n / cpu, dropped: host.queue.counters().droppedTotal, fired };
  } finally {
    await d.stop();
  }
}

/** (b) the engine alone on this thread. */
async function engineAlone(n: number): Promise<{ eventsPerS: number; eventsPerCpuS: number }> {
  const noop = () => undefined;
  const log = { debug: noop, info: noop, warn: noop, error: noop };
  const ctx = { name: 'rules', config: {}, log } as unknown as PluginContext;
  const engine = new RulesEngine({
    compiled: compileRules(fiftyQuietRules()),
    ctx,
    clock: systemClock,
    fetch: globalThis.fetch,
    deadLetters: new DeadLetterStore(undefined, 10, log),
    pauses: new PauseState(undefined, log),
    historySize: 10,
    maxInFlight: 256,
    maxKeys: 1000,
    webhookTimeoutMs: 1000,
  });
  const events = makeEvents(n);
  for (let i = 0; i < 20_000; i++) void engine.handle(events[i]!);
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < n; i++) void engine.handle(events[i]!);
  const c = process.cpuUsage(c0);
  return { eventsPerS: n / ((performance.now() - t0) / 1000), eventsPerCpuS: n / ((c.user + c.system) / 1e6) };
}

/** (c) event → notification latency at `rate` events/s for `seconds`. */
export async function notifyLatency(rate: number, seconds: number): Promise<{ rate: number; sent: number; notifications: number; samples: number; p50Ms: number; p99Ms: number; maxMs: number }> {
  const rule = { name: 'every-create', on: 'node.created', actions: [{ notify: { level: 'info', title: 'Node {{ event.nodeId }} created', message: 'A {{ event.nodeLabels | join: "," }} node was created by rule {{ rule.name }}.', data: { t0: '{{ event.metadata.t0 }}' } } }] };
  const d = await rulesDaemon([rule]);
  const samples: number[] = [];
  let notifications = 0;
  const off = d.internals.bus.subscribe((m) => {
    if (m.kind !== 'notification' || m.origin.plugin !== 'rules') return;
    notifications++;
    const t0 = m.data?.['t0'];
    if (typeof t0 === 'number') samples.push(now() - t0);
  });
  try {
    const start = performance.now();
    let sent = 0;
    while (performance.now() - start < seconds * 1000) {
      const due = Math.floor(((performance.now() - start) / 1000) * rate);
      const batch: DatabaseEvent[] = [];
      const ts = new Date().toISOString();
      for (; sent < due; sent++) batch.push({ id: `l-${sent}`, type: 'node.created', timestamp: ts, database: 'neo4j', source: 'bench', nodeId: `4:x:${sent}`, nodeLabels: ['Order'], metadata: { t0: now() } });
      if (batch.length) d.internals.router.route(batch);
      await sleep(1);
    }
    const end = Date.now() + 10_000;
    while (notifications < sent && Date.now() < end) await sleep(5);
    if (process.env['HEIMDALL_BENCH_DEBUG'] === '1') {
      const show = await d.api.invokeAction('heimdall.rules.show', { name: 'every-create' }, { kind: 'operator' });
      console.error(JSON.stringify({ sent, notifications, counters: d.api.plugins()[0]!.counters, statistics: show.data!.statistics }));
    }
    // the first half second is warm-up
    const s = samples.slice(Math.floor(rate / 2)).sort((a, b) => a - b);
    return { rate, sent, notifications, samples: s.length, p50Ms: percentile(s, 50), p99Ms: percentile(s, 99), maxMs: s[s.length - 1] ?? NaN };
  } finally {
    off();
    await d.stop();
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const spread = (xs: number[], digits = 0) => `${fmt(Math.min(...xs), digits)}–${fmt(Math.max(...xs), digits)}`;

export async function runRulesBench(): Promise<Record<string, unknown>> {
  const n = quick ? 100_000 : 300_000;
  const seconds = quick ? 3 : 6;
  const a: Array<Awaited<ReturnType<typeof throughput>>> = [];
  const a0: Array<Awaited<ReturnType<typeof throughput>>> = [];
  const b: Array<Awaited<ReturnType<typeof engineAlone>>> = [];
  const c: Array<Awaited<ReturnType<typeof notifyLatency>>> = [];
  for (let i = 0; i < RUNS; i++) {
    a0.push(await throughput(n, true));
    a.push(await throughput(n));
    b.push(await engineAlone(n));
    c.push(await notifyLatency(1000, seconds));
  }
  const ta = a.map((x) => x.eventsPerS);
  const t0 = a0.map((x) => x.eventsPerS);
  const tb = b.map((x) => x.eventsPerS);
  const ca = a.map((x) => x.eventsPerWorkerCpuS);
  const c0 = a0.map((x) => x.eventsPerWorkerCpuS);
  const cb = b.map((x) => x.eventsPerCpuS);
  const p50 = c.map((x) => x.p50Ms);
  const p99 = c.map((x) => x.p99Ms);
  const load = (await import('node:os')).loadavg().map((x) => x.toFixed(1)).join(' ');
  printTable(`Rules (issue 10): the rules plugin in its worker, ${RUNS} runs each, median (min–max); load average at the end ${load}`, [
    ['(a) 50 rules, none firing: events/s through the plugin', `${fmt(median(ta))} (${spread(ta)})`, '>= 50,000'],
    ['(a) the same, per CPU-second of the rules worker thread (its rate with a core of its own)', `${fmt(median(ca))} (${spread(ca)})`, '>= 50,000'],
    ['(a0) the same events through a no-op plugin (the worker path alone): events/s', `${fmt(median(t0))} (${spread(t0)})`],
    ['(a0) per CPU-second of the no-op worker thread', `${fmt(median(c0))} (${spread(c0)})`],
    ['(a) dropped / fired', `${a.map((x) => x.dropped).join(',')} / ${a.map((x) => x.fired).join(',')}`, '0 / 0'],
    ['(b) the same 50 rules, engine alone on one thread: events/s', `${fmt(median(tb))} (${spread(tb)})`],
    ['(b) per CPU-second', `${fmt(median(cb))} (${spread(cb)})`],
    ['(c) one rule, a notify per event at 1,000/s: event→notification p50, ms', `${fmt(median(p50), 2)} (${spread(p50, 2)})`],
    ['(c) event→notification p99, ms', `${fmt(median(p99), 2)} (${spread(p99, 2)})`, '< 10'],
    ['(c) events sent / notifications / samples (after warm-up) per run', c.map((x) => `${x.sent}/${x.notifications}/${x.samples}`).join(' ')],
  ]);
  return { runs: RUNS, noopBaseline: a0, quietRules: a, engineAlone: b, notifyLatency: c, loadAverage: load, summary: { eventsPerS: { median: median(ta), min: Math.min(...ta), max: Math.max(...ta) }, eventsPerWorkerCpuS: { median: median(ca), min: Math.min(...ca), max: Math.max(...ca) }, p99Ms: { median: median(p99), min: Math.min(...p99), max: Math.max(...p99) } } };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await runRulesBench();
  process.exit(0);
}
