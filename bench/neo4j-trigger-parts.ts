/**
 * Which part of the outbox trigger the writers pay for (issue 12, item 2): closed-loop tx/s of
 * one-node transactions with 1 and 8 writers (neo4j-closed-loop.ts) under trigger variants that
 * add one part at a time, on a Neo4j of its own, rounds interleaved and the better of each kept:
 *   off       no trigger
 *   noop      a `before` trigger that does nothing (APOC's own cost: it builds the transaction data for every trigger)
 *   node      a trigger that creates one small node under a range index on a clock seq (the outbox entry's write)
 *   compute   the relaxed outbox statement up to its JSON, returning it instead of creating the entry
 *   relaxed   the relaxed outbox trigger as installed
 *   strict    the strict outbox trigger as installed
 *   listener  no trigger: the relaxed entry written by a kernel transaction listener in Java (neo4j/src/main/java/heimdall/capture)
 *   relaxed-drain, listener-drain   the same with a reader beside the writers that reads the entries in seq order and
 *             deletes them as the daemon does (read at once while entries come back, 5 ms apart otherwise; one delete
 *             commit per read), without any delivery: what draining costs the writers on the database's side
 *
 * The disk's fsync latency drifts by several times within minutes here, so every round's slowdown is
 * also given against the off run of the same round. Not part of a plain `npm run bench` (about 5 min):
 *
 *   npm run bench -- trigger-parts      (or node dist/bench/neo4j-trigger-parts.js [seconds per phase, 3] [rounds, 4])
 */
import { fileURLToPath } from 'node:url';
import neo4j, { type Driver } from 'neo4j-driver';
import { startNeo4j } from '../neo4j/launcher.js';
import { triggerStatement } from '../daemon/sources/neo4j-apoc/outbox-trigger.js';
import { closedLoopTxPerS } from './neo4j-closed-loop.js';
import { printTable, sleep } from './stats.js';

const VARIANTS = ['off', 'noop', 'node', 'compute', 'relaxed', 'strict', 'listener', 'relaxed-drain', 'listener-drain'] as const;
type Variant = (typeof VARIANTS)[number];

const NAME = 'heimdall_bench_part';
/** The internal key of the variants (the writers send no metadata, so they are captured; the cleanup and the drain send it). */
const INTERNAL = 'heimdall-bench-internal-key';
const internal = { metadata: { heimdallKey: INTERNAL } };

/**
 * The daemon's reads and deletes without its delivery: entries in seq order, up to 500 a read, deleted in one commit
 * (with the internal key, which the trigger and the listener let through), again at once while a read was full, else 5 ms on.
 */
function drain(driver: Driver): () => Promise<number> {
  let stop = false;
  let drained = 0;
  const loop = (async () => {
    while (!stop) {
      const r = await driver.executeQuery(
        'MATCH (o:HeimdallOutbox) WHERE o.seq IS NOT NULL WITH o ORDER BY o.seq LIMIT 500 RETURN collect(elementId(o)) AS ids, sum(size(o.changes)) AS bytes',
        {}, { database: 'neo4j', routing: 'READ' },
      );
      const ids = r.records[0]!.get('ids') as string[];
      if (ids.length > 0) {
        await driver.executeQuery('UNWIND $ids AS id MATCH (o:HeimdallOutbox) WHERE elementId(o) = id DETACH DELETE o', { ids }, { database: 'neo4j', transactionConfig: internal });
        drained += ids.length;
      }
      if (ids.length < 500) await sleep(5);
    }
  })();
  return async () => {
    stop = true;
    await loop;
    return drained;
  };
}

function statementOf(v: Variant): { statement: string; params: Record<string, unknown> } | undefined {
  switch (v) {
    case 'off':
    case 'listener':
    case 'listener-drain':
      return undefined;
    case 'noop':
      return { statement: 'RETURN 1', params: {} };
    case 'node':
      return { statement: "WITH datetime.realtime() AS now CREATE (:BenchEntry {seq: now.epochMillis * 1000000 + now.nanosecond % 1000000, committedAt: timestamp(), changes: '{}', bytes: 2})", params: {} };
    case 'compute': {
      const full = triggerStatement('relaxed');
      const cut = full.indexOf('WITH apoc.convert.toJson(md) AS md');
      return { statement: `${full.slice(0, cut)}RETURN size(apoc.convert.toJson(ch)) + size(apoc.convert.toJson(md)) AS bytes`, params: { key: INTERNAL } };
    }
    case 'relaxed':
    case 'strict':
      return { statement: triggerStatement(v), params: { key: INTERNAL } };
    case 'relaxed-drain':
      return { statement: triggerStatement('relaxed'), params: { key: INTERNAL } };
  }
}

async function loadedStatements(driver: Driver): Promise<string[]> {
  const r = await driver.executeQuery('CALL apoc.trigger.list() YIELD query, installed RETURN query', {}, { database: 'neo4j' });
  return r.records.map((x) => x.get('query') as string);
}

async function waitLoaded(driver: Driver, want: string[], what: string): Promise<void> {
  const end = Date.now() + 30_000;
  for (;;) {
    const got = await loadedStatements(driver);
    if (got.length === want.length && got.every((q, i) => q === want[i])) return;
    if (Date.now() > end) throw new Error(`The ${what} trigger variant did not load in 30 s (loaded: ${got.length}).`);
    await sleep(100);
  }
}

/** Drops every trigger, empties the database (no trigger sees it), then installs `v` and waits for it to load. */
async function use(driver: Driver, v: Variant): Promise<void> {
  await driver.executeQuery('CALL apoc.trigger.dropAll($db)', { db: 'neo4j' }, { database: 'system' });
  await driver.executeQuery('CALL heimdall.capture.uninstall()', {}, { database: 'neo4j' });
  await waitLoaded(driver, [], 'off');
  for (;;) {
    const r = await driver.executeQuery('MATCH (n) WITH n LIMIT 10000 DETACH DELETE n RETURN count(*) AS n', {}, { database: 'neo4j', transactionConfig: internal });
    if (Number(r.records[0]!.get('n')) === 0) break;
  }
  if (v === 'listener' || v === 'listener-drain') {
    await driver.executeQuery("CALL heimdall.capture.install('relaxed', $key)", { key: INTERNAL }, { database: 'neo4j' });
    await driver.executeQuery("CREATE (:HeimdallOutboxSeq {name: 'outbox', epoch: 1})", {}, { database: 'neo4j', transactionConfig: internal });
    return;
  }
  const s = statementOf(v);
  if (!s) return;
  await driver.executeQuery("CALL apoc.trigger.install($db, $name, $statement, {phase: 'before'}, {params: $params})", { db: 'neo4j', name: NAME, ...s }, { database: 'system' });
  await waitLoaded(driver, [s.statement], v);
}

export async function runTriggerPartsBench(seconds = 3, rounds = 4): Promise<Record<string, unknown>> {
  const neo = await startNeo4j({ maxHeap: '1g', initialHeap: '1g' });
  const driver = neo4j.driver(neo.uri, neo4j.auth.basic('neo4j', ''));
  try {
    await driver.executeQuery('CREATE RANGE INDEX bench_entry_seq IF NOT EXISTS FOR (e:BenchEntry) ON (e.seq)', {}, { database: 'neo4j' });
    await driver.executeQuery('CREATE RANGE INDEX heimdall_outbox_seq IF NOT EXISTS FOR (o:HeimdallOutbox) ON (o.seq)', {}, { database: 'neo4j' });
    await driver.executeQuery('CREATE CONSTRAINT heimdall_outbox_counter IF NOT EXISTS FOR (c:HeimdallOutboxSeq) REQUIRE c.name IS UNIQUE', {}, { database: 'neo4j' });
    for (const v of VARIANTS) {
      await use(driver, v);
      await closedLoopTxPerS(driver, 8, 3, 300); // warm the JIT for each statement (and the disk: the first seconds are slow)
    }
    const best: Record<string, { w1: number[]; w8: number[] }> = {};
    for (let r = 0; r < rounds; r++) {
      for (const v of VARIANTS) {
        await use(driver, v);
        const stopDrain = v.endsWith('-drain') ? drain(driver) : undefined;
        const w1 = await closedLoopTxPerS(driver, 1, seconds, 500);
        const w8 = await closedLoopTxPerS(driver, 8, seconds, 500);
        await stopDrain?.();
        (best[v] ??= { w1: [], w8: [] }).w1.push(w1);
        best[v]!.w8.push(w8);
      }
    }
    const off = { w1: Math.max(...best['off']!.w1), w8: Math.max(...best['off']!.w8) };
    const rows: Array<[string, string, string?, string?]> = [];
    const results: Record<string, unknown> = {};
    for (const v of VARIANTS) {
      const w1 = Math.max(...best[v]!.w1);
      const w8 = Math.max(...best[v]!.w8);
      // each round against the off run of the same round: the disk's speed drifts between rounds
      const perRound = (w: 'w1' | 'w8') => best[v]![w].map((x, r) => best['off']![w][r]! / x).sort((a, b) => a - b);
      results[v] = { w1, w8, slowdownW1: off.w1 / w1, slowdownW8: off.w8 / w8, runsW1: best[v]!.w1, runsW8: best[v]!.w8, roundSlowdownsW1: perRound('w1'), roundSlowdownsW8: perRound('w8') };
      const spread = (xs: number[]) => `${xs[0]!.toFixed(2)}–${xs[xs.length - 1]!.toFixed(2)}x`;
      rows.push([`${v}, 1 writer`, `${w1.toFixed(0)} tx/s`, `${(off.w1 / w1).toFixed(2)}x`, `per round ${spread(perRound('w1'))}`]);
      rows.push([`${v}, 8 writers`, `${w8.toFixed(0)} tx/s`, `${(off.w8 / w8).toFixed(2)}x`, `per round ${spread(perRound('w8'))}`]);
    }
    printTable('Outbox trigger parts: closed-loop one-node transactions (better of the rounds and its slowdown against off; the spread of the slowdown against the same round\'s off run)', rows);
    return results;
  } finally {
    await driver.executeQuery('CALL apoc.trigger.dropAll($db)', { db: 'neo4j' }, { database: 'system' }).catch(() => undefined);
    await driver.close();
    await neo.stop();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const r = await runTriggerPartsBench(Number(process.argv[2] ?? 3), Number(process.argv[3] ?? 4));
  process.stdout.write(JSON.stringify(r) + '\n');
}
