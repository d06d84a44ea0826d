/**
 * Turns one outbox entry (one committed transaction, see outbox-trigger.ts for the `changes` shape)
 * into events: node.created, relationship.created, node.updated, relationship.updated,
 * relationship.deleted, node.deleted (in that order: a relationship's nodes exist before it and
 * outlive it), then one transaction.commit. Ids are `<database>:<epoch>:<seq>:<index>` and
 * `<database>:<epoch>:<seq>:commit`, taken from the entry alone, so a redelivered entry yields the same
 * ids; the epoch (the counter's, written into the entry by the trigger) changes whenever the sequence
 * could start again (install, reinstall, reset), so ids never repeat for different transactions.
 * A relaxed-mode seq is a clock reading, and two transactions can read the same nanosecond (1 in ~4,000
 * concurrent readings on a 2-core VM), so there `<seq>` is `<clock>.<n>`, n being the outbox node's own
 * number: transactions that read the same instant were open together, so their entry nodes were alive
 * together and have different numbers (Neo4j does not hand a freed id out while older transactions are open).
 *
 * Values: the trigger serialises with apoc.convert.toJson, so temporal values arrive as ISO strings,
 * points as `{crs, x, y, z}` / `{crs, latitude, longitude, height}`, byte arrays as arrays of numbers,
 * NaN/Infinity as strings; integers outside ±2^53 are turned into decimal strings here before
 * JSON.parse could round them.
 */
import { createHash } from 'node:crypto';
import type { DatabaseEvent, EventOrigin, EventType } from '../../../sdk/index.js';
import { RELAXED_SEQ_FLOOR } from './outbox-trigger.js';

export interface OutboxEntry {
  /** Element id of the outbox node (what the acknowledgement deletes). */
  elementId: string;
  /** Sequence number as a decimal string (relaxed-mode values exceed 2^53). */
  seq: string;
  /** The counter's epoch when the entry was written, as a decimal string ('0' for entries written before epochs existed). */
  epoch: string;
  /** Epoch ms at which the trigger ran, just before the commit. */
  committedAt: number;
  txMeta: string;
  changes: string;
}

type Props = Record<string, unknown>;
interface NodeState { i?: string; l: string[]; p: Props }
interface RelState { i?: string; t: string; s: string; e: string; p?: Props }
interface Changes {
  nc?: NodeState[];
  nd?: string[];
  nu?: Record<string, NodeState>;
  npa?: Array<[string, string, unknown, unknown]>;
  npr?: Array<[string, string, unknown]>;
  nla?: Array<[string, string]>;
  nlr?: Array<[string, string]>;
  rc?: RelState[];
  rd?: RelState[];
  ru?: Record<string, RelState>;
  rpa?: Array<[string, string, unknown, unknown]>;
  rpr?: Array<[string, string, unknown]>;
}

export interface TransactionCounts {
  nodesCreated: number;
  nodesUpdated: number;
  nodesDeleted: number;
  relationshipsCreated: number;
  relationshipsUpdated: number;
  relationshipsDeleted: number;
}

// An integer literal of 16+ digits that is not part of a decimal fraction or an exponent; strings are matched
// first so that digits inside them are skipped.
const TOKEN = /"(?:[^"\\]|\\.)*"|(?<![\d.eE+-])-?\d{16,}(?![\d.eE])/g;

/** JSON.parse that keeps integers beyond Number.MAX_SAFE_INTEGER exact, as decimal strings. */
export function parseOutboxJson(text: string): unknown {
  if (!/\d{16}/.test(text)) return JSON.parse(text);
  return JSON.parse(text.replace(TOKEN, (m) => (m.charCodeAt(0) === 34 || Number.isSafeInteger(Number(m)) ? m : `"${m}"`)));
}

/** metadata.origin for transactions the daemon ran (metadata app: 'heimdall'). */
export function originOf(tx: Record<string, unknown>): EventOrigin | undefined {
  if (tx['app'] !== 'heimdall') return undefined;
  const origin: EventOrigin = { plugin: typeof tx['plugin'] === 'string' ? tx['plugin'] : 'heimdall' };
  if (typeof tx['action'] === 'string') origin.action = tx['action'];
  if (typeof tx['invocationId'] === 'string') origin.invocationId = tx['invocationId'];
  return origin;
}

/** The numeric tail of an element id ("4:<db uuid>:123" → 123): creation order unless ids were reused. */
function idNumber(id: string | undefined): number {
  const n = Number(id?.slice(id.lastIndexOf(':') + 1));
  return Number.isFinite(n) ? n : 0;
}

/** Entries sorted by the numeric tail of their element id: a deterministic order (ids stay stable on redelivery). */
function byId<T extends { i?: string }>(list: T[] | undefined): T[] {
  return (list ?? []).slice().sort((a, b) => idNumber(a.i) - idNumber(b.i));
}

function group<T extends unknown[]>(rows: T[] | undefined): Map<string, T[]> {
  const m = new Map<string, T[]>();
  for (const r of rows ?? []) {
    const id = r[0] as string;
    const list = m.get(id);
    if (list) list.push(r);
    else m.set(id, [r]);
  }
  return m;
}

/** Properties before the transaction: the current ones with assigned keys reverted and removed keys restored. */
function oldProps(current: Props, assigned: Array<[string, string, unknown, unknown]> | undefined, removed: Array<[string, string, unknown]> | undefined): Props {
  const old: Props = { ...current };
  for (const [, k, before] of assigned ?? []) {
    if (before === null || before === undefined) delete old[k];
    else old[k] = before;
  }
  for (const [, k, before] of removed ?? []) old[k] = before;
  return old;
}

function propsOf(rows: Array<[string, string, unknown]> | undefined): Props {
  const p: Props = {};
  for (const [, k, v] of rows ?? []) p[k] = v;
  return p;
}

/** The `<seq>` part of an entry's ids (see the top of this file). */
export function idSeq(entry: Pick<OutboxEntry, 'seq' | 'elementId'>): string {
  if (!/^\d+$/.test(entry.seq) || BigInt(entry.seq) < BigInt(RELAXED_SEQ_FLOOR)) return entry.seq;
  const last = entry.elementId.slice(entry.elementId.lastIndexOf(':') + 1);
  // an element id not of the form `<kind>:<database id>:<number>` gives a stable short hash of itself
  return `${entry.seq}.${/^\d+$/.test(last) ? last : createHash('sha1').update(entry.elementId).digest('hex').slice(0, 8)}`;
}

/** The events of one outbox entry; throws when its JSON is malformed. */
export function entryEvents(entry: OutboxEntry, database: string, source = 'neo4j-apoc'): DatabaseEvent[] {
  const ch = parseOutboxJson(entry.changes) as Changes;
  const tx = (entry.txMeta ? parseOutboxJson(entry.txMeta) : {}) as Record<string, unknown>;
  const origin = originOf(tx);
  const timestamp = new Date(entry.committedAt).toISOString();
  const txId = `${entry.epoch}:${idSeq(entry)}`;
  const events: DatabaseEvent[] = [];
  const base = (type: EventType, extra: Record<string, unknown> = {}): DatabaseEvent => ({
    id: `${database}:${txId}:${events.length}`,
    type,
    timestamp,
    database,
    source,
    txId,
    metadata: { tx, ...(origin ? { origin } : {}), seq: entry.seq, epoch: entry.epoch, ...extra },
  });
  const npa = group(ch.npa);
  const npr = group(ch.npr);
  const nla = group(ch.nla);
  const nlr = group(ch.nlr);
  const rpa = group(ch.rpa);
  const rpr = group(ch.rpr);
  const counts: TransactionCounts = { nodesCreated: 0, nodesUpdated: 0, nodesDeleted: 0, relationshipsCreated: 0, relationshipsUpdated: 0, relationshipsDeleted: 0 };

  for (const n of byId(ch.nc)) {
    events.push({ ...base('node.created'), nodeId: n.i!, nodeLabels: n.l, properties: n.p });
    counts.nodesCreated++;
  }
  for (const r of byId(ch.rc)) {
    events.push({ ...base('relationship.created'), relationshipId: r.i!, relationshipType: r.t, sourceNodeId: r.s, targetNodeId: r.e, properties: r.p ?? {} });
    counts.relationshipsCreated++;
  }
  for (const [id, n] of Object.entries(ch.nu ?? {})) {
    const added = (nla.get(id) ?? []).map((x) => x[1]);
    const removed = (nlr.get(id) ?? []).map((x) => x[1]);
    const keys = [...(npa.get(id) ?? []), ...(npr.get(id) ?? [])].map((x) => x[1]);
    const extra = { changedKeys: keys, ...(added.length ? { labelsAdded: added } : {}), ...(removed.length ? { labelsRemoved: removed } : {}) };
    events.push({ ...base('node.updated', extra), nodeId: id, nodeLabels: n.l, properties: n.p, oldProperties: oldProps(n.p, npa.get(id), npr.get(id)) });
    counts.nodesUpdated++;
  }
  for (const [id, r] of Object.entries(ch.ru ?? {})) {
    const keys = [...(rpa.get(id) ?? []), ...(rpr.get(id) ?? [])].map((x) => x[1]);
    const p = r.p ?? {};
    events.push({ ...base('relationship.updated', { changedKeys: keys }), relationshipId: id, relationshipType: r.t, sourceNodeId: r.s, targetNodeId: r.e, properties: p, oldProperties: oldProps(p, rpa.get(id), rpr.get(id)) });
    counts.relationshipsUpdated++;
  }
  for (const r of byId(ch.rd)) {
    events.push({ ...base('relationship.deleted'), relationshipId: r.i!, relationshipType: r.t, sourceNodeId: r.s, targetNodeId: r.e, oldProperties: propsOf(rpr.get(r.i!)) });
    counts.relationshipsDeleted++;
  }
  for (const id of byId((ch.nd ?? []).map((i) => ({ i }))).map((x) => x.i)) {
    events.push({ ...base('node.deleted'), nodeId: id, nodeLabels: (nlr.get(id) ?? []).map((x) => x[1]), oldProperties: propsOf(npr.get(id)) });
    counts.nodesDeleted++;
  }
  const rows = events.length;
  events.push({ ...base('transaction.commit', { counts }), id: `${database}:${txId}:commit`, rowsAffected: rows });
  return events;
}

export interface DecodedEntries<E extends OutboxEntry> {
  /** The events of every entry that could be read, entry after entry. */
  events: DatabaseEvent[];
  /** Those entries (acknowledge them once their events are delivered). */
  decoded: E[];
  /** Entries whose JSON could not be read, with why. */
  failed: Array<{ entry: E; reason: string }>;
}

/** The events of a batch of entries; an entry that cannot be read is set aside in `failed` instead of failing the batch. */
export function decodeEntries<E extends OutboxEntry>(entries: readonly E[], database: string, source = 'neo4j-apoc'): DecodedEntries<E> {
  const out: DecodedEntries<E> = { events: [], decoded: [], failed: [] };
  for (const entry of entries) {
    let events: DatabaseEvent[];
    try {
      events = entryEvents(entry, database, source);
    } catch (err) {
      out.failed.push({ entry, reason: (err as Error).message });
      continue;
    }
    for (const ev of events) out.events.push(ev);
    out.decoded.push(entry);
  }
  return out;
}
