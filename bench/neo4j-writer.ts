/**
 * The separate client of the commit-to-handler benchmark (bench/neo4j.ts): its own process, so the
 * daemon and the writer do not share an event loop. Open loop at `rate` single-node transactions/s
 * (`CREATE (:Lat {i})`) through up to 32 sessions for `seconds`, after a 2 s warm-up at the same rate
 * (negative i). Prints one JSON line: {acked: [[i, epoch ms of the commit acknowledgement]], skipped, elapsed}.
 * With `closed <writers>` instead of a rate: a closed loop of that many sessions, each committing one
 * `CREATE (:Bench)` after the other (the write path an application feels, bench (a2)), after a 1 s warm-up;
 * prints {txPerS}.
 *
 *   node dist/bench/neo4j-writer.js <bolt uri> <rate> <seconds>
 *   node dist/bench/neo4j-writer.js <bolt uri> closed <writers> <seconds>
 */
import neo4j from 'neo4j-driver';
import { closedLoopTxPerS } from './neo4j-closed-loop.js';

const [uri, rateArg, secsArg, closedSecsArg] = process.argv.slice(2);
const rate = Number(rateArg);
const seconds = Number(secsArg);
const now = (): number => performance.timeOrigin + performance.now();
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const driver = neo4j.driver(uri!, neo4j.auth.basic('neo4j', ''));
const sessions = Array.from({ length: 32 }, () => driver.session({ database: 'neo4j' }));
const free = [...sessions];

async function openLoop(secs: number, first: number): Promise<{ acked: Array<[number, number]>; skipped: number; elapsed: number }> {
  const acked: Array<[number, number]> = [];
  let sent = 0;
  let skipped = 0;
  const pending = new Set<Promise<void>>();
  const t0 = performance.now();
  while (performance.now() - t0 < secs * 1000) {
    const due = Math.floor(((performance.now() - t0) / 1000) * rate);
    for (; sent < due; sent++) {
      const s = free.pop();
      if (!s) {
        skipped++; // 32 transactions in flight: the database is behind the rate
        continue;
      }
      const i = first + sent;
      const p = s
        .executeWrite((tx) => tx.run('CREATE (:Lat {i: $i})', { i }))
        .then(() => void acked.push([i, now()]))
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
}


if (rateArg === 'closed') {
  const r = { txPerS: await closedLoopTxPerS(driver, Number(secsArg), Number(closedSecsArg), 1000) };
  await Promise.all(sessions.map((s) => s.close()));
  await driver.close();
  process.stdout.write(JSON.stringify(r) + '\n');
} else {
  // Warm-up at the same rate (negative i, which the plugin ignores), then the measured phase straight after: a gap
  // between them would let the daemon's idle backoff reach pollIntervalMs, and the first measured commits would
  // measure how an idle source wakes (up to pollIntervalMs, see daemon/sources/README.md) instead of a steady rate.
  await openLoop(2, -1_000_000);
  const r = await openLoop(seconds, 0);
  await Promise.all(sessions.map((s) => s.close()));
  await driver.close();
  process.stdout.write(JSON.stringify(r) + '\n');
}
