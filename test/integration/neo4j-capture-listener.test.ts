/**
 * The outbox capture listener (neo4j/src/main/java/heimdall/capture/, a kernel TransactionEventListener)
 * does what the APOC trigger (daemon/sources/neo4j-apoc/outbox-trigger.ts) does:
 *  1. parity: for each shape of transaction (every property type, property/label/relationship changes,
 *     deletes, a mixed transaction, metadata, an audit node, writes that cancel out), run once under the
 *     trigger and once under the listener on identical fresh data, the entries are the same: `changes` and
 *     `txMeta` parsed (element ids named by the test's `k` properties, lists of changes sorted) and every
 *     scalar token of their text (numbers and strings as written: 2.0, -0.0, 1.0E20, \u001F), with the
 *     entry's seq, epoch, committedAt and bytes as each mode defines them; under relaxed and strict;
 *  2. seqs under 8 concurrent writers: consecutive and unique (strict), unique (relaxed);
 *  3. the guard: every way to change, delete, unlabel or forge Heimdall's nodes without the internal key
 *     is refused with the trigger's message naming the labels, and changes nothing; with the key it passes
 *     and writes no entry; audit nodes may be created (and are captured);
 *  4. heal: an internal write that lowers the counter moves its epoch on, one that raises it does not;
 *  5. heimdall.capture.install/uninstall/status: bad arguments are refused, status says what is in place,
 *     and after uninstall nothing is captured.
 * The trigger and the listener are never installed together; `after` leaves neither, and no entry, counter
 * or node of this file.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import neo4j, { type Driver } from 'neo4j-driver';
import type { OutboxStore } from '../../daemon/sources/neo4j-apoc/index.js';
import { RELAXED_SEQ_FLOOR } from '../../daemon/sources/neo4j-apoc/outbox-trigger.js';
import { REFUSAL, refusedLabels } from '../../daemon/db/own-state.js';
import { openTestDriver } from '../helpers/neo4j.js';
import { openTestOutbox, type TestOutbox } from '../helpers/outbox.js';

type Ordering = 'relaxed' | 'strict';
type Metadata = Record<string, unknown>;

let driver: Driver;
let outbox: TestOutbox;
let store: OutboxStore;
/** Metadata with the internal key of the current install (trigger and listener share it). */
let meta: Metadata;
let key: string;
let triggerInstalled = false;

const num = (v: unknown): number => (v === null || v === undefined ? NaN : neo4j.isInt(v) ? neo4j.integer.toNumber(v as never) : Number(v));

/** Runs `cypher` in the captured database, with `metadata` as transaction metadata when given. */
const run = (cypher: string, params: Record<string, unknown> = {}, metadata?: Metadata) =>
  driver.executeQuery(cypher, params, { database: 'neo4j', ...(metadata ? { transactionConfig: { metadata } } : {}) });
/** Runs `cypher` as Heimdall's own write: not captured, not refused. */
const internal = (cypher: string, params: Record<string, unknown> = {}) => run(cypher, params, meta);

/** Removes every outbox entry and every node of this file, without either capture seeing it. */
const reset = () => internal('MATCH (n) WHERE n:Cap OR n:HeimdallOutbox OR (n:HeimdallAudit AND n.capTest) DETACH DELETE n');

interface Entry { seq: bigint; epoch: number; committedAt: number; txMeta: string; changes: string; bytes: number }

async function entries(): Promise<Entry[]> {
  const { records } = await run('MATCH (o:HeimdallOutbox) RETURN toString(o.seq) AS seq, o.epoch AS epoch, o.committedAt AS at, o.txMeta AS m, o.changes AS c, o.bytes AS b ORDER BY o.seq');
  return records.map((r) => ({ seq: BigInt(r.get('seq') as string), epoch: num(r.get('epoch')), committedAt: num(r.get('at')), txMeta: r.get('m') as string, changes: r.get('c') as string, bytes: num(r.get('b')) }));
}

async function counter(): Promise<{ value: number; epoch: number } | undefined> {
  const r = (await run("MATCH (c:HeimdallOutboxSeq {name: 'outbox'}) RETURN c.value AS v, c.epoch AS e")).records[0];
  return r ? { value: num(r.get('v')), epoch: num(r.get('e')) } : undefined;
}

/** Element id -> stable name: `n:<k>` for this file's nodes, `r:<k>` for their relationships. */
async function names(): Promise<Map<string, string>> {
  const nodes = await run('MATCH (n) WHERE n:Cap OR (n:HeimdallAudit AND n.capTest) RETURN elementId(n) AS id, n.k AS k');
  const rels = await run('MATCH (:Cap)-[r]->(:Cap) RETURN elementId(r) AS id, r.k AS k');
  return new Map([...nodes.records.map((r) => [r.get('id'), `n:${r.get('k')}`] as [string, string]), ...rels.records.map((r) => [r.get('id'), `r:${r.get('k')}`] as [string, string])]);
}

async function status(): Promise<Record<string, unknown>> {
  return (await run('CALL heimdall.capture.status()')).records[0]!.toObject();
}

/** The APOC trigger captures (the listener is uninstalled first: never both). */
async function useTrigger(ordering: Ordering): Promise<void> {
  await run('CALL heimdall.capture.uninstall()');
  await store.install({ ordering });
  triggerInstalled = true;
  meta = await store.internalMetadata();
  key = meta.heimdallKey as string;
  assert.equal(typeof key, 'string', 'the trigger has an internal key');
}

/** The listener captures, with the trigger's key (the trigger is uninstalled and unloaded first); the counter exists. */
async function useListener(ordering: Ordering): Promise<void> {
  if (triggerInstalled) {
    await reset();
    const u = await store.uninstall();
    assert.ok(u.triggerDropped && u.unloaded, 'the trigger is dropped and no longer loaded before the listener is installed');
    triggerInstalled = false;
  }
  const s = (await run('CALL heimdall.capture.install($ordering, $key)', { ordering, key })).records[0]!.toObject();
  assert.equal(s.installed, true);
  assert.equal(s.ordering, ordering);
  await internal("MERGE (c:HeimdallOutboxSeq {name: 'outbox'}) ON CREATE SET c.value = 0, c.epoch = timestamp()");
}

// ---- shapes of transactions ---------------------------------------------------------------------

/** `entries`: how many entries it writes (1 unless said); `strict`: also compared under strict ordering. */
interface Shape { name: string; cypher: string; params?: Record<string, unknown>; metadata?: Metadata; entries?: 0 | 1; strict?: true }

/**
 * The data every shape starts from (written with the internal key, so not captured). Its labels are this file's own
 * (Cap…). The order of labels(n) follows the labels' token ids (for a node created in the transaction, a hash set's
 * order of them), the same for the trigger and the listener in one database, so `l` is compared as written.
 */
const BASE =
  "CREATE (a:Cap {k: 'a', x: 1, s: 'v', arr: [1, 2]})-[:R {k: 'ab', w: 1, tag: 'old'}]->(b:Cap:CapExtra {k: 'b', y: 2.5}), " +
  "(c:Cap {k: 'c'})-[:R {k: 'cb'}]->(b)";

const SHAPES: Shape[] = [
  { strict: true, name: 'create with integers (negative, zero, the long extremes)', cypher: "CREATE (:Cap {k: 'n', i: 42, neg: -7, zero: 0, max: 9223372036854775807, min: -9223372036854775807 - 1, big: 9007199254740993})" },
  { strict: true, name: 'create with floats (1.5, 2.0, -0.0, exponents, NaN and infinities)', cypher: "CREATE (:Cap {k: 'n', f: 1.5, two: 2.0, negf: -0.25, negzero: -0.0, tiny: 1.0e-10, huge: 1.0e20, mid: 12345678.0, inf: 1.0/0.0, ninf: -1.0/0.0, nan: 0.0/0.0})" },
  {
    name: 'create with strings (quotes, backslashes, newlines, control characters, non-ASCII, emoji)',
    cypher: "CREATE (:Cap {k: 'n', q: $q, bs: $bs, nl: $nl, ctl: $ctl, uni: $uni, empty: ''})",
    params: { q: 'say "hi" it\'s', bs: 'C:\\dir\\file \\u0041', nl: 'line1\nline2\r\n\ttabbed', ctl: '\u0000\u0001\u001a\u001f\u007f\b\f', uni: 'Grüße, 日本語, 😀🎉 \u2028 \ufeff' },
  },
  { name: 'create with a byte array (a driver parameter)', cypher: "CREATE (:Cap {k: 'n', b: $b})", params: { b: new Int8Array([0, 1, -1, 127, -128]) } },
  { name: 'create with booleans and arrays of ints, floats, strings, booleans, and an empty array', cypher: "CREATE (:Cap {k: 'n', t: true, f: false, ai: [1, -2, 3], af: [1.5, 2.0, -0.0], as: ['x', 'y\"z', ''], ab: [true, false], ae: []})" },
  {
    name: 'create with temporal values (date, datetime with zone and offset, localdatetime, localtime, time, duration)',
    cypher:
      "CREATE (:Cap {k: 'n', d: date('2024-02-29'), dt: datetime('2024-03-10T02:30:00.123456789[America/New_York]'), dto: datetime('2024-01-02T03:04:05+05:30'), " +
      "dtz: datetime('2024-06-01T12:00:00Z'), ldt: localdatetime('2024-01-02T03:04:05.5'), lt: localtime('23:59:59.999'), t: time('12:00:00+01:00'), " +
      "dur: duration('P1Y2M3DT4H5M6.789S'), durneg: duration({days: -3, seconds: 1}), ds: [date('2024-01-01'), date('2024-12-31')], ts: [localtime('01:02')]})",
  },
  {
    name: 'create with points (cartesian 2D/3D, WGS-84 2D/3D, an array of points)',
    cypher: "CREATE (:Cap {k: 'n', pc: point({x: 1, y: 2}), pc3: point({x: 1.5, y: -2, z: 3}), pw: point({longitude: 12.5, latitude: 56.25}), pw3: point({longitude: -0.1, latitude: 51.5, height: 35}), ps: [point({x: 0, y: 0}), point({x: 1, y: 1})]})",
  },
  { strict: true, name: 'set and remove properties on an existing node', cypher: "MATCH (a:Cap {k: 'a'}) SET a.x = 2, a.fresh = 'n', a.when = date('2024-05-01'), a.arr = [3] REMOVE a.s" },
  { name: 'replace property values with values of other types (old and new values)', cypher: "MATCH (a:Cap {k: 'a'}), (b:Cap {k: 'b'}) SET b.y = point({x: 1, y: 2}), a.x = 1.0, a.s = datetime('2024-01-01T00:00:00Z'), a.arr = ['1']" },
  { strict: true, name: 'add and remove labels', cypher: "MATCH (a:Cap {k: 'a'}), (b:Cap {k: 'b'}) SET a:CapMarked:CapOther REMOVE b:CapExtra" },
  { name: 'create relationships with properties between existing nodes', cypher: "MATCH (a:Cap {k: 'a'}), (c:Cap {k: 'c'}) CREATE (a)-[:LINK {k: 'ac', w: 2.5, on: date('2024-01-01'), at: point({x: 1, y: 2})}]->(c), (c)-[:LINK {k: 'ca'}]->(a)" },
  { name: 'create nodes with a relationship between them', cypher: "CREATE (x:Cap:CapNew {k: 'x'})-[:LINK {k: 'xy', n: 1}]->(y:Cap {k: 'y'})" },
  { strict: true, name: 'set and remove relationship properties', cypher: "MATCH ()-[r:R {k: 'ab'}]->() SET r.w = 5, r.extra = [1.5, 2.0] REMOVE r.tag" },
  { name: 'delete a relationship', cypher: "MATCH ()-[r:R {k: 'cb'}]->() DELETE r" },
  { strict: true, name: 'detach delete a node with relationships', cypher: "MATCH (b:Cap {k: 'b'}) DETACH DELETE b" },
  {
    strict: true,
    name: 'a mixed transaction (properties, labels, relationships created, changed and deleted, a node created and one deleted)',
    cypher:
      "MATCH (a:Cap {k: 'a'}), (c:Cap {k: 'c'}), ()-[ab:R {k: 'ab'}]->(), ()-[cb:R {k: 'cb'}]->() " +
      "SET a.x = 10, c:CapMarked, cb.w = 0 REMOVE a.arr DELETE ab CREATE (a)-[:LINK {k: 'an'}]->(:Cap {k: 'n', v: 1}) " +
      "WITH c CREATE (c)-[:LINK {k: 'cz'}]->(z:Cap {k: 'z'}) WITH z MATCH (b:Cap {k: 'b'}) DETACH DELETE b",
  },
  {
    strict: true,
    name: 'a transaction with metadata (strings, numbers, booleans, lists, nested maps)',
    cypher: "CREATE (:Cap {k: 'n'})",
    metadata: { app: 'shop', user: 'ann "the admin"', n: 42, i: neo4j.int(7), f: 1.5, ok: true, tags: ['a', 'b'], nested: { a: 'x\\y', deeper: { b: [1, 2], c: neo4j.int(-3), e: {} } } },
  },
  { name: 'an audit node is captured like any other node', cypher: "CREATE (:HeimdallAudit {k: 'audit', x: 1, capTest: true})" },
  { name: 'writes that cancel out (created and deleted, a missing property removed, a value set to itself) write no entry', cypher: "CREATE (t:Cap {k: 'tmp'}) WITH t DELETE t WITH 1 AS one MATCH (a:Cap {k: 'a'}) SET a.x = 1 REMOVE a.missing", entries: 0 },
];

const STRICT_SHAPES = SHAPES.filter((s) => s.strict);

interface Seen { entries: Entry[]; names: Map<string, string>; t0: number; t1: number; counter?: { value: number; epoch: number } }

/** Runs every shape on fresh BASE data and keeps what was written. */
async function captureAll(shapes: Shape[]): Promise<Seen[]> {
  const out: Seen[] = [];
  for (const shape of shapes) {
    await reset();
    await internal(BASE);
    const before = await names();
    const t0 = Date.now();
    await run(shape.cypher, shape.params, shape.metadata);
    const t1 = Date.now();
    out.push({ entries: await entries(), names: new Map([...before, ...(await names())]), t0, t1, counter: await counter() });
  }
  return out;
}

const ELEMENT_ID = /^\d+:[0-9a-f-]{36}:\d+$/;

/** Element ids (values and keys) replaced by their names; fails on an element id the test does not know. */
function named(v: unknown, ids: Map<string, string>): unknown {
  const name = (s: string): string => {
    const n = ids.get(s);
    assert.ok(n !== undefined || !ELEMENT_ID.test(s), `an element id the test did not create: ${s}`);
    return n ?? s;
  };
  if (typeof v === 'string') return name(v);
  if (Array.isArray(v)) return v.map((x) => named(x, ids));
  if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [name(k), named(x, ids)]));
  return v;
}

/** The scalar tokens of a JSON text as written (strings with their escapes, numbers as formatted), ids named, sorted. */
function tokens(text: string, ids: Map<string, string>): string[] {
  return (text.match(/"(?:[^"\\]|\\.)*"|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null/g) ?? [])
    .map((t) => (t.startsWith('"') && ids.has(JSON.parse(t) as string) ? `<${ids.get(JSON.parse(t) as string)}>` : t))
    .sort();
}

/** JSON text with every object's keys sorted: the same for equal values whatever order their keys were written in. */
const canonical = (v: unknown): string =>
  JSON.stringify(v, (_k, x: unknown) => (x !== null && typeof x === 'object' && !Array.isArray(x) ? Object.fromEntries(Object.entries(x).sort(([a], [b]) => a.localeCompare(b))) : x));

/** An entry as compared: changes with named ids and each list of changes sorted, txMeta, and the tokens of both texts. */
function view(e: Entry, ids: Map<string, string>): unknown {
  const changes = named(JSON.parse(e.changes), ids) as Record<string, unknown>;
  for (const [k, v] of Object.entries(changes)) if (Array.isArray(v)) changes[k] = [...v].sort((x, y) => canonical(x).localeCompare(canonical(y)));
  return { changes, txMeta: JSON.parse(e.txMeta), tokens: [...tokens(e.changes, ids), '|', ...tokens(e.txMeta, ids)] };
}

const codePoints = (s: string): number => [...s].length;

/** seq, epoch, committedAt and bytes of an entry as each capture defines them. */
function checkEntry(e: Entry, seen: Seen, ordering: Ordering, who: 'trigger' | 'listener', shape: string): void {
  const at = `${who}, ${ordering}, ${shape}`;
  assert.ok(e.committedAt >= seen.t0 - 1000 && e.committedAt <= seen.t1 + 1000, `committedAt ${e.committedAt} within the statement (${at})`);
  assert.equal(e.epoch, seen.counter?.epoch, `epoch is the counter's (${at})`);
  if (ordering === 'strict') assert.equal(e.seq, BigInt(seen.counter!.value), `strict seq is the counter's value (${at})`);
  else assert.ok(e.seq > BigInt(RELAXED_SEQ_FLOOR), `relaxed seq is epoch nanoseconds (${at})`);
  // bytes: size(changes) + size(txMeta), and Cypher's size() counts code points (the listener counts them too).
  assert.equal(e.bytes, codePoints(e.changes) + codePoints(e.txMeta), `bytes (${at})`);
}

async function writers(sessions: number, each: number): Promise<void> {
  await Promise.all(
    Array.from({ length: sessions }, async (_, w) => {
      const session = driver.session({ database: 'neo4j' });
      try {
        for (let i = 0; i < each; i++) await session.executeWrite((tx) => tx.run('CREATE (:Cap {k: $k})', { k: `w${w}-${i}` }));
      } finally {
        await session.close();
      }
    }),
  );
}

/** Everything in the database, as one text: what a refused statement must leave as it was. */
async function snapshot(): Promise<string> {
  const { records } = await run(
    'MATCH (n) OPTIONAL MATCH (n)-[r]-() WITH n, count(r) AS rels ORDER BY elementId(n) RETURN apoc.convert.toJson(collect([elementId(n), labels(n), properties(n), rels])) AS s',
  );
  return records[0]!.get('s') as string;
}

// ---- the tests ------------------------------------------------------------------------------------

before(async () => {
  driver = await openTestDriver();
  outbox = await openTestOutbox();
  store = outbox.store;
  await run('CALL heimdall.capture.uninstall()');
});

after(async () => {
  try {
    await run('CALL heimdall.capture.uninstall()');
    if (meta) await reset();
    await store.uninstall({ purge: true });
  } finally {
    await outbox.close();
    await driver.close();
  }
});

for (const [ordering, shapes] of [['relaxed', SHAPES], ['strict', STRICT_SHAPES]] as const) {
  describe(`under ${ordering} ordering the listener writes the trigger's entry for each shape of transaction`, () => {
    let trigger: Seen[];
    let listener: Seen[];

    before(async () => {
      await useTrigger(ordering);
      trigger = await captureAll(shapes);
      await useListener(ordering);
      listener = await captureAll(shapes);
      await run('CALL heimdall.capture.uninstall()');
    });

    shapes.forEach((shape, i) => {
      it(shape.name, () => {
        const t = trigger[i]!;
        const l = listener[i]!;
        assert.equal(t.entries.length, shape.entries ?? 1, `the trigger's entries for ${shape.cypher}`);
        assert.equal(l.entries.length, t.entries.length, `the listener's entries for ${shape.cypher}`);
        for (const e of t.entries) checkEntry(e, t, ordering, 'trigger', shape.name);
        for (const e of l.entries) checkEntry(e, l, ordering, 'listener', shape.name);
        assert.deepStrictEqual(l.entries.map((e) => view(e, l.names)), t.entries.map((e) => view(e, t.names)));
      });
    });
  });
}

describe('the listener under concurrent writers', () => {
  it('strict: 8 sessions x 40 transactions get exactly consecutive seqs, one entry per transaction', async () => {
    await useListener('strict');
    await reset();
    await writers(8, 40);
    const es = await entries();
    assert.equal(es.length, 320);
    es.forEach((e, i) => assert.equal(e.seq, es[0]!.seq + BigInt(i), `seq ${i} follows without gap or duplicate`));
    assert.equal(BigInt((await counter())!.value), es.at(-1)!.seq, 'the counter is at the last seq');
    const ks = es.flatMap((e) => (JSON.parse(e.changes).nc as Array<{ p: { k: string } }>).map((n) => n.p.k));
    assert.equal(new Set(ks).size, 320, 'every transaction is in exactly one entry');
  });

  it('strict: with the counter gone (deleted with the key), 8 sessions writing at once all commit and share one new counter', async () => {
    await useListener('strict');
    await reset();
    await internal("MATCH (c:HeimdallOutboxSeq {name: 'outbox'}) DELETE c");
    assert.equal(await counter(), undefined);
    for (let round = 0; round < 5; round++) {
      await internal("MATCH (c:HeimdallOutboxSeq {name: 'outbox'}) DELETE c");
      await writers(8, 3); // throws when one writer fails, e.g. on the counter's uniqueness constraint
    }
    const counters = await run("MATCH (c:HeimdallOutboxSeq {name: 'outbox'}) RETURN count(c) AS n");
    assert.equal(num(counters.records[0]!.get('n')), 1, 'one counter');
    const es = await entries();
    assert.equal(es.length, 120, 'every transaction wrote its entry');
    const byEpoch = new Map<number, bigint[]>();
    for (const e of es) byEpoch.set(e.epoch, [...(byEpoch.get(e.epoch) ?? []), e.seq]);
    assert.equal(byEpoch.size, 5, 'each re-created counter starts a new epoch');
    for (const seqs of byEpoch.values()) {
      assert.deepEqual(seqs.sort((a, b) => (a < b ? -1 : 1)), Array.from({ length: 24 }, (_, i) => BigInt(i + 1)), 'each counts from 1 without gap or duplicate');
    }
  });

  it('relaxed: 8 sessions x 40 transactions get unique seqs', async () => {
    await useListener('relaxed');
    await reset();
    await writers(8, 40);
    const es = await entries();
    assert.equal(es.length, 320);
    assert.equal(new Set(es.map((e) => e.seq)).size, 320, 'no two entries share a seq');
    assert.ok(es.every((e) => e.seq > BigInt(RELAXED_SEQ_FLOOR)));
  });
});

describe("the listener's guard (relaxed): Heimdall's nodes cannot be changed without the internal key", () => {
  before(async () => {
    await useListener('relaxed');
    await reset();
    await run("CREATE (:Cap {k: 'g'})");
    assert.equal((await entries()).length, 1, 'an entry to attack');
  });

  /** `cypher` (with `metadata`) is refused with the trigger's message naming exactly `labels`, and changes nothing. */
  async function refused(cypher: string, labels: string[], metadata?: Metadata): Promise<void> {
    const before = await snapshot();
    await assert.rejects(run(cypher, {}, metadata), (err: Error) => {
      assert.ok(err.message.includes(REFUSAL), `the refusal for ${cypher}, not: ${err.message}`);
      assert.deepStrictEqual(refusedLabels(err), labels, `the labels named for ${cypher}`);
      return true;
    });
    assert.equal(await snapshot(), before, `nothing changed by ${cypher}`);
  }

  const wrongKey = () => key.slice(0, -1) + (key.endsWith('A') ? 'B' : 'A');

  it('refuses SET on an entry, deleting one, and removing its label', async () => {
    await refused('MATCH (o:HeimdallOutbox) SET o.seq = 0', ['HeimdallOutbox']);
    await refused("MATCH (o:HeimdallOutbox) SET o.changes = '{}'", ['HeimdallOutbox']);
    await refused('MATCH (o:HeimdallOutbox) DELETE o', ['HeimdallOutbox']);
    await refused('MATCH (o:HeimdallOutbox) REMOVE o:HeimdallOutbox', ['HeimdallOutbox']);
  });

  it('refuses a forged entry, created or labelled onto an ordinary node', async () => {
    await refused("CREATE (:HeimdallOutbox {seq: 1, epoch: 0, committedAt: 0, txMeta: '{}', changes: '{}', bytes: 4})", ['HeimdallOutbox']);
    await refused("CREATE (:Cap {k: 'ok'}), (:HeimdallOutboxFailed {seq: 2})", ['HeimdallOutboxFailed']);
    await refused("MATCH (n:Cap {k: 'g'}) SET n:HeimdallOutbox", ['HeimdallOutbox']);
  });

  it('refuses changing or deleting the counter', async () => {
    await refused("MATCH (c:HeimdallOutboxSeq {name: 'outbox'}) SET c.value = c.value + 100", ['HeimdallOutboxSeq']);
    await refused("MATCH (c:HeimdallOutboxSeq {name: 'outbox'}) SET c.epoch = 1", ['HeimdallOutboxSeq']);
    await refused("MATCH (c:HeimdallOutboxSeq {name: 'outbox'}) DETACH DELETE c", ['HeimdallOutboxSeq']);
  });

  it('refuses MATCH (n) DETACH DELETE n while entries exist, naming every label it would delete', async () => {
    const present = (await run("MATCH (n) UNWIND labels(n) AS l WITH DISTINCT l WHERE l IN ['HeimdallOutbox', 'HeimdallOutboxSeq', 'HeimdallOutboxFailed', 'HeimdallAudit'] RETURN l ORDER BY l")).records.map((r) => r.get('l') as string);
    assert.ok(present.includes('HeimdallOutbox') && present.includes('HeimdallOutboxSeq'));
    await refused('MATCH (n) DETACH DELETE n', present);
  });

  it('refuses a wrong key, set with tx.setMetaData or sent as metadata of the right length', async () => {
    await refused("CALL tx.setMetaData({heimdallKey: 'wrong-key-0123456789'}) WITH 1 AS one MATCH (o:HeimdallOutbox) SET o.seq = 0", ['HeimdallOutbox']);
    assert.equal(wrongKey().length, key.length);
    await refused('MATCH (o:HeimdallOutbox) SET o.seq = 0', ['HeimdallOutbox'], { heimdallKey: wrongKey() });
    await refused('MATCH (o:HeimdallOutbox) DELETE o', ['HeimdallOutbox'], { app: 'heimdall', outbox: 'ack', heimdallKey: wrongKey() });
  });

  it('allows creating an audit node, captures it like any other node, and refuses changing or deleting one', async () => {
    const before = await entries();
    await run('CREATE (:HeimdallAudit {x: 1, capTest: true})');
    const added = (await entries()).filter((e) => !before.some((b) => b.seq === e.seq));
    assert.equal(added.length, 1, 'the audit node is captured');
    const nc = JSON.parse(added[0]!.changes).nc as Array<{ l: string[]; p: Record<string, unknown> }>;
    assert.deepStrictEqual(nc.map((n) => ({ l: n.l, p: n.p })), [{ l: ['HeimdallAudit'], p: { x: 1, capTest: true } }]);
    await refused('MATCH (a:HeimdallAudit {capTest: true}) SET a.x = 2', ['HeimdallAudit']);
    await refused('MATCH (a:HeimdallAudit {capTest: true}) REMOVE a:HeimdallAudit', ['HeimdallAudit']);
    await refused('MATCH (a:HeimdallAudit {capTest: true}) DETACH DELETE a', ['HeimdallAudit']);
  });

  it('lets the same statements through with the right key, and writes no entry for them', async () => {
    const before = await entries();
    await run('MATCH (o:HeimdallOutbox) SET o.touched = true', {}, { heimdallKey: key });
    await run("MATCH (c:HeimdallOutboxSeq {name: 'outbox'}) SET c.touched = true", {}, { heimdallKey: key });
    await run('CALL tx.setMetaData({heimdallKey: $key}) WITH 1 AS one MATCH (a:HeimdallAudit {capTest: true}) SET a.touched = true', { key });
    const now = await entries();
    assert.deepStrictEqual(now.map((e) => e.seq), before.map((e) => e.seq), 'no entry written, none lost');
    const touched = await run('MATCH (n) WHERE n.touched RETURN count(n) AS n');
    assert.equal(num(touched.records[0]!.get('n')), before.length + 2, 'every entry, the counter and the audit node were changed');
    await run('MATCH (o:HeimdallOutbox) DELETE o', {}, { heimdallKey: key });
    assert.equal((await entries()).length, 0, 'and deleted');
  });
});

describe("the listener's heal (strict): an internal write that lowers the counter moves its epoch on", () => {
  it('lowering the value moves the epoch to a larger one, raising it keeps the epoch, and the next entry uses both', async () => {
    await useListener('strict');
    await reset();
    for (let i = 0; i < 6; i++) await run('CREATE (:Cap {k: $k})', { k: `h${i}` });
    const c0 = (await counter())!;
    assert.ok(c0.value >= 6);
    await internal("MATCH (c:HeimdallOutboxSeq {name: 'outbox'}) SET c.value = c.value - 5");
    const c1 = (await counter())!;
    assert.equal(c1.value, c0.value - 5);
    assert.ok(c1.epoch > c0.epoch, `epoch ${c1.epoch} > ${c0.epoch}`);
    await internal("MATCH (c:HeimdallOutboxSeq {name: 'outbox'}) SET c.value = c.value + 10");
    const c2 = (await counter())!;
    assert.equal(c2.value, c1.value + 10);
    assert.equal(c2.epoch, c1.epoch, 'raising does not move the epoch');
    await reset();
    await run("CREATE (:Cap {k: 'after-heal'})");
    const [e] = await entries();
    assert.equal(e!.seq, BigInt(c2.value + 1));
    assert.equal(e!.epoch, c2.epoch);
  });
});

describe('heimdall.capture.install, uninstall and status', () => {
  it('refuses an ordering other than relaxed or strict, and a key shorter than 16 characters, changing nothing', async () => {
    await useListener('strict');
    const before = await status();
    await assert.rejects(run("CALL heimdall.capture.install('sideways', $key)", { key }), (err: Error) => {
      assert.match(err.message, /needs the ordering 'relaxed' or 'strict', but got 'sideways'/);
      return true;
    });
    await assert.rejects(run("CALL heimdall.capture.install('relaxed', 'short')"), (err: Error) => {
      assert.match(err.message, /needs an internal key of 16 or more characters/);
      return true;
    });
    assert.deepStrictEqual(await status(), before);
  });

  it('status says what is installed', async () => {
    await run("CALL heimdall.capture.install('relaxed', $key)", { key });
    const s = await status();
    assert.match(String(s.version), /^\d+$/);
    assert.deepStrictEqual({ ...s, version: undefined }, { database: 'neo4j', running: true, installed: true, ordering: 'relaxed', key, version: undefined });
    await run("CALL heimdall.capture.install('strict', $key)", { key });
    assert.equal((await status()).ordering, 'strict');
  });

  it('after uninstall nothing is captured and status says not installed', async () => {
    await reset();
    await run("CREATE (:Cap {k: 'before-uninstall'})");
    assert.equal((await entries()).length, 1, 'installed: captured');
    const u = (await run('CALL heimdall.capture.uninstall()')).records[0]!.toObject();
    assert.equal(u.installed, false);
    await run("CREATE (:Cap {k: 'after-uninstall'})");
    await run("MATCH (n:Cap {k: 'before-uninstall'}) SET n.x = 1");
    assert.equal((await entries()).length, 1, 'uninstalled: nothing more captured');
    const s = await status();
    assert.deepStrictEqual({ installed: s.installed, ordering: s.ordering, key: s.key, running: s.running }, { installed: false, ordering: null, key: null, running: true });
  });
});
