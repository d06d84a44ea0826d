/**
 * bolt-proxy benchmark (issue 9): direct to Neo4j against through the proxy, in one run, with the same
 * clients and queries, against a Neo4j of its own (test/neo4j/launcher.ts). The proxy runs in a child
 * process of its own (as it would in the daemon, apart from the application), so its CPU time is its own.
 *
 *  (a) small-query round trip (neo4j-driver, one session, RETURN 1), p50/p99, alternating blocks
 *      direct/proxy; target: added p50 <= 0.15 ms, added p99 <= 1 ms;
 *  (b) a 1,000,000-row result streamed, MB/s: with a raw Bolt client that only de-frames (so the relay,
 *      not the driver's decoding, is what is measured) and with neo4j-driver; target >= 0.9x direct;
 *  (c) 2,000 queries/s sustained (open loop, neo4j-driver, 32 sessions) with every query.executed
 *      counted in the proxy process: none dropped, query→emit p50/p99 (client send → event handed to
 *      emit), proxy CPU ms per 10,000 queries; the client's own latency direct vs proxy beside it.
 *
 *   node dist/bench/bolt.js            (or `npm run bench -- bolt`)
 * HEIMDALL_BENCH_QUICK=1: shorter phases.
 */
import { fork, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { fileURLToPath, pathToFileURL } from 'node:url';
import neo4j, { type Driver } from 'neo4j-driver';
import { pino } from 'pino';
import { BoltProxySource } from '../daemon/sources/bolt-proxy/index.js';
import { Deframer } from '../daemon/sources/bolt-proxy/framing.js';
import type { DatabaseEvent } from '../sdk/events.js';
import { startNeo4j } from '../test/neo4j/launcher.js';
import { clientHandshake, msg, S } from '../test/helpers/bolt-wire.js';
import { fmt, percentile } from './stats.js';

const quick = process.env.HEIMDALL_BENCH_QUICK === '1';
const now = (): number => performance.timeOrigin + performance.now();
const CHILD_ENV = 'HEIMDALL_BOLT_BENCH_CHILD';

// ---------------------------------------------------------------- the proxy's process

interface ChildStats {
  cpuUserMs: number;
  cpuSystemMs: number;
  events: number;
  marked: number;
  dropped: number;
  latencies: number[];
  /** Emit time less (client send time + the query's durationMs): the proxy's own delay after the server's answer. */
  afterAnswer: number[];
  bytesServerToClient: number;
  bytesClientToServer: number;
}

async function childMain(): Promise<void> {
  const upstream = process.env.HEIMDALL_BOLT_BENCH_UPSTREAM!;
  let events = 0;
  let latencies: number[] = [];
  let afterAnswer: number[] = [];
  let marked = 0;
  const src = new BoltProxySource({
    config: { type: 'bolt-proxy', listen: '127.0.0.1:0', upstream, captureParams: 'full' },
    emit: (evs: DatabaseEvent[]) => {
      const t = now();
      events += evs.length;
      for (const e of evs) {
        const t0 = (e.queryParams as { t0?: number } | undefined)?.t0;
        if (typeof t0 === 'number') {
          marked++;
          latencies.push(t - t0);
          afterAnswer.push(t - t0 - (e.durationMs ?? 0));
        }
      }
    },
    logger: pino({ level: 'warn' }),
  });
  await src.start();
  process.send!({ type: 'ready', address: src.address });
  process.on('message', (m: { type: string }) => {
    if (m.type === 'stats') {
      const cpu = process.cpuUsage();
      const d = src.status().details;
      const s: ChildStats = {
        cpuUserMs: cpu.user / 1000,
        cpuSystemMs: cpu.system / 1000,
        events,
        marked,
        dropped: d.events.dropped,
        latencies,
        afterAnswer,
        bytesServerToClient: d.bytes.serverToClient,
        bytesClientToServer: d.bytes.clientToServer,
      };
      latencies = [];
      afterAnswer = [];
      marked = 0;
      process.send!({ type: 'stats', stats: s });
    } else if (m.type === 'stop') {
      void src.stop().then(() => process.exit(0));
    }
  });
}

class ProxyChild {
  private constructor(
    private readonly child: ChildProcess,
    readonly address: string,
  ) {}

  static async start(upstream: string): Promise<ProxyChild> {
    const child = fork(fileURLToPath(import.meta.url), [], { env: { ...process.env, [CHILD_ENV]: '1', HEIMDALL_BOLT_BENCH_UPSTREAM: upstream }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const address = await new Promise<string>((res, rej) => {
      child.once('message', (m: { type: string; address: string }) => res(m.address));
      child.once('exit', (code) => rej(new Error(`The proxy process exited (${code}) before it was ready.`)));
    });
    return new ProxyChild(child, address);
  }

  stats(): Promise<ChildStats> {
    return new Promise((res) => {
      const on = (m: { type: string; stats: ChildStats }): void => {
        if (m.type !== 'stats') return;
        this.child.off('message', on);
        res(m.stats);
      };
      this.child.on('message', on);
      this.child.send({ type: 'stats' });
    });
  }

  async stop(): Promise<void> {
    const exited = new Promise((r) => this.child.once('exit', r));
    this.child.send({ type: 'stop' });
    await exited;
  }
}

// ---------------------------------------------------------------- (a) round trip

async function roundTrips(d: Driver, n: number): Promise<number[]> {
  const s = d.session({ database: 'neo4j' });
  const out: number[] = [];
  try {
    for (let i = 0; i < n; i++) {
      const t0 = performance.now();
      await s.run('RETURN 1 AS x');
      out.push(performance.now() - t0);
    }
  } finally {
    await s.close();
  }
  return out;
}

// ---------------------------------------------------------------- (b) streaming

/** Streams `query` over a raw Bolt 5.x connection, de-framing only; returns the bytes and seconds it took. */
async function rawStream(address: string, user: string, password: string, query: string): Promise<{ bytes: number; seconds: number; records: number }> {
  const i = address.lastIndexOf(':');
  const sock = net.connect({ host: address.slice(0, i), port: Number(address.slice(i + 1)), noDelay: true });
  await new Promise<void>((res, rej) => {
    sock.once('connect', () => res());
    sock.once('error', rej);
  });
  let summaries = 0;
  let records = 0;
  let bytes = 0;
  let waiting: (() => void) | undefined;
  let target = 0;
  const frames = new Deframer({ collect: () => false, maxMessageBytes: 0 }, (m) => {
    if (m.signature === S.RECORD) records++;
    else if (++summaries >= target && waiting) waiting();
  });
  let handshake = true;
  sock.on('data', (d: Buffer) => {
    bytes += d.length;
    if (handshake) {
      handshake = false;
      d = d.subarray(4);
      if (waiting) waiting();
    }
    frames.push(d);
  });
  const until = (n: number): Promise<void> =>
    new Promise((res) => {
      target = n;
      waiting = res;
      if (summaries >= n && !handshake) res();
    });
  const hs = until(0);
  sock.write(clientHandshake([5, 8, 8]));
  await hs;
  sock.write(Buffer.concat([msg(S.HELLO, { user_agent: 'bench-raw/1', bolt_agent: { product: 'bench-raw/1' } }), msg(S.LOGON, { scheme: 'basic', principal: user, credentials: password })]));
  await until(2);
  const b0 = bytes;
  const t0 = performance.now();
  sock.write(Buffer.concat([msg(S.RUN, query, {}, { db: 'neo4j' }), msg(S.PULL, { n: -1 })]));
  await until(4);
  const seconds = (performance.now() - t0) / 1000;
  const out = { bytes: bytes - b0, seconds, records };
  sock.write(msg(S.GOODBYE));
  sock.destroy();
  return out;
}

async function driverStream(d: Driver, query: string): Promise<{ seconds: number; records: number }> {
  const s = d.session({ database: 'neo4j', fetchSize: 10_000 });
  let records = 0;
  const t0 = performance.now();
  try {
    for await (const _ of s.run(query)) records++;
  } finally {
    await s.close();
  }
  return { seconds: (performance.now() - t0) / 1000, records };
}

// ---------------------------------------------------------------- (c) sustained rate

async function sustained(d: Driver, rate: number, seconds: number, sessions = 32): Promise<{ sent: number; done: number; failed: number; achievedPerS: number; latencies: number[] }> {
  const pool = Array.from({ length: sessions }, () => d.session({ database: 'neo4j' }));
  const free = [...pool];
  let sent = 0;
  let done = 0;
  let failed = 0;
  let late = 0;
  const latencies: number[] = [];
  const t0 = performance.now();
  const end = t0 + seconds * 1000;
  await new Promise<void>((resolve) => {
    const tick = (): void => {
      const t = performance.now();
      const due = Math.min(Math.floor(((Math.min(t, end) - t0) / 1000) * rate), Math.floor(seconds * rate));
      while (sent < due) {
        const s = free.pop();
        if (!s) {
          late++;
          break;
        }
        const i = sent++;
        const start = performance.now();
        s.run('RETURN $i AS i', { i: neo4j.int(i), t0: now() })
          .then(
            () => {
              done++;
              latencies.push(performance.now() - start);
            },
            () => void failed++,
          )
          .finally(() => {
            free.push(s);
            if (t >= end && done + failed === sent) resolve();
          });
      }
      if (t < end) setTimeout(tick, 1);
      else if (done + failed === sent) resolve();
      else setTimeout(tick, 5);
    };
    tick();
  });
  const wall = (performance.now() - t0) / 1000;
  await Promise.all(pool.map((s) => s.close()));
  void late;
  return { sent, done, failed, achievedPerS: done / wall, latencies };
}

// ---------------------------------------------------------------- the run

const pct = (xs: number[], p: number): number => percentile([...xs].sort((a, b) => a - b), p);

function printRows(title: string, rows: Array<[string, string, string, string]>): void {
  const head: [string, string, string, string] = ['metric', 'proxy', 'direct', 'target'];
  const w = [0, 1, 2, 3].map((c) => Math.max(...[head, ...rows].map((r) => r[c]!.length)));
  console.log(`\n${title}`);
  const line = (r: string[]): string => `${r[0]!.padEnd(w[0]!)}  ${r[1]!.padStart(w[1]!)}  ${r[2]!.padStart(w[2]!)}  ${r[3]}`;
  console.log(line(head));
  console.log(line(w.map((n) => '-'.repeat(n))));
  for (const r of rows) console.log(line(r));
}

export async function runBoltBench(): Promise<Record<string, unknown>> {
  const password = 'bench-bolt-pw';
  const db = await startNeo4j({ auth: true, password, log: (l) => console.error(`[bench bolt] ${l}`) });
  const proxy = await ProxyChild.start(db.uri);
  const auth = neo4j.auth.basic('neo4j', password);
  const cfg = { maxConnectionPoolSize: 64, logging: { level: 'error' as const, logger: () => {} } };
  const direct = neo4j.driver(db.uri, auth, cfg);
  const viaProxy = neo4j.driver(`bolt://${proxy.address}`, auth, cfg);
  const directAddress = db.uri.replace('bolt://', '');
  try {
    // warm-up: JIT, query caches, connection pools on both paths
    for (const d of [direct, viaProxy]) {
      await roundTrips(d, quick ? 300 : 1000);
      await sustained(d, 500, 1);
    }

    // (a) alternating blocks, so drift (GC, the JVM) lands on both sides alike
    const blocks = quick ? 4 : 10;
    const per = quick ? 250 : 500;
    const rtDirect: number[] = [];
    const rtProxy: number[] = [];
    for (let b = 0; b < blocks; b++) {
      rtDirect.push(...(await roundTrips(direct, per)));
      rtProxy.push(...(await roundTrips(viaProxy, per)));
    }
    const a = {
      queries: rtDirect.length,
      direct: { p50Ms: pct(rtDirect, 50), p99Ms: pct(rtDirect, 99) },
      proxy: { p50Ms: pct(rtProxy, 50), p99Ms: pct(rtProxy, 99) },
      addedP50Ms: pct(rtProxy, 50) - pct(rtDirect, 50),
      addedP99Ms: pct(rtProxy, 99) - pct(rtDirect, 99),
    };

    // (b) 1,000,000 rows
    const rows = quick ? 300_000 : 1_000_000;
    const q = `UNWIND range(1, ${rows}) AS i RETURN i, 'row number ' + toString(i) AS label`;
    const rawD: Array<{ bytes: number; seconds: number }> = [];
    const rawP: Array<{ bytes: number; seconds: number }> = [];
    let streamCpuMs = 0;
    const proxied = async (): Promise<void> => {
      const s0 = await proxy.stats();
      rawP.push(await rawStream(proxy.address, 'neo4j', password, q));
      const s1 = await proxy.stats();
      streamCpuMs += s1.cpuUserMs + s1.cpuSystemMs - s0.cpuUserMs - s0.cpuSystemMs;
    };
    await rawStream(directAddress, 'neo4j', password, q); // warm-up: plan cache, JIT
    await rawStream(proxy.address, 'neo4j', password, q);
    // pairs in alternating order, so whichever runs second in a pair is not always the same side
    for (let r = 0; r < (quick ? 2 : 5); r++) {
      if (r % 2 === 0) {
        rawD.push(await rawStream(directAddress, 'neo4j', password, q));
        await proxied();
      } else {
        await proxied();
        rawD.push(await rawStream(directAddress, 'neo4j', password, q));
      }
    }
    const best = (xs: Array<{ bytes: number; seconds: number }>): { mb: number; mbPerS: number; seconds: number; medianMbPerS: number } => {
      const x = xs.reduce((m, y) => (y.seconds < m.seconds ? y : m));
      const med = [...xs].sort((p1, p2) => p1.seconds - p2.seconds)[Math.floor(xs.length / 2)]!;
      return { mb: x.bytes / 1e6, mbPerS: x.bytes / 1e6 / x.seconds, seconds: x.seconds, medianMbPerS: med.bytes / 1e6 / med.seconds };
    };
    const drvD = await driverStream(direct, q);
    const drvP = await driverStream(viaProxy, q);
    const streamBytes = best(rawD).mb * 1e6;
    const b = {
      rows,
      raw: {
        direct: best(rawD),
        proxy: best(rawP),
        ratio: best(rawP).mbPerS / best(rawD).mbPerS,
        medianRatio: best(rawP).medianMbPerS / best(rawD).medianMbPerS,
        seconds: { direct: rawD.map((x) => x.seconds), proxy: rawP.map((x) => x.seconds) },
      },
      proxyCpuMsPerStream: streamCpuMs / rawP.length,
      driver: {
        direct: { seconds: drvD.seconds, mbPerS: streamBytes / 1e6 / drvD.seconds, records: drvD.records },
        proxy: { seconds: drvP.seconds, mbPerS: streamBytes / 1e6 / drvP.seconds, records: drvP.records },
        ratio: drvD.seconds / drvP.seconds,
      },
    };

    // (c) 2,000 queries/s
    const rate = 2000;
    const secs = quick ? 5 : 15;
    const cDirect = await sustained(direct, rate, secs);
    await proxy.stats(); // reset the child's latency list and take its CPU baseline
    const before = await proxy.stats();
    const cProxy = await sustained(viaProxy, rate, secs);
    // wait until every query's event has been counted
    let after = await proxy.stats();
    let marked = after.marked;
    const lat = [...after.latencies];
    const aft = [...after.afterAnswer];
    for (let i = 0; i < 100 && marked < cProxy.done; i++) {
      await new Promise((r) => setTimeout(r, 20));
      after = await proxy.stats();
      marked += after.marked;
      lat.push(...after.latencies);
      aft.push(...after.afterAnswer);
    }
    const cpuMs = after.cpuUserMs + after.cpuSystemMs - (before.cpuUserMs + before.cpuSystemMs);
    const c = {
      rate,
      seconds: secs,
      direct: { achievedPerS: cDirect.achievedPerS, failed: cDirect.failed, p50Ms: pct(cDirect.latencies, 50), p99Ms: pct(cDirect.latencies, 99) },
      proxy: { achievedPerS: cProxy.achievedPerS, failed: cProxy.failed, p50Ms: pct(cProxy.latencies, 50), p99Ms: pct(cProxy.latencies, 99) },
      queries: cProxy.done,
      eventsCounted: marked,
      dropped: after.dropped,
      queryToEmitP50Ms: pct(lat, 50),
      queryToEmitP99Ms: pct(lat, 99),
      answerToEmitP50Ms: pct(aft, 50),
      answerToEmitP99Ms: pct(aft, 99),
      proxyCpuMsPer10kQueries: (cpuMs / cProxy.done) * 10_000,
    };

    printRows(`bolt-proxy (issue 9): direct vs through the proxy (its own process), Neo4j ${db.uri}`, [
      ['(a) round trip p50, ms', fmt(a.proxy.p50Ms, 3), fmt(a.direct.p50Ms, 3), ''],
      ['(a) round trip p99, ms', fmt(a.proxy.p99Ms, 3), fmt(a.direct.p99Ms, 3), ''],
      ['(a) added p50, ms', fmt(a.addedP50Ms, 3), '', '<= 0.15'],
      ['(a) added p99, ms', fmt(a.addedP99Ms, 3), '', '<= 1'],
      [`(b) ${fmt(rows)} rows, raw client, best MB/s (${fmt(b.raw.direct.mb, 1)} MB)`, fmt(b.raw.proxy.mbPerS, 1), fmt(b.raw.direct.mbPerS, 1), '>= 0.9x direct'],
      ['(b) raw client, median MB/s', fmt(b.raw.proxy.medianMbPerS, 1), fmt(b.raw.direct.medianMbPerS, 1), ''],
      ['(b) raw client proxy/direct, best (median)', `${fmt(b.raw.ratio, 3)} (${fmt(b.raw.medianRatio, 3)})`, '1', '>= 0.9'],
      ['(b) proxy CPU per stream, ms', fmt(b.proxyCpuMsPerStream, 0), '', 'reported'],
      [`(b) ${fmt(rows)} rows, neo4j-driver, MB/s`, fmt(b.driver.proxy.mbPerS, 1), fmt(b.driver.direct.mbPerS, 1), '>= 0.9x direct'],
      ['(b) neo4j-driver proxy/direct', fmt(b.driver.ratio, 3), '1', '>= 0.9'],
      [`(c) ${fmt(rate)} q/s for ${secs} s: achieved q/s`, fmt(c.proxy.achievedPerS), fmt(c.direct.achievedPerS), fmt(rate)],
      ['(c) client latency p50 / p99, ms', `${fmt(c.proxy.p50Ms, 2)} / ${fmt(c.proxy.p99Ms, 2)}`, `${fmt(c.direct.p50Ms, 2)} / ${fmt(c.direct.p99Ms, 2)}`, ''],
      ['(c) query.executed counted / queries', `${fmt(c.eventsCounted)} / ${fmt(c.queries)}`, '', 'all'],
      ['(c) events dropped', fmt(c.dropped), '', '0'],
      ['(c) query→emit p50 / p99, ms', `${fmt(c.queryToEmitP50Ms, 2)} / ${fmt(c.queryToEmitP99Ms, 2)}`, '', 'p99 < 20'],
      ['(c) server answer→emit p50 / p99, ms (the proxy\'s own part)', `${fmt(c.answerToEmitP50Ms, 2)} / ${fmt(c.answerToEmitP99Ms, 2)}`, '', 'reported'],
      ['(c) proxy CPU per 10,000 queries, ms', fmt(c.proxyCpuMsPer10kQueries, 0), '', 'reported'],
    ]);
    return { roundTrip: a, stream: b, sustained: c };
  } finally {
    await direct.close();
    await viaProxy.close();
    await proxy.stop();
    await db.stop();
  }
}

if (process.env[CHILD_ENV] === '1') {
  await childMain();
} else if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const r = await runBoltBench();
  console.log(JSON.stringify(r, null, 2));
  process.exit(0);
}
