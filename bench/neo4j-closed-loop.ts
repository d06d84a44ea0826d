/**
 * The closed-loop writer of the Neo4j benchmarks (bench/neo4j.ts (a), and neo4j-writer.ts `closed` for (a2)):
 * `writers` sessions each commit one-node transactions back to back; tx/s over `seconds` after `warmMs`.
 */
import type { Driver } from 'neo4j-driver';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function closedLoopTxPerS(driver: Driver, writers: number, seconds: number, warmMs: number): Promise<number> {
  let stop = false;
  let done = 0;
  const run = Array.from({ length: writers }, async (_, w) => {
    const s = driver.session({ database: 'neo4j' });
    try {
      for (let i = 0; !stop; i++) {
        await s.executeWrite((tx) => tx.run("CREATE (:Bench {w: $w, i: $i, name: 'x'})", { w, i }));
        done++;
      }
    } finally {
      await s.close();
    }
  });
  await sleep(warmMs);
  const start = done;
  const t0 = performance.now();
  await sleep(seconds * 1000);
  const n = done - start;
  const elapsed = (performance.now() - t0) / 1000;
  stop = true;
  await Promise.all(run);
  return n / elapsed;
}
