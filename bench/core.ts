/**
 * Core event-path benchmark (issues 2 and 12): (a) in-process source → 4 no-op worker plugins,
 * (b) the same over POST /v1/events with NDJSON into 1, 4 and 16 plugins, each beside (c) the raw
 * worker_threads baseline with as many workers (raw-baseline.ts) and a naive piscina run() per
 * event, with the CPU per 100k delivered events of the main thread, the plugin workers and the
 * other threads (GC helpers, libuv), (d) ingest→handler latency at half the measured maximum rate
 * beside the raw baseline at the same rate, after a warm-up second reported apart, (e) 60 s at 10x a
 * slow plugin's rate in a daemon child process.
 */
import { Agent, request } from 'node:http';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import { pino } from 'pino';
import { parseConfig } from '../config/loader.js';
import { startDaemon, type RunningDaemon } from '../daemon/daemon.js';
import type { DatabaseEvent } from '../sdk/index.js';
import { cpuSpan, type CpuSpan } from './main-thread-cpu.js';
import { LATENCY_WARM_UP_S, WARM_UP_EVENTS, latencyFigures, ndjsonLine, paceEvents, type LatencyAtRate } from './raw-baseline.js';
import { percentile, sleep } from './stats.js';

const ROOT = resolve(fileURLToPath(new URL('../../', import.meta.url)));
const P = (f: string) => join(ROOT, 'bench/plugins', f);
export const BATCH = 256;

function makeEvents(n: number): DatabaseEvent[] {
  const ts = new Date().toISOString();
  return Array.from({ length: n }, (_, i) => ({ id: `b-${i}`, type: 'node.updated', timestamp: ts, database: 'neo4j', source: 'bench', nodeId: `4:x:${i}`, properties: { n: i } }));
}

async function benchDaemon(plugins: string[], capacity: number, listen = false): Promise<RunningDaemon> {
  const yaml = `server:\n  port: 0\nplugins:\n${plugins.map((p) => `  - path: ${JSON.stringify(p)}\n    queue:\n      capacity: ${capacity}\n      batchSize: ${BATCH}`).join('\n')}\n`;
  return startDaemon({ config: parseConfig(yaml, { file: join(ROOT, 'bench.yaml'), env: {} }), logger: pino({ level: 'silent' }), listen });
}

const delivered = (d: RunningDaemon) => Math.min(...d.internals.hosts.map((h) => h.queue.counters().delivered));

async function waitDelivered(d: RunningDaemon, n: number, timeoutMs = 120_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (delivered(d) < n) {
    if (Date.now() > end) throw new Error(`Only ${delivered(d)} of ${n} events were delivered in ${timeoutMs} ms.`);
    await new Promise((r) => setImmediate(r));
  }
}

/** (a) Pushes N events from an in-process source into 4 plugins as fast as the queues take them. */
export async function inProcessThroughput(n = 400_000): Promise<{ perPluginEventsPerS: number; totalHandlerCallsPerS: number; dropped: number }> {
  const d = await benchDaemon([P('noop-1.mjs'), P('noop-2.mjs'), P('noop-3.mjs'), P('noop-4.mjs')], 65_536);
  try {
    const events = makeEvents(n);
    const chunk = 4096;
    const t0 = performance.now();
    let i = 0;
    while (i < n) {
      const room = Math.min(...d.internals.hosts.map((h) => h.queue.capacity - h.queue.queued));
      if (room >= chunk) {
        d.internals.router.route(events.slice(i, i + chunk));
        i += chunk;
      } else await new Promise((r) => setImmediate(r));
    }
    await waitDelivered(d, n);
    const s = (performance.now() - t0) / 1000;
    const dropped = d.internals.hosts.reduce((a, h) => a + h.queue.counters().droppedTotal, 0);
    return { perPluginEventsPerS: n / s, totalHandlerCallsPerS: (4 * n) / s, dropped };
  } finally {
    await d.stop();
  }
}

/**
 * (c) Naive piscina: the same 4 plugins, one one-thread pool each, one run() per event (all
 * events submitted at once, piscina's best case for this design).
 */
export async function naivePiscina(n = 50_000): Promise<{ perPluginEventsPerS: number }> {
  const file = join(mkdtempSync(join(tmpdir(), 'heimdall-bench-')), 'noop-task.mjs');
  writeFileSync(file, 'let k = 0;\nexport default function (e) { k++; return e.id.length; }\n');
  const pools = Array.from({ length: 4 }, () => new Piscina({ filename: file, minThreads: 1, maxThreads: 1, idleTimeout: Infinity }));
  const events = makeEvents(n);
  await Promise.all(pools.map((p) => p.run(events[0])));
  const t0 = performance.now();
  await Promise.all(pools.flatMap((p) => events.map((e) => p.run(e))));
  const s = (performance.now() - t0) / 1000;
  await Promise.all(pools.map((p) => p.destroy()));
  return { perPluginEventsPerS: n / s };
}

/** `count` no-op plugins: noop-1…noop-4 from bench/plugins, more as copies under other names in a temporary folder. */
function noopPlugins(count: number): string[] {
  const dir = mkdtempSync(join(tmpdir(), 'heimdall-noops-'));
  return Array.from({ length: count }, (_, i) => {
    if (i < 4) return P(`noop-${i + 1}.mjs`);
    const f = join(dir, `noop-${i + 1}.mjs`);
    writeFileSync(f, `import noop from ${JSON.stringify(new URL(`file://${P('noop-1.mjs')}`).href)};\nexport default { ...noop, name: 'noop-${i + 1}' };\n`);
    return f;
  });
}

/** POSTs `body` as NDJSON over a keep-alive connection; resolves with the answer's accepted count. */
function postNdjson(agent: Agent, url: string, body: string): Promise<number> {
  return new Promise((res, rej) => {
    const req = request(`${url}/v1/events`, { method: 'POST', agent, headers: { 'content-type': 'application/x-ndjson', 'content-length': Buffer.byteLength(body) } }, (r) => {
      let text = '';
      r.setEncoding('utf8');
      r.on('data', (c: string) => (text += c));
      r.on('end', () => {
        try {
          res((JSON.parse(text) as { accepted: number }).accepted);
        } catch (err) {
          rej(err as Error);
        }
      });
    });
    req.on('error', rej);
    req.end(body);
  });
}

/**
 * (b) NDJSON over POST /v1/events into `plugins` no-op plugins, two clients in this process over
 * keep-alive connections, after WARM_UP_EVENTS; the CPU (main thread with the clients, the plugin
 * workers, the other threads) over the measured run.
 */
export async function httpNdjson(plugins = 4, n = 200_000, perRequest = 2_000): Promise<{ plugins: number; acceptedPerS: number; deliveredPerS: number; dropped: number; cpu: CpuSpan; mainCpuMsPer100k: number; workersCpuMsPer100k: number; otherCpuMsPer100k: number }> {
  const d = await benchDaemon(noopPlugins(plugins), 65_536, true);
  const agent = new Agent({ keepAlive: true, maxSockets: 2 });
  try {
    const body = Array.from({ length: perRequest }, (_, i) => ndjsonLine(i)).join('\n');
    let accepted = 0;
    let sent = 0;
    const client = async (requests: number) => {
      while (sent < requests) {
        sent++;
        while (Math.min(...d.internals.hosts.map((h) => h.queue.capacity - h.queue.queued)) < 2 * perRequest) await sleep(1);
        // (not `accepted += await …`: that reads `accepted` before the await and loses the other client's counts)
        const took = await postNdjson(agent, d.url, body);
        accepted += took;
      }
    };
    const drained = async () => {
      while (d.internals.hosts.some((h) => h.queue.queued > 0)) await new Promise((r) => setImmediate(r));
    };
    const warmUp = Math.ceil(WARM_UP_EVENTS / perRequest);
    await Promise.all([client(warmUp), client(warmUp)]);
    await drained();
    const base = delivered(d);
    accepted = 0;
    sent = 0;
    const requests = n / perRequest;
    const took = cpuSpan(d.internals.hosts.map((h) => h.info?.threadId ?? NaN));
    const t0 = performance.now();
    await Promise.all([client(requests), client(requests)]);
    const tAcc = (performance.now() - t0) / 1000;
    await drained();
    const tDel = (performance.now() - t0) / 1000;
    const cpu = took();
    const dropped = d.internals.hosts.reduce((a, h) => a + h.queue.counters().droppedTotal, 0);
    const got = delivered(d) - base;
    const per100k = (ms: number) => (ms * 100_000) / (got * plugins);
    return { plugins, acceptedPerS: accepted / tAcc, deliveredPerS: got / tDel, dropped, cpu, mainCpuMsPer100k: per100k(cpu.mainMs), workersCpuMsPer100k: per100k(cpu.workersMs), otherCpuMsPer100k: per100k(cpu.otherMs) };
  } finally {
    agent.destroy();
    await d.stop();
  }
}

/**
 * (d) Ingest→handler latency at a paced rate (events/s per plugin): LATENCY_WARM_UP_S seconds after
 * the daemon started, reported apart, then `seconds` measured.
 */
export async function latencyAtRate(rate: number, seconds = 4): Promise<LatencyAtRate> {
  const d = await benchDaemon([P('latency.mjs'), P('noop-1.mjs'), P('noop-2.mjs'), P('noop-3.mjs')], 65_536);
  try {
    let sent = 0;
    const phase = async (s: number): Promise<number[]> => {
      sent += await paceEvents(rate, s, sent, (batch) => d.internals.router.route(batch));
      await waitDelivered(d, sent);
      const lat: number[] = [];
      for (;;) {
        const r = await d.api.invokeAction('heimdall.latency.take', {}, { kind: 'operator' });
        const page = r.data!.latencies as number[];
        if (page.length === 0) break;
        for (const x of page) lat.push(x);
      }
      return lat;
    };
    const warmUp = await phase(LATENCY_WARM_UP_S);
    return latencyFigures(rate, await phase(seconds), warmUp);
  } finally {
    await d.stop();
  }
}

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

/** (e) A slow plugin (~1,000 events/s) fed 10x its rate for `seconds`, in a daemon child process. */
export async function overloadSoak(seconds = 60, rate = 10_000): Promise<Record<string, unknown>> {
  const dir = mkdtempSync(join(tmpdir(), 'heimdall-soak-'));
  const cfg = join(dir, 'heimdall.config.yaml');
  writeFileSync(cfg, `server:\n  port: 0\nlog:\n  level: info\ndrops:\n  logIntervalMs: 10000\nplugins:\n  - path: ${JSON.stringify(P('slow.mjs'))}\n    queue:\n      capacity: 1024\n`);
  const child = spawn(process.execPath, [join(ROOT, 'dist/daemon/cli/main.js'), 'start', '--config', cfg], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const url = await new Promise<string>((res, rej) => {
    const t = setTimeout(() => {
      child.kill('SIGKILL');
      rej(new Error(`The daemon did not start in 20 s: ${out.slice(-2000)}`));
    }, 20_000);
    child.stdout.on('data', (b: Buffer) => {
      out += b.toString();
      const m = /Heimdall is listening on (http:\/\/[^\s"]+)/.exec(out);
      if (m) {
        clearTimeout(t);
        res(m[1]!);
      }
    });
    child.stderr.on('data', (b: Buffer) => (out += b.toString()));
    child.on('exit', (c) => rej(new Error(`The daemon exited with code ${c}: ${out.slice(-2000)}`)));
  });
  const rss: Array<{ s: number; mb: number }> = [];
  const health: number[] = [];
  const invariantViolations: string[] = [];
  let sent = 0;
  let accepted = 0;
  const t0 = performance.now();
  const body = (k: number) => Array.from({ length: k }, (_, i) => `{"type":"node.updated","nodeId":"n${i}"}`).join('\n');
  const per = rate / 100; // every 10 ms
  const b = body(per);
  let stop = false;
  const feeder = (async () => {
    while (!stop) {
      const due = Math.floor(((performance.now() - t0) / 1000) * rate);
      while (sent < due && !stop) {
        const r = await fetch(`${url}/v1/events`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body: b });
        accepted += ((await r.json()) as { accepted: number }).accepted;
        sent += per;
      }
      await sleep(5);
    }
  })();
  const prober = (async () => {
    while (!stop) {
      const h0 = performance.now();
      await (await fetch(`${url}/healthz`)).text();
      health.push(performance.now() - h0);
      await sleep(50);
    }
  })();
  const checker = (async () => {
    let lastRss = -1;
    const every = seconds >= 60 ? 5 : 1; // RSS samples: a short (quick) soak still gets some in each half
    while (!stop) {
      const st = (await (await fetch(`${url}/v1/status`)).json()) as { plugins: Array<{ name: string; counters: { received: number; delivered: number; droppedTotal: number; queued: number } }> };
      for (const p of st.plugins) {
        const c = p.counters;
        if (c.received !== c.delivered + c.droppedTotal + c.queued) invariantViolations.push(`${p.name}: ${JSON.stringify(c)}`);
      }
      const s = Math.floor((performance.now() - t0) / 1000);
      if (s !== lastRss && s % every === 0) {
        rss.push({ s, mb: Math.round(rssMb(child.pid!) * 10) / 10 });
        lastRss = s;
      }
      await sleep(200);
    }
  })();
  await sleep(seconds * 1000);
  stop = true;
  await Promise.all([feeder, prober, checker]);
  const st = (await (await fetch(`${url}/v1/status`)).json()) as { plugins: Array<{ counters: Record<string, number> }> };
  const c = st.plugins[0]!.counters as { received: number; delivered: number; droppedTotal: number; queued: number; highWaterMark: number };
  child.kill('SIGTERM');
  const exitCode = await new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  health.sort((a, z) => a - z);
  const warm = Math.min(10, seconds / 5); // the first seconds fill the queues: not growth
  const firstHalf = rss.filter((r) => r.s >= warm && r.s <= seconds / 2).map((r) => r.mb);
  const secondHalf = rss.filter((r) => r.s > seconds / 2).map((r) => r.mb);
  return {
    seconds,
    offeredRate: rate,
    sent,
    accepted,
    counters: c,
    invariantHolds: c.received === c.delivered + c.droppedTotal + c.queued && invariantViolations.length === 0,
    invariantChecks: Math.round((seconds * 1000) / 200),
    invariantViolations: invariantViolations.slice(0, 5),
    healthzP50Ms: percentile(health, 50),
    healthzP99Ms: percentile(health, 99),
    healthzSamples: health.length,
    rssMb: rss,
    rssGrowthMb: secondHalf.length && firstHalf.length ? Math.max(...secondHalf) - Math.max(...firstHalf) : NaN,
    daemonExitCode: exitCode,
  };
}
