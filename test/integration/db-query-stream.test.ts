/**
 * heimdall.db.query streams: against the real Neo4j of this run, a query that would return
 * 10,000,000 rows is cut at the row limit while the daemon's memory stays flat (heap and RSS
 * sampled during the call, after a forced GC before it), and the server-side transaction is gone
 * when the action answers (the driver stopped pulling and rolled back). The byte cap cuts a result
 * before the row that would pass it, and the action's deadline reaches the driver as the
 * transaction timeout, so a query that never yields a row does not outlive it on the server.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import v8 from 'node:v8';
import vm from 'node:vm';
import neo4j, { type Driver } from 'neo4j-driver';
import type { RunningDaemon } from '../../daemon/daemon.js';
import { startTestDaemon, waitFor } from '../helpers/in-process-daemon.js';
import { openTestDriver, testNeo4j } from '../helpers/neo4j.js';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;
const op = { kind: 'operator' as const };
const MB = 1024 * 1024;

let driver: Driver;
let d: RunningDaemon;

/** Transactions on the server whose query contains `marker` (other than the one asking). */
async function running(marker: string): Promise<number> {
  const r = await driver.executeQuery('SHOW TRANSACTIONS YIELD currentQuery WHERE currentQuery CONTAINS $m AND NOT currentQuery CONTAINS "SHOW TRANSACTIONS" RETURN count(*) AS c', { m: marker }, { database: 'neo4j' });
  return neo4j.integer.toNumber(r.records[0]!.get('c'));
}

/** A daemon whose action deadline is `timeoutMs` and whose database timeout (120 s) is never what ends a query. */
async function daemon(timeoutMs: number): Promise<RunningDaemon> {
  const n = await testNeo4j();
  return startTestDaemon(
    [],
    `database:\n  uri: ${n.uri}\n  user: ${n.user}\n  password: ${JSON.stringify(n.password)}\n  queryTimeoutMs: 120000\nactions:\n  timeoutMs: ${timeoutMs}\ninvoker:\n  queryRowLimit: 100\n  queryMaxBytes: 10000`,
  );
}

before(async () => {
  driver = await openTestDriver();
});
after(async () => {
  await driver?.close();
});

describe('heimdall.db.query streams', () => {
  // A deadline long enough that only memory, not time, can make a buffering reader fail here.
  before(async () => {
    d = await daemon(90_000);
  });
  after(() => d?.stop());

  it('cuts a 10,000,000-row query at the row limit with flat memory, and the server stops', { timeout: 120_000 }, async () => {
    const pad = 'x'.repeat(60);
    const cypher = `UNWIND range(1, 10000000) AS i RETURN i, $pad + toString(i) AS pad // stream-10m`;
    gc();
    const base = process.memoryUsage();
    let peakHeap = base.heapUsed;
    let peakRss = base.rss;
    const sampler = setInterval(() => {
      const m = process.memoryUsage();
      peakHeap = Math.max(peakHeap, m.heapUsed);
      peakRss = Math.max(peakRss, m.rss);
    }, 2);
    let r;
    try {
      r = await d.api.invokeAction('heimdall.db.query', { cypher, params: { pad }, limit: 50 }, op);
    } finally {
      clearInterval(sampler);
    }
    const m = process.memoryUsage();
    peakHeap = Math.max(peakHeap, m.heapUsed);
    peakRss = Math.max(peakRss, m.rss);
    assert.equal(r.success, true, r.message);
    assert.equal((r.data!['rows'] as unknown[]).length, 50);
    assert.equal(r.data!['truncatedBy'], 'rows');
    assert.match(r.message, /cut to the limit of 50/);
    // 10,000,000 rows of ~80 bytes would be well over a gigabyte as driver records; a streamed read holds a batch.
    const heapGrowth = (peakHeap - base.heapUsed) / MB;
    const rssGrowth = (peakRss - base.rss) / MB;
    console.log(`# heap +${heapGrowth.toFixed(1)} MB, rss +${rssGrowth.toFixed(1)} MB while cutting a 10,000,000-row query at 50 rows`);
    assert.ok(heapGrowth < 48, `heap grew by ${heapGrowth.toFixed(1)} MB`);
    assert.ok(rssGrowth < 96, `rss grew by ${rssGrowth.toFixed(1)} MB`);
    assert.equal(await running('stream-10m'), 0, 'the server-side transaction ended with the answer');
  });

  it('cuts at queryMaxBytes before the row that would pass it, and says so', async () => {
    const r = await d.api.invokeAction('heimdall.db.query', { cypher: 'UNWIND range(1, 50) AS i RETURN i, $big AS big', params: { big: 'y'.repeat(1000) } }, op);
    assert.equal(r.success, true, r.message);
    const rows = r.data!['rows'] as unknown[];
    assert.equal(r.data!['truncatedBy'], 'bytes');
    assert.ok(rows.length >= 8 && rows.length < 10, `${rows.length} rows of ~1 KB fit in 10000 bytes`);
    assert.ok((r.data!['bytes'] as number) <= 10000);
    assert.match(r.message, /cut at 10000 bytes/);
  });

});

describe('heimdall.db.query deadline', () => {
  before(async () => {
    d = await daemon(2000);
  });
  after(() => d?.stop());

  it('passes the deadline to the driver: a query that never yields a row does not outlive the action on the server', { timeout: 60_000 }, async () => {
    const t0 = Date.now();
    const r = await d.api.invokeAction('heimdall.db.query', { cypher: 'UNWIND range(1, 2000000000) AS i WITH i WHERE i < 0 RETURN i // never-yields' }, op).catch((e: Error) => ({ success: false, message: e.message, data: {} }));
    assert.equal(r.success, false);
    assert.ok(Date.now() - t0 < 10_000, 'the action answered near its 2 s deadline');
    // database.queryTimeoutMs is 120 s here: only the action's deadline can have ended the server's transaction.
    await waitFor('the server-side transaction to end', async () => (await running('never-yields')) === 0, 5000);
  });
});
