/**
 * Bifrost benchmark (issue 5), against the real daemon binary in a child process:
 *   (a) notifications/s from a plugin worker (ctx.bifrost.sendNotification, awaited in windows of
 *       256) to 1, 10 and 100 connected SSE clients: "published" is the worker's sending rate,
 *       "delivered" the rate at which the last client had every message (target >= 20,000/s to 10);
 *   (b) end-to-end latency from sendNotification in the worker to the parsed event in a client, at
 *       1,000 notifications/s, with 1 client and with 100 clients connected (target p99 < 20 ms);
 *   (c) the daemon's RSS: idle, with 100 idle clients, and the peak while delivering to 100.
 * The clients run in this process: the counting clients only count frames (no parsing), the
 * latency client parses each event. Sender and receiver clocks are both the wall clock of this
 * machine (performance.timeOrigin + performance.now()).
 *
 *   node dist/bench/bifrost.js            (prints a table)
 *   runBifrostBench()                     (bench/run.ts; returns the figures)
 */
import { get, type ClientRequest } from 'node:http';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BifrostMessage } from '../daemon/bifrost/bus.js';
import { connectSse } from '../daemon/bifrost/sse-client.js';
import { startDaemonProcess, type DaemonProcess } from '../test/helpers/daemon-process.js';
import { fmt, percentile, printTable, sleep } from './stats.js';

const ROOT = resolve(fileURLToPath(new URL('../../', import.meta.url)));
const NOTIFIER = resolve(ROOT, 'test/fixtures/plugins/bifrost-notifier.mjs');
const quick = process.env['HEIMDALL_BENCH_QUICK'] === '1';
const STREAM = '/v1/bifrost/stream?kind=notification&plugin=bifrost-notifier';
const NEEDLE = Buffer.from('\nevent: notification\n');
const now = () => performance.timeOrigin + performance.now();

interface CountingClient {
  count: number;
  cutOff: boolean;
  ended: boolean;
  close(): void;
}

/** A client that counts notification frames in the raw bytes without parsing them. */
function countingClient(url: string): Promise<CountingClient> {
  return new Promise((resolveClient, reject) => {
    const c: CountingClient = { count: 0, cutOff: false, ended: false, close: () => req.destroy() };
    let carry: Buffer = Buffer.alloc(0);
    const req: ClientRequest = get(url, { headers: { accept: 'text/event-stream' } }, (res) => {
      if (res.statusCode !== 200) {
        reject(new Error(`The stream answered HTTP ${res.statusCode}.`));
        res.resume();
        return;
      }
      res.on('data', (chunk: Buffer) => {
        const buf = carry.length > 0 ? Buffer.concat([carry, chunk]) : chunk;
        let i = buf.indexOf(NEEDLE);
        while (i !== -1) {
          c.count++;
          i = buf.indexOf(NEEDLE, i + NEEDLE.length);
        }
        if (!c.cutOff && buf.includes('event: cutoff')) c.cutOff = true;
        carry = buf.subarray(Math.max(0, buf.length - NEEDLE.length + 1));
      });
      res.on('close', () => (c.ended = true));
      // The hello event arrives at once: the subscription is live.
      res.once('data', () => resolveClient(c));
    });
    req.on('error', (err) => (c.ended ? undefined : reject(err)));
  });
}

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Math.round(Number(m[1]) / 1024) : NaN;
}

async function invoke(d: DaemonProcess, action: string, params: Record<string, unknown>): Promise<Record<string, unknown>> {
  const res = await d.fetch(`/v1/actions/heimdall.bifrost-notifier.${action}/invoke`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ params }),
  });
  const body = (await res.json()) as { success: boolean; message: string; data?: Record<string, unknown> };
  if (!body.success) throw new Error(`The benchmark action ${action} failed: ${body.message}`);
  return body.data ?? {};
}

interface Throughput {
  clients: number;
  notifications: number;
  publishedPerS: number;
  deliveredPerS: number;
  cutOff: number;
  peakRssMb: number;
}

async function throughput(d: DaemonProcess, clients: number, n: number): Promise<Throughput> {
  const cs = await Promise.all(Array.from({ length: clients }, () => countingClient(`${d.url}${STREAM}`)));
  let peak = rssMb(d.proc.pid!);
  const sampler = setInterval(() => (peak = Math.max(peak, rssMb(d.proc.pid!))), 50);
  const t0 = now();
  const data = await invoke(d, 'burst', { count: n, window: 256 });
  const sent = now();
  const deadline = Date.now() + 60_000;
  while (cs.some((c) => c.count < n && !c.cutOff && !c.ended) && Date.now() < deadline) await sleep(2);
  const done = now();
  clearInterval(sampler);
  const cutOff = cs.filter((c) => c.cutOff).length;
  const short = cs.filter((c) => c.count < n && !c.cutOff).length;
  for (const c of cs) c.close();
  if (short > 0) throw new Error(`${short} of ${clients} benchmark clients did not get all ${n} notifications within 60 s.`);
  return {
    clients,
    notifications: n,
    publishedPerS: (n / (Number(data['ms']) || sent - t0)) * 1000,
    deliveredPerS: (n / (done - t0)) * 1000,
    cutOff,
    peakRssMb: peak,
  };
}

interface Latency {
  clients: number;
  rate: number;
  samples: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

async function latency(d: DaemonProcess, extraClients: number, rate: number, seconds: number): Promise<Latency> {
  const extras = await Promise.all(Array.from({ length: extraClients }, () => countingClient(`${d.url}${STREAM}`)));
  const samples: number[] = [];
  const conn = await connectSse(`${d.url}${STREAM}`, {
    onEvent: (e) => {
      if (!e.hasId) return;
      const t = (JSON.parse(e.data) as BifrostMessage).data?.['t'];
      if (typeof t === 'number') samples.push(now() - t);
    },
  });
  await sleep(100);
  await invoke(d, 'paced', { rate, durationMs: seconds * 1000 });
  await sleep(200);
  conn.close();
  for (const c of extras) c.close();
  // The first 100 ms are warm-up.
  const s = samples.slice(Math.floor(rate / 10)).sort((a, b) => a - b);
  return { clients: extraClients + 1, rate, samples: s.length, p50Ms: percentile(s, 50), p99Ms: percentile(s, 99), maxMs: s[s.length - 1] ?? NaN };
}

export async function runBifrostBench(): Promise<Record<string, unknown>> {
  const d = await startDaemonProcess({
    configYaml: [
      'plugins:',
      `  - path: ${JSON.stringify(NOTIFIER)}`,
      // The bench measures Bifrost itself: no per-plugin output limit (limits.plugins) in the way.
      '    limits:',
      '      notificationsPerSecond: 0',
      'bifrost:',
      '  sinks: []',
      '',
    ].join('\n'),
  });
  try {
    await sleep(300);
    const idleRssMb = rssMb(d.proc.pid!);
    const idle = await Promise.all(Array.from({ length: 100 }, () => countingClient(`${d.url}${STREAM}`)));
    await sleep(300);
    const rss100IdleMb = rssMb(d.proc.pid!);
    for (const c of idle) c.close();
    await throughput(d, 1, 5000); // warm-up
    const n = quick ? 10_000 : 40_000;
    const runs = [await throughput(d, 1, n), await throughput(d, 10, n), await throughput(d, 100, quick ? 2_000 : 10_000)];
    const secs = quick ? 2 : 5;
    const lat1 = await latency(d, 0, 1000, secs);
    const lat100 = await latency(d, 99, 1000, secs);
    const status = (await (await d.fetch('/v1/bifrost/status')).json()) as { published: number; stream: { cutOff: number; connectedTotal: number } };
    const result = {
      throughput: runs,
      latency: [lat1, lat100],
      rssMb: { idle: idleRssMb, with100IdleClients: rss100IdleMb, peakDelivering100: runs[2]!.peakRssMb },
      published: status.published,
      streamsOpened: status.stream.connectedTotal,
      cutOff: status.stream.cutOff,
    };
    printTable('Bifrost (issue 5): ctx.bifrost.sendNotification in a worker → daemon (child process) → SSE clients', [
      ...runs.flatMap((r): Array<[string, string, string?]> => [
        [`(a) ${r.clients} client${r.clients > 1 ? 's' : ''}: published notifications/s (${fmt(r.notifications)} sent)`, fmt(r.publishedPerS)],
        [`(a) ${r.clients} client${r.clients > 1 ? 's' : ''}: delivered to every client, notifications/s`, fmt(r.deliveredPerS), r.clients === 10 ? '>= 20,000' : undefined],
        ...(r.cutOff > 0 ? [[`(a) ${r.clients} clients: cut off as too slow`, fmt(r.cutOff)] as [string, string]] : []),
      ]),
      ...[lat1, lat100].flatMap((l): Array<[string, string, string?]> => [
        [`(b) latency at ${fmt(l.rate)}/s, ${l.clients} client${l.clients > 1 ? 's' : ''}: p50 ms`, fmt(l.p50Ms, 2)],
        [`(b) latency at ${fmt(l.rate)}/s, ${l.clients} client${l.clients > 1 ? 's' : ''}: p99 ms (max ${fmt(l.maxMs, 1)})`, fmt(l.p99Ms, 2), '< 20'],
      ]),
      ['(c) daemon RSS idle, MB', fmt(idleRssMb)],
      ['(c) daemon RSS with 100 idle clients, MB', fmt(rss100IdleMb)],
      ['(c) daemon RSS peak while delivering to 100 clients, MB', fmt(runs[2]!.peakRssMb)],
    ]);
    return result;
  } finally {
    await d.stop();
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const t0 = Date.now();
  await runBifrostBench();
  console.log(`\nThe Bifrost benchmark took ${((Date.now() - t0) / 1000).toFixed(1)} s.`);
  process.exit(0);
}
