/**
 * The OutboxStore alone against the run's real Neo4j (no source, no daemon): install is idempotent and
 * resumes a paused trigger; read returns entries in seq order within its entry and byte bounds and skips
 * pending ones; ack deletes exactly what it is given; dead-letter relabels; backlog counts; uninstall
 * keeps undelivered entries unless purged.
 *
 * The trigger runs in the `before` phase, inside the writing transaction, so once a write (or an ack)
 * has committed, the outbox entry it causes exists already: "no entry was written" is checked right
 * after the commit, with nothing to wait for.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import neo4j, { type Driver } from 'neo4j-driver';
import { OutboxError, OutboxStore, pendingKey, triggerStatement, type StoredEntry } from '../../daemon/sources/neo4j-apoc/index.js';
import { openTestDriver } from '../helpers/neo4j.js';
import { openTestOutbox, type TestOutbox } from '../helpers/outbox.js';

let driver: Driver;
let outbox: TestOutbox;
let store: OutboxStore;

async function count(cypher: string): Promise<number> {
  return neo4j.integer.toNumber((await driver.executeQuery(cypher)).records[0]!.get(0) as neo4j.Integer);
}

const entries = () => count('MATCH (o:HeimdallOutbox) RETURN count(o)');

/** Element ids of the outbox entries, in seq order. */
async function entryIds(): Promise<string[]> {
  return (await driver.executeQuery('MATCH (o:HeimdallOutbox) RETURN elementId(o) AS id ORDER BY o.seq')).records.map((r) => r.get('id') as string);
}

/** Commits one transaction per pad length (each writes one outbox entry whose size grows with the pad). */
async function writeTransactions(pads: number[]): Promise<void> {
  for (const [i, pad] of pads.entries()) await driver.executeQuery('CREATE (:StoreTest {i: $i, pad: $pad})', { i, pad: 'x'.repeat(pad) }, { database: 'neo4j' });
}

/** Empties the outbox the way Heimdall does (with the internal key, so the trigger writes nothing) and removes the test data. */
async function reset(): Promise<void> {
  await driver.executeQuery('MATCH (n) WHERE n:HeimdallOutbox OR n:HeimdallOutboxFailed OR n:StoreTest DETACH DELETE n', {}, { database: 'neo4j', transactionConfig: { metadata: await store.internalMetadata() } });
}

const idsOf = (list: readonly StoredEntry[]) => list.map((e) => e.elementId);
const write = (cypher: string) => driver.executeQuery(cypher, {}, { database: 'neo4j' });
/** Removes the (:Test) nodes of the install/uninstall test. */
const clean = () => driver.executeQuery('MATCH (t:Test) DETACH DELETE t', {}, { database: 'neo4j' });

before(async () => {
  driver = await openTestDriver();
  outbox = await openTestOutbox();
  store = outbox.store;
  await store.uninstall({ purge: true });
  await reset();
});

after(async () => {
  await reset();
  await store.uninstall({ purge: true });
  await outbox.close();
  await driver.close();
});

describe('OutboxStore install', () => {
  it('is idempotent: a second install changes nothing, and it resumes a paused trigger', async () => {
    const schema = async () => (await driver.executeQuery("SHOW INDEXES YIELD name WHERE name STARTS WITH 'heimdall_outbox' RETURN name ORDER BY name")).records.map((r) => r.get('name') as string);
    const stored = async () => (await driver.executeQuery('CALL apoc.trigger.show($db) YIELD name, query RETURN name, query', { db: 'neo4j' }, { database: 'system' })).records.filter((r) => r.get('name') === 'heimdall_outbox').map((r) => r.get('query') as string);

    const first = await store.install({ ordering: 'strict' });
    assert.match(first.epoch, /^\d{13,}$/, 'a new epoch: the install time in ms');
    assert.deepEqual(first, { database: 'neo4j', ordering: 'strict', trigger: 'created', loaded: true, counter: 0, epoch: first.epoch, newEpoch: true });
    const state = { schema: await schema(), stored: await stored(), counters: await count('MATCH (c:HeimdallOutboxSeq) RETURN count(c)') };
    assert.deepEqual(state, { schema: ['heimdall_outbox_counter', 'heimdall_outbox_seq'], stored: [triggerStatement('strict')], counters: 1 });

    const again = await store.install({ ordering: 'strict' });
    assert.deepEqual(again, { ...first, trigger: 'unchanged', newEpoch: false }, 'same epoch: nothing changed');
    assert.deepEqual({ schema: await schema(), stored: await stored(), counters: await count('MATCH (c:HeimdallOutboxSeq) RETURN count(c)') }, state, 'nothing changed');
    assert.equal(await entries(), 0, 'installing wrote no outbox entry');

    const loaded = await store.loadedTrigger();
    assert.deepEqual({ ordering: loaded?.ordering, paused: loaded?.paused, keyed: loaded?.keyed }, { ordering: 'strict', paused: false, keyed: true });
    assert.equal((await store.status()).installed, true);

    await driver.executeQuery('CALL apoc.trigger.stop($db, $name)', { db: 'neo4j', name: 'heimdall_outbox' }, { database: 'system' });
    await waitUntil('the database to load the paused trigger', async () => (await store.loadedTrigger())?.paused === true);
    assert.equal((await store.status()).installed, false, 'a paused trigger is not installed');
    const resumed = await store.install({ ordering: 'strict', waitMs: 10_000 });
    assert.deepEqual([resumed.trigger, resumed.loaded, resumed.newEpoch], ['unchanged', true, true]);
    assert.ok(Number(resumed.epoch) > Number(first.epoch), 'resuming a paused trigger moves to a later epoch');
    await waitUntil('the database to load the resumed trigger', async () => (await store.loadedTrigger())?.paused === false);
    assert.equal((await store.status()).installed, true);
  });

  it('explains a database that does not exist in one sentence', async () => {
    const other = new OutboxStore(outbox.db, { database: 'nosuchdb' });
    await assert.rejects(other.status(), (err: unknown) => err instanceof OutboxError && /^The database nosuchdb does not exist \(.*\); check database\.database\.$/.test(err.message));
  });
});

describe('OutboxStore delivery', () => {
  before(async () => {
    await store.install({ ordering: 'strict' });
  });

  it('reads in seq order, at most limit entries, and reports whether the limit cut the read', async () => {
    await reset();
    await writeTransactions([10, 10, 10, 10, 10]);
    const all = await entryIds();
    assert.equal(all.length, 5);
    const first = await store.read({ limit: 3 });
    assert.deepEqual(idsOf(first.entries), all.slice(0, 3));
    assert.equal(first.full, true);
    const seqs = first.entries.map((e) => Number(e.seq));
    assert.deepEqual(seqs, [seqs[0], seqs[0]! + 1, seqs[0]! + 2], 'strict seqs, consecutive');
    const e = first.entries[0]!;
    assert.equal(typeof e.committedAt, 'number');
    assert.ok(Math.abs(e.committedAt - Date.now()) < 60_000, 'committedAt is epoch ms');
    assert.equal(e.bytes, e.changes.length + e.txMeta.length);
    assert.match(e.changes, /"StoreTest"/);

    const everything = await store.read({ limit: 10 });
    assert.deepEqual(idsOf(everything.entries), all);
    assert.equal(everything.full, false, 'fewer than limit and within the byte bound: nothing more is waiting');
  });

  it('bounds a read by entry bytes: the entries that start within maxBatchBytes, and at least one', async () => {
    await reset();
    await writeTransactions([2000, 2000, 2000, 2000, 2000]);
    const all = await store.read({ limit: 100 });
    const sizes = all.entries.map((e) => e.bytes);
    assert.ok(sizes.every((b) => b > 2000), `entries carry their pad (${sizes.join(', ')} bytes)`);
    // A bound of two and a half entries: the third entry starts within it, the fourth does not.
    const bound = sizes[0]! + sizes[1]! + Math.floor(sizes[2]! / 2);
    const bounded = new OutboxStore(outbox.db, { database: 'neo4j', maxBatchBytes: bound });
    const cut = await bounded.read({ limit: 100 });
    assert.deepEqual(idsOf(cut.entries), idsOf(all.entries).slice(0, 3));
    assert.equal(cut.full, true, 'the byte bound cut the read');
    const tiny = new OutboxStore(outbox.db, { database: 'neo4j', maxBatchBytes: 1 });
    const one = await tiny.read({ limit: 100 });
    assert.deepEqual(idsOf(one.entries), idsOf(all.entries).slice(0, 1), 'an entry larger than the bound comes alone');
    assert.equal(one.full, true);
  });

  it('skips pending entries without counting them against limit or the byte bound', async () => {
    await reset();
    await writeTransactions([500, 500, 500, 500, 500]);
    const all = (await store.read({ limit: 100 })).entries;
    const pending = { keys: new Set(all.slice(0, 2).map(pendingKey)) };
    const next = await store.read({ limit: 2, pending });
    assert.deepEqual(idsOf(next.entries), idsOf(all).slice(2, 4));
    assert.equal(next.full, true);
    const bounded = new OutboxStore(outbox.db, { database: 'neo4j', maxBatchBytes: all[2]!.bytes + 1 });
    const cut = await bounded.read({ limit: 100, pending });
    assert.deepEqual(idsOf(cut.entries), idsOf(all).slice(2, 4), 'the bound applies to the new entries only');
    // Neo4j reuses the ids of deleted nodes: an entry with a pending entry's id but another seq is a new entry
    const reused = await store.read({ limit: 100, pending: { keys: new Set([...pending.keys, `${all[2]!.elementId}|${BigInt(all[2]!.seq) + 1n}`]) } });
    assert.deepEqual(idsOf(reused.entries), idsOf(all).slice(2), 'skipped only when both the id and the seq match');
  });

  it('acks exactly the entries it is given, writes no entry doing so, and a second ack deletes nothing', async () => {
    await reset();
    await writeTransactions([10, 10, 10, 10, 10]);
    const all = await entryIds();
    const read = await store.read({ limit: 3 });
    assert.equal(await store.ack(read.entries), 3);
    assert.deepEqual(await entryIds(), all.slice(3), 'the two unread entries are left, and no new one');
    assert.equal(await store.ack(read.entries), 0, 'acking again is harmless');
    assert.equal(await count('MATCH (t:StoreTest) RETURN count(t)'), 5, 'only outbox entries were deleted');
  });

  it('acks an entry only when its seq and epoch match too (a retried ack must not delete a new entry that reuses a deleted id)', async () => {
    await reset();
    await writeTransactions([10]);
    const [e] = (await store.read({ limit: 10 })).entries;
    // What a retried ack holds after Neo4j gave the element id of the entry it deleted to a new one: the id matches, the entry does not.
    assert.equal(await store.ack([{ ...e!, seq: String(Number(e!.seq) + 1000) }]), 0);
    assert.equal(await store.ack([{ ...e!, epoch: String(Number(e!.epoch) + 1) }]), 0);
    assert.equal(await entries(), 1, 'the entry is still there');
    assert.equal(await store.ack([e!]), 1);
  });

  it('acks in transactions of at most maxBatchBytes and still deletes them all', async () => {
    await reset();
    await writeTransactions([1000, 1000, 1000, 1000]);
    const all = (await store.read({ limit: 100 })).entries;
    const small = new OutboxStore(outbox.db, { database: 'neo4j', maxBatchBytes: all[0]!.bytes + 1 });
    assert.equal(await small.ack(all), 4);
    assert.equal(await entries(), 0);
  });

  it('dead-letters by relabelling: the entry leaves the outbox, keeps its text and records why', async () => {
    await reset();
    await writeTransactions([10, 10, 10]);
    const [bad, ...rest] = (await store.read({ limit: 10 })).entries;
    assert.equal(await store.deadLetter([{ elementId: bad!.elementId, reason: 'Unexpected token } in JSON at position 7' }]), 1);
    const failed = (await driver.executeQuery('MATCH (f:HeimdallOutboxFailed) RETURN elementId(f) AS id, labels(f) AS labels, f.changes AS changes, f.failure AS failure, f.failedAt AS at')).records;
    assert.equal(failed.length, 1);
    assert.equal(failed[0]!.get('id'), bad!.elementId);
    assert.deepEqual(failed[0]!.get('labels'), ['HeimdallOutboxFailed']);
    assert.equal(failed[0]!.get('changes'), bad!.changes);
    assert.equal(failed[0]!.get('failure'), 'Unexpected token } in JSON at position 7');
    assert.equal(typeof neo4j.integer.toNumber(failed[0]!.get('at') as neo4j.Integer), 'number');
    assert.deepEqual(idsOf((await store.read({ limit: 10 })).entries), idsOf(rest), 'reads no longer return it');
    assert.equal(await entries(), 2, 'relabelling wrote no outbox entry');
    assert.equal(await store.deadLetter([]), 0);
  });

  it('counts the backlog: entries written and not yet acked', async () => {
    await reset();
    assert.equal(await store.backlog(), 0);
    await writeTransactions([10, 10, 10, 10]);
    assert.equal(await store.backlog(), 4);
    await store.ack((await store.read({ limit: 1 })).entries);
    assert.equal(await store.backlog(), 3);
    assert.equal((await store.status()).backlog, 3);
  });
});

describe('OutboxStore install and uninstall', () => {
  it('is idempotent, replaces the statement when the ordering changes, and uninstall keeps undelivered entries unless purge', async () => {
    await store.uninstall({ purge: true });
    const first = await store.install({ ordering: 'strict' });
    assert.equal(first.trigger, 'created');
    assert.equal(first.loaded, true);
    const again = await store.install({ ordering: 'strict' });
    assert.equal(again.trigger, 'unchanged');
    const relaxed = await store.install({ ordering: 'relaxed' });
    assert.equal(relaxed.trigger, 'updated');
    assert.equal(relaxed.loaded, true);
    assert.ok(Number(relaxed.epoch) > Number(again.epoch), 'replacing the statement moves to a later epoch');
    const shown = await driver.executeQuery('CALL apoc.trigger.show($db) YIELD name, query RETURN name, query', { db: 'neo4j' }, { database: 'system' });
    assert.deepEqual(shown.records.filter((r) => r.get('name') === 'heimdall_outbox').map((r) => r.get('query')), [triggerStatement('relaxed')]);

    await write("CREATE (:Test {k: 'pending'})");
    const kept = await store.uninstall();
    assert.deepEqual([kept.triggerDropped, kept.unloaded, kept.entriesKept, kept.schemaDropped, kept.reinstalled], [true, true, 1, false, false]);
    await write("CREATE (:Test {k: 'not captured'})");
    assert.equal(await count('MATCH (o:HeimdallOutbox) RETURN count(o)'), 1, 'no trigger, no new entry');
    const st = await store.status();
    assert.equal(st.installed, false);
    assert.equal(st.trigger.stored, false);
    const purged = await store.uninstall({ purge: true });
    assert.deepEqual([purged.triggerDropped, purged.entriesDeleted, purged.entriesKept, purged.schemaDropped], [false, 1, 0, true]);
    assert.equal(await count('MATCH (c:HeimdallOutboxSeq) RETURN count(c)'), 0);
    const names = await driver.executeQuery("SHOW INDEXES YIELD name WHERE name STARTS WITH 'heimdall_outbox' RETURN count(*) AS n");
    assert.equal(neo4j.integer.toNumber(names.records[0]!.get('n') as neo4j.Integer), 0);
    await clean();
  });
});

async function waitUntil(what: string, check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}.`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
