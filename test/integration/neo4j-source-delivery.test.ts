/**
 * The neo4j-apoc source's delivery against the run's real Neo4j, driven directly: redelivery with the
 * same ids after a failed emit, dead letters, the backlog and its warning, the settled checkpoint, byte
 * bounds with large transactions, and relaxed ordering under concurrent writers.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import neo4j from 'neo4j-driver';
import { Neo4jApocSource } from '../../daemon/sources/neo4j-apoc/index.js';
import { Collector, cleanAll, closeSourceFixture, count, db, drained, driver, marker, mem, memoryLogger, openSourceFixture, sourceConfig, startSource, store, write } from '../helpers/source-fixture.js';

before(openSourceFixture);
after(closeSourceFixture);

describe('neo4j-apoc source delivery', () => {
  it('delivers an entry again, with the same event ids, when the emit fails before its delete', async () => {
    const c = new Collector();
    const src = await startSource(c);
    try {
      c.failNext = 1;
      await write("CREATE (:Test {k: 'again'})");
      await c.waitFor('the redelivery', () => c.commits() === 2);
      await drained();
      const ids = c.events.map((e) => e.id);
      assert.equal(ids.length, 4);
      assert.deepEqual(ids.slice(0, 2), ids.slice(2), 'the same ids both times');
      assert.deepEqual(c.events[0], c.events[2]);
    } finally {
      await src.stop();
      await cleanAll();
    }
  });

  it('dead-letters an entry it cannot read, says so at ERROR, and delivers the entries after it', async () => {
    const { logger, lines } = memoryLogger();
    const c = new Collector();
    const src = await startSource(c, {}, logger);
    const own = { database: 'neo4j', transactionConfig: { metadata: await store.internalMetadata() } };
    try {
      // A corrupt entry next in seq order, written the way Heimdall writes its own nodes (the trigger ignores it).
      await driver.executeQuery(
        "MATCH (s:HeimdallOutboxSeq {name: 'outbox'}) SET s.value = s.value + 1 " +
          "CREATE (:HeimdallOutbox {seq: s.value, committedAt: timestamp(), txMeta: '{}', changes: '{\"nc\": [oops', bytes: 11})",
        {},
        own,
      );
      await write("CREATE (:Test {k: 'after-poison'})");
      await c.waitFor('the write after the corrupt entry', () => c.commits() === 1);
      await drained();
      assert.deepEqual(c.events.map((e) => [e.type, e.properties?.['k']]), [['node.created', 'after-poison'], ['transaction.commit', undefined]]);
      const failed = (await driver.executeQuery('MATCH (f:HeimdallOutboxFailed) RETURN f.changes AS changes, f.failure AS failure')).records;
      assert.equal(failed.length, 1);
      assert.equal(failed[0]!.get('changes'), '{"nc": [oops');
      assert.match(failed[0]!.get('failure') as string, /JSON/);
      const errors = lines.filter((l) => l.level === 50);
      assert.equal(errors.length, 1, JSON.stringify(errors));
      assert.match(errors[0]!.msg, /^The outbox entry seq \d+ of the database neo4j cannot be read \(.*JSON.*\); its events are lost\. It is kept as a \(:HeimdallOutboxFailed\) node for inspection\.$/);
    } finally {
      await src.stop();
      await driver.executeQuery('MATCH (f:HeimdallOutboxFailed) DELETE f', {}, own);
      await cleanAll();
    }
  });

  it('logs a gap at ERROR once when entries were deleted behind its back, also while the rounds after it skip those entries as pending', async () => {
    const { logger, lines } = memoryLogger();
    await store.install({ ordering: 'strict' });
    await cleanAll();
    // Written while no source runs; then the middle entry is deleted the way only Heimdall could (the internal key).
    for (const k of ['g1', 'g2', 'g3']) await write('CREATE (:Test {k: $k})', { k });
    const [, middle] = (await store.read({ limit: 10 })).entries;
    assert.equal(await store.ack([middle!]), 1);
    const c = new Collector();
    // The first batch stays unsettled (so not acked) until the gate opens: the rounds after it read its two entries
    // again and skip them as pending, and must not report the gap between them again.
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    let batches = 0;
    const src = await startSource(c, {}, logger, true, { settled: () => (++batches === 1 ? gate : Promise.resolve()) });
    try {
      await c.waitFor('the two entries left', () => c.commits() === 2);
      await marker(c);
      await marker(c);
      open();
      await drained();
      const gaps = lines.filter((l) => l.level === 50);
      assert.equal(gaps.length, 1, JSON.stringify(gaps));
      assert.match(gaps[0]!.msg, new RegExp(`^The outbox of the database neo4j skips from seq ${Number(middle!.seq) - 1} to ${Number(middle!.seq) + 1}: 1 transactions' entries were deleted by something other than Heimdall, and their events are lost\\.$`));
    } finally {
      await src.stop();
      await cleanAll();
    }
  });

  it('counts the backlog and warns once when it passes backlogWarning; a stopped source loses nothing', async () => {
    const { logger, lines } = memoryLogger();
    const c = new Collector();
    await store.install({ ordering: 'strict' });
    await cleanAll();
    // Written while no source runs: the entries wait in the outbox.
    for (let i = 0; i < 30; i++) await write('CREATE (:Test {k: $i})', { i });
    const st = await store.status();
    assert.equal(st.backlog, 30);
    assert.equal(st.installed, true);
    const src = await startSource(c, { backlogWarning: 5, batchSize: 10 }, logger, true);
    try {
      await c.waitFor('all 30 transactions', () => c.commits() === 30);
      await drained();
      const created = c.events.filter((e) => e.type === 'node.created').map((e) => e.properties?.['k']);
      assert.deepEqual(created, Array.from({ length: 30 }, (_, i) => i), 'in commit order');
      const warnings = lines.filter((l) => l.level === 40 && /holds \d+ undelivered transactions, more than backlogWarning \(5\)/.test(l.msg));
      assert.equal(warnings.length, 1, `one backlog warning: ${JSON.stringify(lines)}`);
    } finally {
      await src.stop();
      await cleanAll();
    }
  });

  it('with a settled checkpoint, deletes entries only after the checkpoint passes', async () => {
    const c = new Collector();
    let release: () => void = () => {};
    let gate = new Promise<void>((r) => (release = r));
    await cleanAll();
    const src = new Neo4jApocSource({ db, config: sourceConfig(), emit: c.emit, logger: mem.logger, settled: () => gate });
    await src.start();
    try {
      await write("CREATE (:Test {k: 'gated'})");
      await c.waitFor('the emit', () => c.commits() === 1);
      // Quiescence: the marker is read after the gated entry was emitted, so the source has read the outbox again since.
      await marker(c);
      assert.equal(await count("MATCH (o:HeimdallOutbox) WHERE NOT o.changes CONTAINS 'marker-' RETURN count(o)"), 1, 'the entry stays until the checkpoint passes');
      assert.equal(c.commits() - 1, 1, 'and it is not emitted twice meanwhile');
      release();
      await drained();
      gate = Promise.resolve();
    } finally {
      await src.stop();
      await cleanAll();
    }
  });
});

describe('neo4j-apoc source with large transactions', () => {
  it('bounds each read and delete by entry size and still delivers everything in order', async () => {
    const c = new Collector();
    const emits: number[] = [];
    await cleanAll();
    await store.install({ ordering: 'strict' });
    for (let t = 0; t < 6; t++) await write("UNWIND range(1, 2000) AS j CREATE (:Test {t: $t, j: j, pad: 'xxxxxxxxxxxxxxxxxxxxxxxx'})", { t });
    const sizes = (await driver.executeQuery('MATCH (o:HeimdallOutbox) RETURN o.bytes AS b')).records.map((r) => neo4j.integer.toNumber(r.get('b') as neo4j.Integer));
    assert.equal(sizes.length, 6);
    assert.ok(sizes.every((b) => b > 100_000), `each entry is large (${sizes.join(', ')} bytes)`);
    const src = new Neo4jApocSource({ db, config: sourceConfig(), emit: (e) => (emits.push(e.length), c.emit(e)), logger: mem.logger, maxBatchBytes: 150_000 });
    await src.start();
    try {
      await c.waitFor('six large transactions', () => c.commits() === 6, 60_000);
      await drained();
      assert.ok(emits.length >= 6, `one entry per read with a 150 kB bound (${emits.length} emits)`);
      const created = c.events.filter((e) => e.type === 'node.created');
      assert.equal(created.length, 12_000);
      const txs = created.map((e) => e.properties?.['t'] as number);
      assert.deepEqual(txs, txs.slice().sort((a, b) => a - b), 'transactions in commit order');
      for (let t = 0; t < 6; t++) {
        const js = created.filter((e) => e.properties?.['t'] === t).map((e) => e.properties?.['j'] as number).sort((a, b) => a - b);
        assert.deepEqual(js, Array.from({ length: 2000 }, (_, i) => i + 1));
      }
    } finally {
      await src.stop();
      await cleanAll();
    }
  });
});

describe('neo4j-apoc source (relaxed ordering)', () => {
  it('produces the same events and keeps the order of changes to the same node under concurrent writers', async () => {
    const c = new Collector();
    const src = await startSource(c, { ordering: 'relaxed' });
    try {
      assert.equal((await store.status()).trigger.ordering, 'relaxed');
      await write("CREATE (:Test {k: 'counter', n: 0})");
      const writers = 6;
      const perWriter = 25;
      await Promise.all(
        Array.from({ length: writers }, async (_, w) => {
          const session = driver.session({ database: 'neo4j' });
          try {
            for (let i = 0; i < perWriter; i++) {
              await session.executeWrite((tx) => tx.run("MATCH (t:Test {k: 'counter'}) SET t.n = t.n + 1 CREATE (:Test {k: $k})", { k: `w${w}-${i}` }));
            }
          } finally {
            await session.close();
          }
        }),
      );
      const total = writers * perWriter;
      await c.waitFor('every transaction', () => c.commits() === total + 1);
      await drained();
      const updates = c.events.filter((e) => e.type === 'node.updated').map((e) => [e.oldProperties?.['n'], e.properties?.['n']]);
      assert.deepEqual(updates, Array.from({ length: total }, (_, i) => [i, i + 1]), 'updates of one node arrive in commit order');
      assert.equal(c.events.filter((e) => e.type === 'node.created').length, total + 1);
      assert.equal(new Set(c.events.map((e) => e.id)).size, c.events.length, 'ids are unique');
      // relaxed ids: <database>:<epoch>:<clock>.<n>:<index>, n the entry node's number; metadata.seq is the clock reading
      for (const e of c.events) {
        assert.match(e.id, /^neo4j:\d+:\d{19}\.\d+:(\d+|commit)$/, e.id);
        assert.equal(e.txId, `${e.metadata?.['epoch']}:${e.metadata?.['seq']}.${/\.(\d+):/.exec(e.id)![1]}`);
      }
      assert.equal(src.status().details?.['ordering'], 'relaxed');
    } finally {
      await src.stop();
      await cleanAll();
    }
  });
});
