/**
 * Core event-path benchmark (issue 2): (a) in-process source → 4 no-op worker plugins,
 * (b) the same over POST /v1/events with NDJSON, (c) baselines: raw worker_threads postMessage
 * of the same batches and a naive piscina run() per event, (d) ingest→handler latency at half the
 * measured maximum rate, (e) 60 s at 10x a slow plugin's rate in a daemon child process.
 */
import { Worker } from 'node:worker_threads';
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
import { percentile, sleep } from './stats.js';

const ROOT = resolve(fileURLToPath(new URL('../../', import.meta.url)));
const P = (f: string) => join(ROOT, 'bench/plugins', f);
const BATCH = 256;

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

/** (c) Raw worker_threads: 4 workers, the same batches posted with no daemon in between. */
export async function rawPostMessage(n = 400_000): Promise<{ perWorkerEventsPerS: number }> {
  const src = `const { parentPort } = require('node:worker_threads'); let k = 0; const noop = (e) => { k++; };
    parentPort.on('message', (batch) => { for (const e of batch) noop(e); parentPort.postMessage(batch.length); });`;
  const workers = Array.from({ length: 4 }, () => new Worker(src, { eval: true }));
  const events = makeEvents(n);
  const batches: DatabaseEvent[][] = [];
  for (let i = 0; i < n; i += BATCH) batches.push(events.slice(i, i + BATCH));
  await sleep(200);
  const t0 = performance.now();
  await Promise.all(
    workers.map(
      (w) =>
        new Promise<void>((res) => {
          let got = 0;
          let next = 0;
          // keep a window of 16 batches in flight, like a bounded queue would
          const send = () => {
            while (next < batches.length && next - got / BATCH < 16) w.postMessage(batches[next++]);
          };
          w.on('message', (c: number) => {
            got += c;
            if (got >= n) res();
            else send();
          });
          send();
        }),
    ),
  );
  const s = (performance.now() - t0) / 1000;
  await Promise.all(workers.map((w) => w.terminate()));
  return { perWorkerEventsPerS: n / s };
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

/** (b) NDJSON over POST /v1/events into 4 plugins. */
export async function httpNdjson(n = 200_000, perRequest = 2_000): Promise<{ acceptedPerS: number; deliveredPerS: number; dropped: number }> {
  const d = await benchDaemon([P('noop-1.mjs'), P('noop-2.mjs'), P('noop-3.mjs'), P('noop-4.mjs')], 65_536, true);
  try {
    const body = Array.from({ length: perRequest }, (_, i) => JSON.stringify({ type: 'node.updated', nodeId: `4:x:${i}`, properties: { n: i } })).join('\n');
    const requests = n / perRequest;
    const t0 = performance.now();
    let accepted = 0;
    let sent = 0;
    const client = async () => {
      while (sent < requests) {
        sent++;
        while (Math.min(...d.internals.hosts.map((h) => h.queue.capacity - h.queue.queued)) < 2 * perRequest) await sleep(1);
        const r = await fetch(`${d.url}/v1/events`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body });
        const j = (await r.json()) as { accepted: number };
        accepted += j.accepted;
      }
    };
    await Promise.all([client(), client()]);
    const tAcc = (performance.now() - t0) / 1000;
    while (d.internals.hosts.some((h) => h.queue.queued > 0)) await new Promise((r) => setImmediate(r));
    const tDel = (performance.now() - t0) / 1000;
    const dropped = d.internals.hosts.reduce((a, h) => a + h.queue.counters().droppedTotal, 0);
    return { acceptedPerS: accepted / tAcc, deliveredPerS: delivered(d) / tDel, dropped };
  } finally {
    await d.stop();
  }
}

/** (d) Ingest→handler latency at a paced rate (events/s per plugin) for `seconds`. */
export async function latencyAtRate(rate: number, seconds = 4): Promise<{ rate: number; p50Ms: number; p99Ms: number; samples: number }> {
  const d = await benchDaemon([P('latency.mjs'), P('noop-1.mjs'), P('noop-2.mjs'), P('noop-3.mjs')], 65_536);
  try {
    const now = () => performance.timeOrigin + performance.now();
    const t0 = performance.now();
    let sent = 0;
    while (performance.now() - t0 < seconds * 1000) {
      const due = Math.floor(((performance.now() - t0) / 1000) * rate);
      const batch: DatabaseEvent[] = [];
      const ts = new Date().toISOString();
      for (; sent < due; sent++) batch.push({ id: `l-${sent}`, type: 'node.updated', timestamp: ts, database: 'neo4j', source: 'bench', metadata: { t0: now() } });
      if (batch.length) d.internals.router.route(batch);
      await sleep(1);
    }
    await waitDelivered(d, sent);
    const r = await d.api.invokeAction('heimdall.latency.take', {}, { kind: 'operator' });
    const lat = (r.data!.latencies as number[]).sort((a, b) => a - b);
    return { rate, p50Ms: percentile(lat, 50), p99Ms: percentile(lat, 99), samples: lat.length };
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
    while (!stop) {
      const st = (await (await fetch(`${url}/v1/status`)).json()) as { plugins: Array<{ name: string; counters: { received: number; delivered: number; droppedTotal: number; queued: number } }> };
      for (const p of st.plugins) {
        const c = p.counters;
        if (c.received !== c.delivered + c.droppedTotal + c.queued) invariantViolations.push(`${p.name}: ${JSON.stringify(c)}`);
      }
      const s = Math.floor((performance.now() - t0) / 1000);
      if (s !== lastRss && s % 5 === 0) {
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
  const firstHalf = rss.filter((r) => r.s >= 10 && r.s <= seconds / 2).map((r) => r.mb);
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
