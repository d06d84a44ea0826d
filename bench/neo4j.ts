/**
 * neo4j-apoc source benchmark (issue 3), against a Neo4j of its own (neo4j/launcher.ts):
 *  (a) write throughput of small transactions (one node each) with no trigger, the strict trigger and
 *      the relaxed trigger, with 1 and 8 concurrent writers (the ratio is the trigger's write-path cost);
 *  (b) commit-to-handler latency p50/p99 at 500 tx/s through the real daemon (in process) and a worker
 *      plugin, for both orderings, with the default pollIntervalMs (100);
 *  (c) drain rate of a backlog of 100,000 changes (10,000 transactions of 10 nodes) through the source;
 * and for issue 12:
 *  (a2) the write path an application feels: writers' tx/s with 1 and 8 writers while the daemon runs and drains
 *      the outbox (strict, relaxed), and with the daemon running without a neo4j-apoc source (only its
 *      heimdall_policy trigger), the writers in a separate process (neo4j-writer.ts `closed`, as an application is),
 *      against a no-trigger baseline measured the same way just before;
 *  (b2) commit-to-handler p50/p99 at 300 and 500 tx/s with the writer in a separate process (neo4j-writer.ts),
 *      the daemon (default poll settings) draining, for both orderings;
 *  (d) idle polling cost: the daemon's queries/s against an empty outbox, CPU of the daemon and of Neo4j.
 * Every write phase of (a) and (a2) first runs its own load until Neo4j's JIT compiler is done with it
 * (jvm-warm-up.ts), and the table says how long that took.
 * (a), (a2) and (b2) also run with capture: listener (relaxed; the kernel transaction listener of Heimdall's Neo4j
 * extension writes the entries instead of the APOC trigger), labelled `listener`.
 *
 *   node dist/bench/neo4j.js            (or `npm run bench -- neo4j`)
 * HEIMDALL_BENCH_QUICK=1: shorter phases. HEIMDALL_BENCH_DEBUG=1: warnings of the daemon and the worst latencies on
 * stderr. HEIMDALL_BENCH_NEO4J_SKIP_WRITES=1: one round of (a) only (development).
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { join, resolve } from 'node:path';
import neo4j, { type Driver } from 'neo4j-driver';
import { pino } from 'pino';
import { parseConfig } from '../config/loader.js';
import { startDaemon } from '../daemon/daemon.js';
import { Database } from '../daemon/db/database.js';
import { Neo4jApocSource, OutboxStore, type Ordering } from '../daemon/sources/neo4j-apoc/index.js';
import { startNeo4j } from '../neo4j/launcher.js';
import { closedLoopTxPerS } from './neo4j-closed-loop.js';
import { warmUntilCompiled, type WarmUp } from './jvm-warm-up.js';
import { procCpuS } from './proc-cpu.js';
import { fmt, percentile, printTable, sleep } from './stats.js';

const ROOT = resolve(fileURLToPath(new URL('../../', import.meta.url)));
const quick = process.env.HEIMDALL_BENCH_QUICK === '1';
const silent = pino({ level: process.env.HEIMDALL_BENCH_DEBUG ? 'warn' : 'silent' });
const now = (): number => performance.timeOrigin + performance.now();

/** No capture, the APOC trigger in either ordering, or (listener) the relaxed listener of Heimdall's Neo4j extension. */
type Mode = 'off' | Ordering | 'listener';

/** The listener-capture store beside each trigger store (set by runNeo4jBench). */
const listenerStores = new WeakMap<OutboxStore, OutboxStore>();

async function setMode(driver: Driver, outbox: OutboxStore, mode: Mode): Promise<void> {
  await outbox.uninstall({ purge: true }); // the trigger and the listener
  const store = mode === 'listener' ? listenerStores.get(outbox)! : outbox;
  if (mode !== 'off') {
    const r = await store.install({ ordering: mode === 'listener' ? 'relaxed' : mode });
    if (!r.loaded) throw new Error(`The ${mode} outbox capture did not load.`);
  }
  await driver.executeQuery('MATCH (n) DETACH DELETE n', {}, { database: 'neo4j', transactionConfig: { metadata: await store.internalMetadata() } });
}

/** (a) Closed loop: `writers` sessions each commit one-node transactions back to back for `seconds`. */
function writeThroughput(driver: Driver, writers: number, seconds: number): Promise<number> {
  return closedLoopTxPerS(driver, writers, seconds, quick ? 300 : 1000);
}

/** (b) Open loop at `rate` tx/s for `seconds` through an in-process daemon with a worker plugin. */
async function latencyAtRate(uri: string, driver: Driver, outbox: OutboxStore, ordering: Ordering, rate: number, seconds: number): Promise<Record<string, number>> {
  await setMode(driver, outbox, ordering);
  const yaml = [
    'server:',
    '  port: 0',
    'log:',
    '  level: error',
    'database:',
    `  uri: ${JSON.stringify(uri)}`,
    '  user: neo4j',
    "  password: ''",
    'sources:',
    '  - type: neo4j-apoc',
    `    ordering: ${ordering}`,
    'plugins:',
    `  - path: ${JSON.stringify(join(ROOT, 'test/fixtures/plugins/neo4j-latency.mjs'))}`,
    '',
  ].join('\n');
  const d = await startDaemon({ config: parseConfig(yaml, { file: join(ROOT, 'bench-neo4j.yaml'), env: {} }), logger: silent.child({ component: 'bench-daemon' }), listen: false });
  try {
    const sessions = Array.from({ length: 32 }, () => driver.session({ database: 'neo4j' }));
    const free = [...sessions];
    /** Open loop at `rate` for `secs`; returns the commit-acknowledgement time of each transaction by its i. */
    const openLoop = async (secs: number, first: number): Promise<{ acked: Map<number, number>; skipped: number; elapsed: number }> => {
      const acked = new Map<number, number>();
      let sent = 0;
      let skipped = 0;
      const pending = new Set<Promise<void>>();
      const t0 = performance.now();
      while (performance.now() - t0 < secs * 1000) {
        const due = Math.floor(((performance.now() - t0) / 1000) * rate);
        for (; sent < due; sent++) {
          const s = free.pop();
          if (!s) {
            skipped++; // 32 transactions already in flight: the database is behind the rate
            continue;
          }
          const i = first + sent;
          const p = s
            .executeWrite((tx) => tx.run('CREATE (:Lat {i: $i})', { i }))
            .then(() => void acked.set(i, now()))
            .finally(() => {
              free.push(s);
              pending.delete(p);
            });
          pending.add(p);
        }
        await sleep(1);
      }
      await Promise.all(pending);
      return { acked, skipped, elapsed: (performance.now() - t0) / 1000 };
    };
    // Warm-up at the same rate through the same sessions (connections open, statements planned, JIT warm),
    // then drop what the plugin saw so far.
    await openLoop(2, -1_000_000);
    await sleep(500);
    await d.api.invokeAction('heimdall.neo4j-latency.take', {}, { kind: 'operator' });
    const { acked, skipped, elapsed } = await openLoop(seconds, 0);
    const seen: Array<[number, number]> = [];
    const deadline = Date.now() + 30_000;
    while (seen.length < acked.size && Date.now() < deadline) {
      await sleep(100);
      const r = await d.api.invokeAction('heimdall.neo4j-latency.take', {}, { kind: 'operator' });
      seen.push(...(r.data!['seen'] as Array<[number, number]>));
    }
    await Promise.all(sessions.map((s) => s.close()));
    return latencyResult(`(b) ${ordering}@${rate}`, seen, acked, rate, elapsed, skipped);
  } finally {
    await d.stop();
  }
}

/**
 * A daemon with a database, the latency plugin and, unless `ordering` is null, a neo4j-apoc source ('listener': relaxed,
 * capture: listener, and with the jar on the server the commit guard runs in the extension too, so no APOC trigger at all;
 * 'listener-apocguard': the same with remediation.guardEngine: apoc, the APOC heimdall_policy trigger as before).
 */
async function benchDaemon(uri: string, ordering: Ordering | 'listener' | 'listener-apocguard' | 'default' | null) {
  const yaml = [
    'server:',
    '  port: 0',
    'log:',
    '  level: error',
    'database:',
    `  uri: ${JSON.stringify(uri)}`,
    '  user: neo4j',
    "  password: ''",
    'sources:',
    ...(ordering ? ['  - type: neo4j-apoc', ...(ordering === 'default' ? [] : ordering.startsWith('listener') ? ['    capture: listener'] : [`    ordering: ${ordering}`, '    capture: trigger'])] : ['  - type: http']),
    ...(ordering === 'listener-apocguard' ? ['remediation:', '  guardEngine: apoc'] : []),
    'plugins:',
    `  - path: ${JSON.stringify(join(ROOT, 'test/fixtures/plugins/neo4j-latency.mjs'))}`,
    '',
  ].join('\n');
  return startDaemon({ config: parseConfig(yaml, { file: join(ROOT, 'bench-neo4j.yaml'), env: {} }), logger: silent.child({ component: 'bench-daemon' }), listen: false });
}

/**
 * Commit ack → handler latencies of an open-loop phase: `seen` and `acked` are [i, epoch ms] pairs, event i was due
 * at i / rate s. With HEIMDALL_BENCH_DEBUG it prints the 40 worst with their send times, to find what sets the tail.
 */
function latencyResult(label: string, seen: ReadonlyArray<[number, number]>, acked: ReadonlyMap<number, number>, rate: number, elapsed: number, skipped: number): Record<string, number> {
  const pairs = seen.filter(([i]) => acked.has(i)).map(([i, at]) => [i / rate, at - acked.get(i)!] as const); // [sent at s, latency]
  const lat = pairs.map(([, l]) => l).sort((a, b) => a - b);
  if (process.env.HEIMDALL_BENCH_DEBUG) {
    const worst = [...pairs].sort((a, b) => b[1] - a[1]).slice(0, 40).sort((a, b) => a[0] - b[0]).map(([t, l]) => `${t.toFixed(2)}s:${l.toFixed(0)}ms`);
    console.error(`${label} worst (send time:latency): ${worst.join(' ')}`);
  }
  return { targetRate: rate, achievedRate: acked.size / elapsed, committed: acked.size, delivered: lat.length, skipped, p50Ms: percentile(lat, 50), p99Ms: percentile(lat, 99), maxMs: lat[lat.length - 1] ?? NaN };
}

/** Closed-loop tx/s of `writers` sessions in a separate process (neo4j-writer.ts `closed`). */
async function writerProcess(uri: string, writers: number, seconds: number): Promise<number> {
  const child = spawn(process.execPath, [join(ROOT, 'dist/bench/neo4j-writer.js'), uri, 'closed', String(writers), String(seconds)], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (b: Buffer) => (out += b.toString()));
  const code = await new Promise<number | null>((r) => child.on('exit', r));
  if (code !== 0) throw new Error(`The bench writer exited with code ${code}; its output: ${out}`);
  return (JSON.parse(out.trim().split('\n').pop()!) as { txPerS: number }).txPerS;
}

/** (a2) Writers' tx/s with 1 and 8 writers while a daemon runs (and drains the outbox when `ordering` is set). */
async function writesUnderDaemon(uri: string, driver: Driver, outbox: OutboxStore, ordering: Ordering | 'listener' | 'listener-apocguard' | null, seconds: number, neoPid: number): Promise<Record<string, number>> {
  // The baseline right before, with no trigger at all (an earlier daemon left its heimdall_policy trigger), so
  // that the ratio compares two neighbouring measurements on a machine whose load changes.
  await setMode(driver, outbox, 'off');
  await driver.executeQuery('CALL apoc.trigger.drop($db, $name)', { db: 'neo4j', name: 'heimdall_policy' }, { database: 'system' });
  await sleep(500);
  // The writers are an application: their own process (neo4j-writer.ts), not this one's event loop, which the daemon uses.
  // Each side first runs its own load until Neo4j's JIT is done with it (jvm-warm-up.ts): the daemon's side runs
  // code (the trigger, the outbox queries) that the baseline's does not.
  const warmOff = await warmUntilCompiled(neoPid, () => writerProcess(uri, 8, 3), { maxS: quick ? 30 : 60 });
  const off1 = await writerProcess(uri, 1, seconds);
  const off8 = await writerProcess(uri, 8, seconds);
  const d = await benchDaemon(uri, ordering);
  try {
    const warm = await warmUntilCompiled(neoPid, () => writerProcess(uri, 8, 3), { maxS: quick ? 30 : 60 });
    const w1 = await writerProcess(uri, 1, seconds);
    const w8 = await writerProcess(uri, 8, seconds);
    return { off1, off8, w1, w8, x1: off1 / w1, x8: off8 / w8, warmUpOffS: warmOff.seconds, warmUpS: warm.seconds, warmUpCompilerPct: warm.compilerPct };
  } finally {
    await d.stop();
  }
}

/** (b2) Open loop at `rate` tx/s from a separate process (neo4j-writer.ts) while the daemon drains; commit ack → handler. */
async function latencySeparateClient(uri: string, driver: Driver, outbox: OutboxStore, ordering: Ordering | 'listener', rate: number, seconds: number): Promise<Record<string, number>> {
  await setMode(driver, outbox, ordering);
  const d = await benchDaemon(uri, ordering);
  try {
    const child = spawn(process.execPath, [join(ROOT, 'dist/bench/neo4j-writer.js'), uri, String(rate), String(seconds)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    const seen: Array<[number, number]> = [];
    const take = async () => {
      const r = await d.api.invokeAction('heimdall.neo4j-latency.take', {}, { kind: 'operator' });
      for (const p of r.data!['seen'] as Array<[number, number]>) if (p[0] >= 0) seen.push(p);
    };
    const exited = new Promise<void>((r) => child.on('exit', () => r()));
    let running = true;
    void exited.then(() => (running = false));
    while (running) {
      await sleep(200);
      await take();
    }
    const { acked: ackedList, skipped, elapsed } = JSON.parse(out.trim().split('\n').pop()!) as { acked: Array<[number, number]>; skipped: number; elapsed: number };
    const acked = new Map(ackedList);
    const deadline = Date.now() + 30_000;
    while (seen.length < acked.size && Date.now() < deadline) {
      await sleep(100);
      await take();
    }
    return latencyResult(`(b2) ${ordering}@${rate}`, seen, acked, rate, elapsed, skipped);
  } finally {
    await d.stop();
  }
}

/** (d) The default daemon against an empty outbox for `seconds`: its queries/s, its CPU and Neo4j's. */
async function idleCost(uri: string, driver: Driver, outbox: OutboxStore, neoPid: number, seconds: number): Promise<Record<string, number>> {
  await setMode(driver, outbox, 'off');
  const d = await benchDaemon(uri, 'default');
  try {
    await sleep(3000); // installed, first reads done, backed off
    const db = d.internals.db!;
    let queries = 0;
    const run = db.run.bind(db);
    db.run = ((...a: Parameters<typeof run>) => {
      queries++;
      return run(...a);
    }) as typeof db.run;
    const c0 = process.cpuUsage();
    const n0 = procCpuS(neoPid);
    const t0 = performance.now();
    await sleep(seconds * 1000);
    const s = (performance.now() - t0) / 1000;
    const c = process.cpuUsage(c0);
    const n = procCpuS(neoPid) - n0;
    db.run = run;
    return { seconds: s, queriesPerS: queries / s, daemonCpuPct: ((c.user + c.system) / 1e6 / s) * 100, neo4jCpuPct: (n / s) * 100 };
  } finally {
    await d.stop();
  }
}

/** (c) Writes `txs` transactions of `perTx` nodes with the trigger on and no reader, then drains them through the source. */
async function drain(uri: string, driver: Driver, outbox: OutboxStore, ordering: Ordering, txs: number, perTx: number): Promise<Record<string, number>> {
  await setMode(driver, outbox, ordering);
  let next = 0;
  const w0 = performance.now();
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      const s = driver.session({ database: 'neo4j' });
      try {
        while (next < txs) {
          const t = next++;
          await s.executeWrite((tx) => tx.run("UNWIND range(1, $n) AS j CREATE (:Drain {t: $t, j: j, name: 'x'})", { t, n: neo4j.int(perTx) }));
        }
      } finally {
        await s.close();
      }
    }),
  );
  const writeS = (performance.now() - w0) / 1000;
  const db = new Database({ uri, user: 'neo4j', password: '', database: 'neo4j', queryTimeoutMs: 60_000, connectTimeoutMs: 5000 }, silent);
  await db.start();
  const expected = txs * (perTx + 1);
  let events = 0;
  const src = new Neo4jApocSource({ db, config: { type: 'neo4j-apoc', pollIntervalMs: 100, batchSize: 1000, backlogWarning: 1_000_000, ordering, capture: 'trigger', install: true, checkIntervalMs: 5000, reinstall: true }, emit: (e) => void (events += e.length), logger: silent });
  const t0 = performance.now();
  await src.start();
  while (events < expected) await sleep(5);
  const emitS = (performance.now() - t0) / 1000;
  while ((await driver.executeQuery('MATCH (o:HeimdallOutbox) RETURN count(o) AS n')).records[0]!.get('n').toNumber() > 0) await sleep(5);
  const drainS = (performance.now() - t0) / 1000;
  await src.stop();
  await db.close();
  return { changes: txs * perTx, transactions: txs, events: expected, backlogWriteS: writeS, emitS, drainS, eventsPerS: expected / drainS, changesPerS: (txs * perTx) / drainS };
}

export async function runNeo4jBench(): Promise<Record<string, unknown>> {
  const started = performance.now();
  // Neo4j's pause monitor reports JVM stop-the-world pauses; they are counted per phase to explain latency tails.
  const pauses: Array<{ at: number; ms: number }> = [];
  // A fixed heap, as Neo4j advises for servers: with the launcher's default (64m, growing) the serial collector's
  // full collections as the heap grows stopped Neo4j for ~100 ms each, inside the measured phases.
  const neo = await startNeo4j({
    maxHeap: '1g',
    initialHeap: '1g',
    onOutput: (line) => {
      const m = /stop-the-world pause: \{pauseTime=(\d+)/.exec(line);
      if (m) pauses.push({ at: performance.now(), ms: Number(m[1]) });
    },
  });
  const pausesSince = (t: number): number[] => pauses.filter((p) => p.at >= t).map((p) => p.ms);
  const driver = neo4j.driver(neo.uri, neo4j.auth.basic('neo4j', ''));
  const outboxDb = new Database({ uri: neo.uri, user: 'neo4j', password: '', database: 'neo4j', queryTimeoutMs: 60_000, connectTimeoutMs: 5000 }, silent);
  const outbox = new OutboxStore(outboxDb, { database: 'neo4j' });
  listenerStores.set(outbox, new OutboxStore(outboxDb, { database: 'neo4j', capture: 'listener' }));
  try {
    await outboxDb.connect();
    const secs = quick ? 1.5 : 3;
    const skipWrites = process.env.HEIMDALL_BENCH_NEO4J_SKIP_WRITES === '1'; // development: latency and drain only
    // A fresh JVM is slow for its first minute (JIT, jvm-warm-up.ts): each mode's load runs until the compiler is
    // done with it, then every mode is measured twice, interleaved, and the better run of each is kept (the disk's
    // fsync latency is noisy).
    const warmUps: Record<string, WarmUp> = {};
    for (const mode of ['off', 'strict', 'relaxed', 'listener'] as const) {
      await setMode(driver, outbox, mode);
      warmUps[mode] = await warmUntilCompiled(neo.pid, () => writeThroughput(driver, 8, 3), { maxS: quick ? 30 : 90 });
    }
    const writes: Record<string, Record<string, number>> = {};
    for (let round = 0; round < (skipWrites ? 1 : 2); round++) {
      for (const mode of ['off', 'strict', 'relaxed', 'listener'] as const) {
        await setMode(driver, outbox, mode);
        const w1 = await writeThroughput(driver, 1, secs);
        const w8 = await writeThroughput(driver, 8, secs);
        writes[mode] = { w1: Math.max(w1, writes[mode]?.['w1'] ?? 0), w8: Math.max(w8, writes[mode]?.['w8'] ?? 0) };
      }
    }
    const latency: Record<string, Record<string, number>> = {};
    for (const ordering of ['strict', 'relaxed'] as const) {
      const t = performance.now();
      latency[ordering] = await latencyAtRate(neo.uri, driver, outbox, ordering, 500, quick ? 4 : 8);
      const ps = pausesSince(t);
      latency[ordering]!['neo4jPauses'] = ps.length;
      latency[ordering]!['neo4jLongestPauseMs'] = ps.length ? Math.max(...ps) : 0;
    }
    const underDaemon: Record<string, Record<string, number>> = {};
    for (const o of ['policy', 'strict', 'relaxed', 'listener', 'listener-apocguard'] as const) underDaemon[o] = await writesUnderDaemon(neo.uri, driver, outbox, o === 'policy' ? null : o, secs, neo.pid);
    const separate: Record<string, Record<string, number>> = {};
    for (const ordering of ['strict', 'relaxed', 'listener'] as const) {
      for (const rate of [300, 500]) separate[`${ordering}@${rate}`] = await latencySeparateClient(neo.uri, driver, outbox, ordering, rate, quick ? 4 : 8);
    }
    const idle = await idleCost(neo.uri, driver, outbox, neo.pid, quick ? 5 : 10);
    const drained = await drain(neo.uri, driver, outbox, 'strict', quick ? 2000 : 10_000, 10);
    await setMode(driver, outbox, 'off');
    const ratio = (m: 'strict' | 'relaxed' | 'listener', w: 'w1' | 'w8') => writes['off']![w]! / writes[m]![w]!;
    const results = {
      neo4j: '5.26.19 embedded (neo4j/), 1 GB heap, page cache 64 MB, data on local disk',
      warmUps,
      writes: { ...writes, slowdown: { strictW1: ratio('strict', 'w1'), strictW8: ratio('strict', 'w8'), relaxedW1: ratio('relaxed', 'w1'), relaxedW8: ratio('relaxed', 'w8'), listenerW1: ratio('listener', 'w1'), listenerW8: ratio('listener', 'w8') } },
      latency,
      writesUnderDaemon: underDaemon,
      latencySeparateClient: separate,
      idle,
      drain: drained,
      seconds: (performance.now() - started) / 1000,
    };
    const L = (o: string) => latency[o]!;
    printTable('neo4j-apoc source (issue 3): small write transactions, commit-to-handler latency, drain', [
      ['(a) warm-up: s of 8 writers until Neo4j\'s JIT compiler used < 10% of a core, off / strict / relaxed / listener', (['off', 'strict', 'relaxed', 'listener'] as const).map((m) => `${fmt(warmUps[m]!.seconds, 0)}${warmUps[m]!.settled ? '' : ' (not settled)'}`).join(' / ')],
      ['(a) tx/s, no trigger, 1 writer / 8 writers', `${fmt(writes['off']!['w1']!)} / ${fmt(writes['off']!['w8']!)}`],
      ['(a) tx/s, strict trigger, 1 / 8 writers', `${fmt(writes['strict']!['w1']!)} / ${fmt(writes['strict']!['w8']!)}`],
      ['(a) tx/s, relaxed trigger, 1 / 8 writers', `${fmt(writes['relaxed']!['w1']!)} / ${fmt(writes['relaxed']!['w8']!)}`],
      ['(a) slowdown strict, 1 / 8 writers (x)', `${fmt(ratio('strict', 'w1'), 2)} / ${fmt(ratio('strict', 'w8'), 2)}`, '< 2x'],
      ['(a) slowdown relaxed, 1 / 8 writers (x)', `${fmt(ratio('relaxed', 'w1'), 2)} / ${fmt(ratio('relaxed', 'w8'), 2)}`, '< 2x'],
      ['(a) tx/s, relaxed listener (capture: listener), 1 / 8 writers', `${fmt(writes['listener']!['w1']!)} / ${fmt(writes['listener']!['w8']!)}`],
      ['(a) slowdown relaxed listener, 1 / 8 writers (x)', `${fmt(ratio('listener', 'w1'), 2)} / ${fmt(ratio('listener', 'w8'), 2)}`, '< 1.3x'],
      ...(['strict', 'relaxed'] as const).flatMap((o): Array<[string, string, string?]> => [
        [`(b) ${o}: achieved tx/s at 500 target (skipped)`, `${fmt(L(o)['achievedRate']!)} (${fmt(L(o)['skipped']!)})`],
        [`(b) ${o}: commit→handler p50 / p99 / max, ms`, `${fmt(L(o)['p50Ms']!, 1)} / ${fmt(L(o)['p99Ms']!, 1)} / ${fmt(L(o)['maxMs']!, 1)}`, 'p99 < 250'],
        [`(b) ${o}: delivered / committed`, `${fmt(L(o)['delivered']!)} / ${fmt(L(o)['committed']!)}`],
        [`(b) ${o}: Neo4j JVM pauses during the phase (longest, ms)`, `${fmt(L(o)['neo4jPauses']!)} (${fmt(L(o)['neo4jLongestPauseMs']!)})`],
      ]),
      ...(['policy', 'strict', 'relaxed', 'listener', 'listener-apocguard'] as const).map((o): [string, string, string?] => [
        `(a2) ${{ policy: 'daemon, no outbox (commit guard only)', listener: 'daemon draining, relaxed, capture: listener (no APOC trigger)', 'listener-apocguard': 'same, remediation.guardEngine: apoc (APOC heimdall_policy)' }[o as string] ?? `daemon draining, ${o}`}: tx/s 1 / 8 writers vs no trigger (x)`,
        `${fmt(underDaemon[o]!['w1']!)} / ${fmt(underDaemon[o]!['w8']!)} vs ${fmt(underDaemon[o]!['off1']!)} / ${fmt(underDaemon[o]!['off8']!)} just before (${fmt(underDaemon[o]!['x1']!, 2)}x / ${fmt(underDaemon[o]!['x8']!, 2)}x; warm-up ${fmt(underDaemon[o]!['warmUpOffS']!, 0)} / ${fmt(underDaemon[o]!['warmUpS']!, 0)} s)`,
        { policy: '', strict: '(opt-in exact order)', relaxed: '< 1.3x (the default without the extension)', listener: '< 1.3x (the default: capture auto)', 'listener-apocguard': '' }[o],
      ]),
      ...Object.entries(separate).map(([k, v]): [string, string, string?] => [
        `(b2) ${k} separate client: achieved tx/s, p50 / p99 / max ms (delivered/committed)`,
        `${fmt(v['achievedRate']!)}, ${fmt(v['p50Ms']!, 1)} / ${fmt(v['p99Ms']!, 1)} / ${fmt(v['maxMs']!, 1)} (${fmt(v['delivered']!)}/${fmt(v['committed']!)})`,
        'p99 < 30',
      ]),
      ['(d) idle: daemon queries/s, daemon CPU %, Neo4j CPU %', `${fmt(idle['queriesPerS']!, 1)}, ${fmt(idle['daemonCpuPct']!, 1)}, ${fmt(idle['neo4jCpuPct']!, 1)}`],
      [`(c) backlog: ${fmt(drained['changes']!)} changes in ${fmt(drained['transactions']!)} tx, written in s`, fmt(drained['backlogWriteS']!, 1)],
      ['(c) drain, events/s (incl. transaction.commit)', fmt(drained['eventsPerS']!), '>= 20,000'],
      ['(c) drain, changes/s', fmt(drained['changesPerS']!)],
      ['(c) drain time (emit done / outbox empty), s', `${fmt(drained['emitS']!, 2)} / ${fmt(drained['drainS']!, 2)}`],
      ['total bench time, s', fmt(results.seconds, 0)],
    ]);
    return results;
  } finally {
    await outboxDb.close();
    await driver.close();
    await neo.stop();
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const r = await runNeo4jBench();
  console.log(JSON.stringify(r, null, 2));
  process.exit(0);
}
