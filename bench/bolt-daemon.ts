/**
 * bolt-proxy in the daemon (issue 9, phase 2): `heimdall start` in a process of its own with a
 * `bolt-proxy` source (captureParams: full, so each event carries the client's send time) and a
 * real plugin in its worker that counts query.executed (bench/plugins/query-counter.mjs), with the
 * default queue settings. The client, in this process, is the application.
 *
 *  (d) 2,000 queries/s for 15 s through the daemon's proxy: counted / dropped, query→handler
 *      p50/p99 (client send → the plugin's handler; target p99 < 20 ms), CPU of the daemon's main
 *      thread (proxy, router, queues) and of the plugin's worker per 10,000 queries;
 *  (e) what the application feels: small writes (CREATE) at `writeRate`/s (after a warm-up of the
 *      write path both ways) through the daemon's proxy while the daemon drains the events: client
 *      p50/p99, achieved rate, write→handler p50/p99, the plugin queue's high-water mark.
 * Each baseline is the same load direct to Neo4j, in two halves run just before and just after.
 */
import { readFileSync, readdirSync } from 'node:fs';
import net from 'node:net';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import neo4j, { type Driver } from 'neo4j-driver';
import type { DaemonStatus } from '../daemon/http/daemon-api.js';
import { startDaemonProcess, type DaemonProcess } from '../test/helpers/daemon-process.js';
import { aroundBaseline, met, openLoop, pct, type LoadResult, type Row } from './bolt-load.js';

const ROOT = resolve(fileURLToPath(new URL('../../', import.meta.url)));
const COUNTER = join(ROOT, 'bench/plugins/query-counter.mjs');

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

/** CPU ms (user + system) of each thread of `pid`, by thread id, from /proc (Linux; empty elsewhere). */
function threadCpuMs(pid: number): Map<string, number> {
  const out = new Map<string, number>();
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.set(tid, ((Number(f[11]) + Number(f[12])) / 100) * 1000);
    }
  } catch {
    // not Linux
  }
  return out;
}

/** Main thread and the busiest other thread (the plugin's worker) between two snapshots, ms. */
function cpuBetween(pid: number, a: Map<string, number>, b: Map<string, number>): { mainMs: number; workerMs: number } {
  const main = String(pid);
  let workerMs = 0;
  for (const [tid, ms] of b) if (tid !== main) workerMs = Math.max(workerMs, ms - (a.get(tid) ?? 0));
  return { mainMs: (b.get(main) ?? 0) - (a.get(main) ?? 0), workerMs };
}

interface Taken {
  count: number;
  latencies: number[];
}

async function take(d: DaemonProcess): Promise<Taken> {
  const r = await d.fetch('/v1/actions/heimdall.query-counter.take/invoke', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
  const body = (await r.json()) as { data: Taken };
  return body.data;
}

/** Takes latencies until the plugin has counted `target` events (or 5 s pass); returns all of them. */
async function drain(d: DaemonProcess, target: number): Promise<{ count: number; latencies: number[] }> {
  const lat: number[] = [];
  let count = 0;
  for (let i = 0; i < 250; i++) {
    const t = await take(d);
    lat.push(...t.latencies);
    count = t.count;
    if (count >= target) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  return { count, latencies: lat };
}

async function proxyStatus(d: DaemonProcess): Promise<{ dropped: number; emitted: number; pluginDropped: number; highWater: number }> {
  const s = (await (await d.fetch('/v1/status')).json()) as DaemonStatus;
  const src = s.sources.find((x) => x.type === 'bolt-proxy')!;
  const ev = (src.details as { events: { dropped: number; emitted: number } }).events;
  const p = s.plugins.find((x) => x.name === 'query-counter')!;
  return { dropped: ev.dropped, emitted: ev.emitted, pluginDropped: p.counters.droppedTotal, highWater: p.counters.highWaterMark };
}

export interface DaemonFigures {
  read: { rate: number; seconds: number; client: LoadResult; direct: LoadResult; counted: number; dropped: number; pluginDropped: number; handlerP50Ms: number; handlerP99Ms: number; mainCpuMsPer10k: number; workerCpuMsPer10k: number };
  write: { rate: number; seconds: number; direct: LoadResult; proxy: LoadResult; counted: number; dropped: number; pluginDropped: number; handlerP50Ms: number; handlerP99Ms: number; queueHighWater: number };
}

const summary = (r: LoadResult) => ({ ...r, latencies: [] as number[], p50Ms: pct(r.latencies, 50), p99Ms: pct(r.latencies, 99) });

export async function daemonPhases(o: { uri: string; password: string; direct: Driver; rate: number; seconds: number; writeRate: number; writeSeconds: number }): Promise<DaemonFigures & { printable: Row[] }> {
  const port = await freePort();
  const d = await startDaemonProcess({
    configYaml: [
      'database:',
      `  uri: ${o.uri}`,
      '  user: neo4j',
      `  password: ${JSON.stringify(o.password)}`,
      'sources:',
      '  - type: bolt-proxy',
      `    listen: 127.0.0.1:${port}`,
      '    captureParams: full',
      'plugins:',
      `  - path: ${JSON.stringify(COUNTER)}`,
    ].join('\n'),
    timeoutMs: 60_000,
  });
  const pid = d.proc.pid!;
  const app = neo4j.driver(`bolt://127.0.0.1:${port}`, neo4j.auth.basic('neo4j', o.password), { maxConnectionPoolSize: 64, logging: { level: 'error', logger: () => {} } });
  try {
    await openLoop(app, 500, 1); // warm-up: connections, JIT, the worker
    let base = await drain(d, 1);

    // (d) reads at the target rate through the daemon's proxy, between two halves of the same direct (the baseline)
    const dRun = await aroundBaseline((t) => openLoop(o.direct, o.rate, t), o.seconds, async () => {
      const cpu0 = threadCpuMs(pid);
      const r = await openLoop(app, o.rate, o.seconds);
      return { read: r, cpu0, cpu1: threadCpuMs(pid) };
    });
    const readDirect = dRun.baseline;
    const read = dRun.measured.read;
    const got = await drain(d, base.count + read.done);
    const cpu = cpuBetween(pid, dRun.measured.cpu0, dRun.measured.cpu1);
    const s1 = await proxyStatus(d);
    const readFig = {
      rate: o.rate,
      seconds: o.seconds,
      client: summary(read),
      direct: summary(readDirect),
      counted: got.count - base.count,
      dropped: s1.dropped,
      pluginDropped: s1.pluginDropped,
      handlerP50Ms: pct(got.latencies, 50),
      handlerP99Ms: pct(got.latencies, 99),
      mainCpuMsPer10k: (cpu.mainMs / read.done) * 10_000,
      workerCpuMsPer10k: (cpu.workerMs / read.done) * 10_000,
    };

    // (e) the application's writes, direct and through the daemon's proxy
    const write = 'CREATE (:BoltBenchWrite {i: $i, at: $t0})';
    // warm-up: the write path on both sides (the first writes of a run are the slowest)
    await openLoop(o.direct, o.writeRate / 2, 1, write);
    const warm = await openLoop(app, o.writeRate / 2, 1, write);
    await drain(d, got.count + warm.done);
    const wRun = await aroundBaseline((t) => openLoop(o.direct, o.writeRate, t, write), o.writeSeconds, async () => {
      const c0 = (await drain(d, 0)).count;
      const r = await openLoop(app, o.writeRate, o.writeSeconds, write);
      return { r, c0 };
    });
    const direct = wRun.baseline;
    const viaProxy = wRun.measured.r;
    const wgot = await drain(d, wRun.measured.c0 + viaProxy.done);
    const s2 = await proxyStatus(d);
    const writeFig = {
      rate: o.writeRate,
      seconds: o.writeSeconds,
      direct: summary(direct),
      proxy: summary(viaProxy),
      counted: wgot.count - wRun.measured.c0,
      dropped: s2.dropped,
      pluginDropped: s2.pluginDropped,
      handlerP50Ms: pct(wgot.latencies, 50),
      handlerP99Ms: pct(wgot.latencies, 99),
      queueHighWater: s2.highWater,
    };
    await o.direct.executeQuery('MATCH (n:BoltBenchWrite) CALL { WITH n DELETE n } IN TRANSACTIONS OF 10000 ROWS', {}, { database: 'neo4j' }).catch(() => undefined);

    const f = (n: number, digits = 0) => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
    const ms = (x: { p50Ms: number; p99Ms: number }) => `${f(x.p50Ms, 2)} / ${f(x.p99Ms, 2)}`;
    const wDropped = writeFig.dropped - readFig.dropped;
    const wQueueDropped = writeFig.pluginDropped - readFig.pluginDropped;
    const printable: Row[] = [
      [`(d) daemon (heimdall start, a plugin counting): ${f(o.rate)} q/s for ${o.seconds} s, achieved q/s`, f(read.achievedPerS), f(readDirect.achievedPerS), f(o.rate), met(read.achievedPerS >= o.rate * 0.99)],
      ['(d) query.executed counted by the plugin / queries', `${f(readFig.counted)} / ${f(read.done)}`, '', 'all', met(readFig.counted === read.done)],
      ['(d) dropped: proxy buffer / plugin queue', `${f(readFig.dropped)} / ${f(readFig.pluginDropped)}`, '', '0 / 0', met(readFig.dropped === 0 && readFig.pluginDropped === 0)],
      ['(d) query→handler p50 / p99, ms (baseline: direct round trip)', ms({ p50Ms: readFig.handlerP50Ms, p99Ms: readFig.handlerP99Ms }), ms(readFig.direct), 'p99 < 20', met(readFig.handlerP99Ms < 20)],
      ['(d) client round trip p50 / p99 through the daemon, ms', ms(readFig.client), ms(readFig.direct), '', ''],
      ['(d) daemon CPU per 10,000 queries: main thread / plugin worker, ms', `${f(readFig.mainCpuMsPer10k)} / ${f(readFig.workerCpuMsPer10k)}`, '', 'reported', ''],
      [`(e) app writes (CREATE) at ${f(o.writeRate)}/s for ${o.writeSeconds} s: achieved /s`, f(viaProxy.achievedPerS), f(direct.achievedPerS), f(o.writeRate), met(viaProxy.achievedPerS >= o.writeRate * 0.99)],
      ['(e) app write p50 / p99, ms', ms(writeFig.proxy), ms(writeFig.direct), '', ''],
      ['(e) writes counted / queries', `${f(writeFig.counted)} / ${f(viaProxy.done)}`, '', 'all', met(writeFig.counted === viaProxy.done)],
      ['(e) dropped: proxy buffer / plugin queue; queue high-water', `${f(wDropped)} / ${f(wQueueDropped)}; ${f(writeFig.queueHighWater)}`, '', '0 / 0', met(wDropped === 0 && wQueueDropped === 0)],
      ['(e) write→handler p50 / p99, ms (baseline: direct write)', ms({ p50Ms: writeFig.handlerP50Ms, p99Ms: writeFig.handlerP99Ms }), ms(writeFig.direct), 'reported', ''],
    ];
    return { read: readFig, write: writeFig, printable };
  } finally {
    await app.close();
    await d.stop();
  }
}
