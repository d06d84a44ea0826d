/**
 * The ids of outbox events: strict seqs (the counter) are unique as they are; relaxed seqs (clock
 * readings) can repeat across concurrent transactions, so their ids carry the entry node's number.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { entryEvents, idSeq, type OutboxEntry } from '../../daemon/sources/neo4j-apoc/outbox-events.js';

const entry = (seq: string, elementId: string, node: string): OutboxEntry => ({
  elementId,
  seq,
  epoch: '1796312839414',
  committedAt: 1796312861229,
  txMeta: '{}',
  changes: JSON.stringify({ nc: [{ i: node, l: ['KillTest'], p: { i: 1 } }] }),
});

it('keeps strict ids as <database>:<epoch>:<seq>:<index>', () => {
  const events = entryEvents(entry('42', '4:db:7', '4:db:1'), 'neo4j');
  assert.deepEqual(events.map((e) => e.id), ['neo4j:1796312839414:42:0', 'neo4j:1796312839414:42:commit']);
  assert.equal(events[0]!.txId, '1796312839414:42');
  assert.equal(events[0]!.metadata?.['seq'], '42');
});

it('gives two relaxed entries that read the same clock instant different ids, and the same entry the same ids again', () => {
  const seq = '1796312861229245635';
  const a = entryEvents(entry(seq, '4:2eb49bc2-885f:2404', '4:2eb49bc2-885f:10'), 'neo4j');
  const b = entryEvents(entry(seq, '4:2eb49bc2-885f:2406', '4:2eb49bc2-885f:11'), 'neo4j');
  assert.deepEqual(a.map((e) => e.id), [`neo4j:1796312839414:${seq}.2404:0`, `neo4j:1796312839414:${seq}.2404:commit`]);
  assert.equal(a[0]!.txId, `1796312839414:${seq}.2404`);
  assert.equal(a[0]!.metadata?.['seq'], seq, 'metadata.seq stays the ordering key');
  const ids = new Set([...a, ...b].map((e) => e.id));
  assert.equal(ids.size, 4, 'no id is shared between the two transactions');
  assert.deepEqual(entryEvents(entry(seq, '4:2eb49bc2-885f:2404', '4:2eb49bc2-885f:10'), 'neo4j').map((e) => e.id), a.map((e) => e.id), 'a redelivered entry yields the same ids');
});

it('uses a stable hash of an element id that does not end in a number', () => {
  const seq = '1796312861229245635';
  const x = idSeq({ seq, elementId: 'weird-id' });
  assert.match(x, new RegExp(`^${seq}\\.[0-9a-f]{1,8}$`));
  assert.equal(idSeq({ seq, elementId: 'weird-id' }), x);
  assert.notEqual(idSeq({ seq, elementId: 'weird-id-2' }), x);
  assert.equal(idSeq({ seq: '999999999999999', elementId: '4:db:1' }), '999999999999999', 'below the relaxed floor a seq is the counter');
});
