/**
 * bolt-proxy benchmark (issue 9): direct to Neo4j against through the proxy, in one run, with the same
 * clients and queries, against a Neo4j of its own (neo4j/launcher.ts). The proxy runs in a child
 * process of its own (as it would in the daemon, apart from the application), so its CPU time is its own.
 *
 *  (a) small-query round trip (neo4j-driver, one session, RETURN 1), p50/p99, alternating blocks
 *      direct/proxy; target: added p50 <= 0.15 ms, added p99 <= 1 ms;
 *  (b) a 1,000,000-row result streamed, MB/s: with a raw Bolt client that only de-frames (so the relay,
 *      not the driver's decoding, is what is measured) and with neo4j-driver; target >= 0.9x direct;
 *  (c) 2,000 queries/s sustained (open loop, neo4j-driver, 32 sessions, bench/bolt-load.ts; the direct
 *      baseline in two halves, before and after, so drifting load lands on both alike) with every
 *      query.executed counted in the proxy process: none dropped, query→emit p50/p99 (client send →
 *      event handed to emit) taken apart (send → the proxy reads the RUN; RUN → last answer, the
 *      event's durationMs; the buffer's hand-off), proxy CPU ms per 10,000 queries, the event-loop
 *      delay of the proxy and of the client; the client's own latency direct vs proxy beside it;
 *  (d), (e) the proxy inside the daemon (`heimdall start`, its own process) with a real plugin counting
 *      query.executed (query→handler), and the application's writes direct and through it
 *      (bench/bolt-daemon.ts).
 *
 * The table gives each figure beside its baseline from the same run (direct to Neo4j, or the client's
 * own figure) and its target, and says whether the target was met; the machine's load averages before
 * and after head it, since on a small shared machine the tails are mostly the machine's.
 *
 *   node dist/bench/bolt.js            (or `npm run bench -- bolt`, which writes bench/results.json)
 * HEIMDALL_BENCH_QUICK=1: shorter phases.
 */
import { fork, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import neo4j, { type Driver } from 'neo4j-driver';
import { pino } from 'pino';
import { BoltProxySource } from '../daemon/sources/bolt-proxy/index.js';
import { EventBuffer } from '../daemon/sources/bolt-proxy/event-buffer.js';
import { Deframer } from '../daemon/sources/bolt-proxy/framing.js';
import type { DatabaseEvent } from '../sdk/events.js';
import { startNeo4j } from '../neo4j/launcher.js';
import { clientHandshake, msg, S } from '../test/helpers/bolt-wire.js';
import { daemonPhases } from './bolt-daemon.js';
import { aroundBaseline, machineLoad, met, now, openLoop, pct, printRows, type Row } from './bolt-load.js';
import { fmt } from './stats.js';

const quick = process.env.HEIMDALL_BENCH_QUICK === '1';
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
  /** Emit time less the time the tap pushed the event into its buffer (the server's last answer had just been read): the buffer's hand-off. */
  handoff: number[];
  /** The tap's push time less (client send time + durationMs): when the proxy read the RUN, less when the client sent it (the client's and the proxy's event loops, the network). */
  toProxy: number[];
  /** The event's durationMs: the proxy read the RUN → it read the result's last answer (the server's time, and the loopback both ways, as the proxy sees it). */
  server: number[];
  bytesServerToClient: number;
  bytesClientToServer: number;
  /** The proxy process's event-loop delay since the last stats call, ms: how long a ready callback (an answer, the buffer's flush) may wait for its turn. */
  loopDelay: { p50Ms: number; p99Ms: number; maxMs: number };
}

async function childMain(): Promise<void> {
  const upstream = process.env.HEIMDALL_BOLT_BENCH_UPSTREAM!;
  let events = 0;
  let latencies: number[] = [];
  let afterAnswer: number[] = [];
  let handoff: number[] = [];
  let toProxy: number[] = [];
  let server: number[] = [];
  let marked = 0;
  const loop = monitorEventLoopDelay({ resolution: 1 });
  loop.enable();
  // Bench instrumentation: when the tap pushed each event (it does so as it reads the server's last answer).
  const pushedAt = new WeakMap<DatabaseEvent, number>();
  const push = EventBuffer.prototype.push;
  EventBuffer.prototype.push = function (this: EventBuffer, ev: DatabaseEvent): boolean {
    pushedAt.set(ev, now());
    return push.call(this, ev);
  };
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
          const tp = pushedAt.get(e) ?? t;
          handoff.push(t - tp);
          toProxy.push(tp - t0 - (e.durationMs ?? 0));
          server.push(e.durationMs ?? 0);
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
        handoff,
        toProxy,
        server,
        bytesServerToClient: d.bytes.serverToClient,
        bytesClientToServer: d.bytes.clientToServer,
        loopDelay: { p50Ms: loop.percentile(50) / 1e6, p99Ms: loop.percentile(99) / 1e6, maxMs: loop.max / 1e6 },
      };
      loop.reset();
      latencies = [];
      afterAnswer = [];
      handoff = [];
      toProxy = [];
      server = [];
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

// ---------------------------------------------------------------- the run

export async function runBoltBench(): Promise<Record<string, unknown>> {
  const loadBefore = await machineLoad();
  const startedAt = performance.now();
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
      await openLoop(d, 500, 1);
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
    // each pair's direct/proxy time ratio (the two ran back to back), and their median
    const pairRatios = rawD.map((d, i) => d.seconds / rawP[i]!.seconds);
    const pairMedian = [...pairRatios].sort((x, y) => x - y)[Math.floor(pairRatios.length / 2)]!;
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
        pairRatios,
        pairMedianRatio: pairMedian,
        seconds: { direct: rawD.map((x) => x.seconds), proxy: rawP.map((x) => x.seconds) },
      },
      proxyCpuMsPerStream: streamCpuMs / rawP.length,
      driver: {
        direct: { seconds: drvD.seconds, mbPerS: streamBytes / 1e6 / drvD.seconds, records: drvD.records },
        proxy: { seconds: drvP.seconds, mbPerS: streamBytes / 1e6 / drvP.seconds, records: drvP.records },
        ratio: drvD.seconds / drvP.seconds,
      },
    };

    // (c) 2,000 queries/s through the proxy, between two halves of the same direct (the baseline)
    const rate = 2000;
    const secs = quick ? 5 : 15;
    await proxy.stats(); // reset the child's latency lists
    let before!: ChildStats;
    const cRun = await aroundBaseline((t) => openLoop(direct, rate, t), secs, async () => {
      before = await proxy.stats(); // the CPU baseline (and what the first direct half left: nothing marked)
      return openLoop(viaProxy, rate, secs);
    });
    const cDirect = cRun.baseline;
    const cProxy = cRun.measured;
    // wait until every query's event has been counted
    let after = await proxy.stats();
    const proxyLoop = after.loopDelay;
    let marked = after.marked;
    const lat = [...after.latencies];
    const aft = [...after.afterAnswer];
    const hand = [...after.handoff];
    const toP = [...after.toProxy];
    const srv = [...after.server];
    for (let i = 0; i < 100 && marked < cProxy.done; i++) {
      await new Promise((r) => setTimeout(r, 20));
      after = await proxy.stats();
      marked += after.marked;
      lat.push(...after.latencies);
      aft.push(...after.afterAnswer);
      hand.push(...after.handoff);
      toP.push(...after.toProxy);
      srv.push(...after.server);
    }
    const cpuMs = after.cpuUserMs + after.cpuSystemMs - (before.cpuUserMs + before.cpuSystemMs);
    const c = {
      rate,
      seconds: secs,
      direct: { achievedPerS: cDirect.achievedPerS, failed: cDirect.failed, p50Ms: pct(cDirect.latencies, 50), p99Ms: pct(cDirect.latencies, 99), clientLoopDelay: cDirect.loopDelay },
      proxy: { achievedPerS: cProxy.achievedPerS, failed: cProxy.failed, p50Ms: pct(cProxy.latencies, 50), p99Ms: pct(cProxy.latencies, 99), clientLoopDelay: cProxy.loopDelay },
      queries: cProxy.done,
      eventsCounted: marked,
      dropped: after.dropped,
      queryToEmitP50Ms: pct(lat, 50),
      queryToEmitP99Ms: pct(lat, 99),
      /** client send → the proxy read the RUN (the client's event loop and driver, the proxy's event loop, loopback) */
      sendToProxyP50Ms: pct(toP, 50),
      sendToProxyP99Ms: pct(toP, 99),
      /** durationMs: the proxy read the RUN → it read the last answer (the server's time as the proxy sees it) */
      serverP50Ms: pct(srv, 50),
      serverP99Ms: pct(srv, 99),
      /** query→emit less durationMs: the time before the RUN reached the proxy and after its last answer did */
      answerToEmitP50Ms: pct(aft, 50),
      answerToEmitP99Ms: pct(aft, 99),
      /** the tap pushed the event → emit called: the buffer's hand-off */
      handoffP50Ms: pct(hand, 50),
      handoffP99Ms: pct(hand, 99),
      proxyCpuMsPer10kQueries: (cpuMs / cProxy.done) * 10_000,
      proxyLoopDelay: proxyLoop,
    };

    // (d), (e): the proxy in the daemon, a real plugin counting the events; the application's writes
    const dmn = await daemonPhases({ uri: db.uri, password, direct, rate, seconds: secs, writeRate: 1000, writeSeconds: quick ? 5 : 10 });
    const loadAfter = await machineLoad();

    const ms = (x: { p50Ms: number; p99Ms: number }, d = 2): string => `${fmt(x.p50Ms, d)} / ${fmt(x.p99Ms, d)}`;
    const loopStr = (x: { p50Ms: number; p99Ms: number; maxMs: number }): string => `${fmt(x.p50Ms, 1)} / ${fmt(x.p99Ms, 1)} / ${fmt(x.maxMs, 0)}`;
    const printed: Row[] = [
      ['(a) round trip p50 / p99, ms (baseline: direct)', ms(a.proxy, 3), ms(a.direct, 3), '', ''],
      ['(a) added p50, ms', fmt(a.addedP50Ms, 3), '', '<= 0.15', met(a.addedP50Ms <= 0.15)],
      ['(a) added p99, ms', fmt(a.addedP99Ms, 3), '', '<= 1', met(a.addedP99Ms <= 1)],
      [`(b) ${fmt(rows)} rows, raw client, best MB/s (${fmt(b.raw.direct.mb, 1)} MB)`, fmt(b.raw.proxy.mbPerS, 1), fmt(b.raw.direct.mbPerS, 1), '', ''],
      ['(b) raw client, median MB/s', fmt(b.raw.proxy.medianMbPerS, 1), fmt(b.raw.direct.medianMbPerS, 1), '', ''],
      ['(b) raw client, proxy/direct: best (median; median of back-to-back pairs)', `${fmt(b.raw.ratio, 3)} (${fmt(b.raw.medianRatio, 3)}; ${fmt(b.raw.pairMedianRatio, 3)})`, '1', '>= 0.9', met(b.raw.ratio >= 0.9)],
      ['(b) proxy CPU per stream, ms', fmt(b.proxyCpuMsPerStream, 0), '', 'reported', ''],
      [`(b) ${fmt(rows)} rows, neo4j-driver, MB/s`, fmt(b.driver.proxy.mbPerS, 1), fmt(b.driver.direct.mbPerS, 1), '', ''],
      ['(b) neo4j-driver, proxy/direct', fmt(b.driver.ratio, 3), '1', '>= 0.9', met(b.driver.ratio >= 0.9)],
      [`(c) ${fmt(rate)} q/s for ${secs} s, 32 sessions: achieved q/s`, fmt(c.proxy.achievedPerS), fmt(c.direct.achievedPerS), fmt(rate), met(c.proxy.achievedPerS >= rate * 0.99)],
      ['(c) client round trip p50 / p99, ms', ms(c.proxy), ms(c.direct), '', ''],
      ['(c) query.executed counted / queries', `${fmt(c.eventsCounted)} / ${fmt(c.queries)}`, '', 'all', met(c.eventsCounted === c.queries)],
      ['(c) events dropped', fmt(c.dropped), '', '0', met(c.dropped === 0)],
      ['(c) query→emit p50 / p99, ms (baseline: direct round trip)', ms({ p50Ms: c.queryToEmitP50Ms, p99Ms: c.queryToEmitP99Ms }), ms(c.direct), 'p99 < 20', met(c.queryToEmitP99Ms < 20)],
      ['(c)   of which client send → proxy reads the RUN', ms({ p50Ms: c.sendToProxyP50Ms, p99Ms: c.sendToProxyP99Ms }), '', 'reported', ''],
      ['(c)   of which RUN read → last answer read (durationMs: the server)', ms({ p50Ms: c.serverP50Ms, p99Ms: c.serverP99Ms }), '', 'reported', ''],
      ['(c)   of which the buffer\'s hand-off (pushed → emit)', ms({ p50Ms: c.handoffP50Ms, p99Ms: c.handoffP99Ms }, 3), '', 'reported', ''],
      ['(c) proxy CPU per 10,000 queries, ms', fmt(c.proxyCpuMsPer10kQueries, 0), '', 'reported', ''],
      ['(c) event-loop delay p50 / p99 / max, ms: proxy (baseline: the client\'s, direct)', loopStr(c.proxyLoopDelay), loopStr(c.direct.clientLoopDelay), 'reported', ''],
      ['(c) the client\'s event-loop delay through the proxy', loopStr(c.proxy.clientLoopDelay), '', 'reported', ''],
      ...dmn.printable,
    ];
    const took = (performance.now() - startedAt) / 1000;
    printRows(
      `bolt-proxy (issue 9): through the proxy against direct to Neo4j ${db.uri}, in one run; load average ${loadBefore.loadAverage.join(' ')} before, ${loadAfter.loadAverage.join(' ')} after, ${loadBefore.cpus} CPUs, ${fmt(took, 0)} s${quick ? ' (quick)' : ''}`,
      printed,
    );
    const { printable: _, ...daemon } = dmn;
    return { quick, seconds: took, load: { before: loadBefore, after: loadAfter }, roundTrip: a, stream: b, sustained: c, daemon, table: printed };
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
