/**
 * The outbox of one database, and every statement Heimdall runs against it: install, uninstall and
 * status (the range index on (:HeimdallOutbox).seq, the strict-mode counter with its uniqueness
 * constraint, and the `before`-phase APOC trigger of outbox-trigger.ts), and for delivery read, ack,
 * dead-letter and backlog. Everything runs through Database.run (routing, timeout, transaction
 * metadata, database name); Heimdall's own writes carry ACK_METADATA so the trigger ignores them.
 *
 * Installing is idempotent: twice changes nothing, the other ordering mode replaces the trigger
 * statement. APOC keeps triggers in the system database and each database loads them on its next
 * refresh (apoc.trigger.refresh, 60 s by default), so install and uninstall wait until the database
 * has (un)loaded the trigger; changes committed before that are not captured.
 */
import neo4j from 'neo4j-driver';
import type { Database, RunOptions } from '../../db/database.js';
import { explainOutboxError } from './outbox-errors.js';
import {
  ACK_METADATA,
  COUNTER_CONSTRAINT,
  COUNTER_LABEL,
  COUNTER_NAME,
  FAILED_LABEL,
  OUTBOX_LABEL,
  RELAXED_SEQ_FLOOR,
  SEQ_INDEX,
  TRIGGER_NAME,
  orderingOf,
  triggerStatement,
  type Ordering,
} from './outbox-trigger.js';
import type { InstallOptions, InstallResult, LoadedTrigger, OutboxStatus, OutboxStoreOptions, ReadRequest, ReadResult, StoredEntry, UninstallOptions, UninstallResult } from './outbox-store-types.js';

export type * from './outbox-store-types.js';

/** What the store needs of the database router. */
export type OutboxDatabase = Pick<Database, 'run'>;

/**
 * Most entry text (the `bytes` property: changes + txMeta) one read or one ack handles, unless a single
 * entry is larger. Deleting a node makes Neo4j hold its property values in the transaction, so an unbounded
 * batch of entries from huge transactions would exhaust db.memory.transaction.total.max (or the daemon's heap).
 */
export const MAX_BATCH_BYTES = 16 * 1024 * 1024;

/**
 * Entries of the outbox in seq order (at most $limit), cut to the prefix whose entry text starts within
 * $maxBytes (so at least one entry, and at most $maxBytes plus one entry).
 */
const PREFIX =
  `MATCH (o:${OUTBOX_LABEL}) WHERE o.seq IS NOT NULL WITH o ORDER BY o.seq LIMIT $limit ` +
  'WITH collect(o) AS os WITH os, [o IN os | coalesce(o.bytes, size(o.changes) + size(o.txMeta), 0)] AS sizes ' +
  'WITH os, sizes, apoc.coll.runningTotal(sizes) AS upto ' +
  'UNWIND range(0, size(os) - 1) AS i WITH os[i] AS o, i, upto[i] - sizes[i] AS offset WHERE offset < $maxBytes OR i = 0 ';

const READ =
  `${PREFIX}WITH o, elementId(o) AS id, $skip[elementId(o)] IS NOT NULL AS skip ` +
  'RETURN id, skip, o.seq AS seq, o.committedAt AS at, CASE WHEN skip THEN null ELSE o.txMeta END AS meta, ' +
  'CASE WHEN skip THEN null ELSE o.changes END AS changes, coalesce(o.bytes, size(o.changes) + size(o.txMeta), 0) AS bytes';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const num = (v: unknown): number => (v === null || v === undefined ? 0 : Number(v));

export class OutboxStore {
  readonly database: string;
  readonly maxBatchBytes: number;
  private readonly timeoutMs: number;

  constructor(
    private readonly db: OutboxDatabase,
    opts: OutboxStoreOptions,
  ) {
    this.database = opts.database;
    this.maxBatchBytes = opts.maxBatchBytes ?? MAX_BATCH_BYTES;
    this.timeoutMs = opts.timeoutMs ?? 30_000;
  }

  // ---- delivery ----------------------------------------------------------------------------------

  /** The next entries in seq order, bounded by `limit` and by maxBatchBytes of entry text. */
  async read(req: ReadRequest): Promise<ReadResult> {
    const pending = req.pending ?? { ids: new Set<string>(), bytes: 0 };
    const rows = await this.delivery('read', READ, {
      limit: neo4j.int(req.limit + pending.ids.size),
      maxBytes: neo4j.int(this.maxBatchBytes + pending.bytes),
      skip: Object.fromEntries([...pending.ids].map((id) => [id, true])),
    });
    // The bound in the query counts the pending entries too (one may just have been acked): apply it to the new ones here.
    const entries: StoredEntry[] = [];
    let bytes = 0;
    for (const r of rows) {
      if (r['skip']) continue;
      if (entries.length > 0 && bytes >= this.maxBatchBytes) break;
      const entry: StoredEntry = {
        elementId: r['id'] as string,
        seq: String(r['seq']),
        committedAt: num(r['at']),
        txMeta: (r['meta'] as string | null) ?? '{}',
        changes: (r['changes'] as string | null) ?? '{}',
        bytes: num(r['bytes']),
      };
      entries.push(entry);
      bytes += entry.bytes;
    }
    const returnedBytes = rows.reduce((a, r) => a + num(r['bytes']), 0);
    const full = entries.length >= req.limit || returnedBytes >= this.maxBatchBytes + pending.bytes || bytes >= this.maxBatchBytes;
    return { entries, full };
  }

  /** Deletes these entries (in transactions of at most maxBatchBytes of entry text); resolves with how many were still there. */
  async ack(entries: ReadonlyArray<Pick<StoredEntry, 'elementId' | 'bytes'>>): Promise<number> {
    let deleted = 0;
    for (let i = 0; i < entries.length; ) {
      let n = 0;
      let bytes = 0;
      while (i + n < entries.length && (n === 0 || bytes + entries[i + n]!.bytes <= this.maxBatchBytes)) bytes += entries[i + n++]!.bytes;
      const ids = entries.slice(i, i + n).map((e) => e.elementId);
      const rows = await this.delivery('write', `UNWIND $ids AS id MATCH (o:${OUTBOX_LABEL}) WHERE elementId(o) = id DELETE o RETURN count(o) AS n`, { ids });
      deleted += num(rows[0]?.['n']);
      i += n;
    }
    return deleted;
  }

  /** Relabels entries that cannot be decoded to (:HeimdallOutboxFailed {failure, failedAt}); resolves with how many were relabelled. */
  async deadLetter(entries: ReadonlyArray<{ elementId: string; reason: string }>): Promise<number> {
    if (entries.length === 0) return 0;
    const rows = await this.delivery(
      'write',
      `UNWIND $rows AS row MATCH (o:${OUTBOX_LABEL}) WHERE elementId(o) = row.id ` +
        `REMOVE o:${OUTBOX_LABEL} SET o:${FAILED_LABEL}, o.failure = row.reason, o.failedAt = timestamp() RETURN count(o) AS n`,
      { rows: entries.map((e) => ({ id: e.elementId, reason: e.reason })) },
    );
    return num(rows[0]?.['n']);
  }

  /** Undelivered entries (transactions); Neo4j answers a label count from its count store. */
  async backlog(): Promise<number> {
    const rows = await this.delivery('read', `MATCH (o:${OUTBOX_LABEL}) RETURN count(o) AS n`, {});
    return num(rows[0]?.['n']);
  }

  /** The trigger as the captured database runs it now (apoc.trigger.list), or undefined when it runs none of ours. */
  async loadedTrigger(): Promise<LoadedTrigger | undefined> {
    const rows = await this.delivery('read', 'CALL apoc.trigger.list() YIELD name, query, paused WHERE name = $name RETURN query, paused', { name: TRIGGER_NAME });
    const r = rows[0];
    if (!r) return undefined;
    const query = r['query'] as string;
    return { query, paused: Boolean(r['paused']), ordering: orderingOf(query) };
  }

  // ---- lifecycle ---------------------------------------------------------------------------------

  /** Creates the index, constraint, counter and trigger (or brings them up to date), and waits for the trigger to load. */
  async install(opts: InstallOptions = {}): Promise<InstallResult> {
    const { database } = this;
    const ordering: Ordering = opts.ordering ?? 'strict';
    const waitMs = opts.waitMs ?? 90_000;
    const log = opts.log ?? (() => {});
    const statement = triggerStatement(ordering);
    try {
      if ((await this.apocVersion()) === null) throw new Error("Unknown function 'apoc.version'");
      await this.admin('write', `CREATE CONSTRAINT ${COUNTER_CONSTRAINT} IF NOT EXISTS FOR (c:${COUNTER_LABEL}) REQUIRE c.name IS UNIQUE`);
      await this.admin('write', `CREATE RANGE INDEX ${SEQ_INDEX} IF NOT EXISTS FOR (o:${OUTBOX_LABEL}) ON (o.seq)`);
      await this.admin('write', 'CALL db.awaitIndexes(300)');
      // A counter that went missing while no trigger ran continues after the highest strict seq still in the outbox.
      const counter = await this.admin(
        'write',
        `OPTIONAL MATCH (o:${OUTBOX_LABEL}) WHERE o.seq < $floor WITH max(o.seq) AS m ` +
          `MERGE (c:${COUNTER_LABEL} {name: $name}) ON CREATE SET c.value = coalesce(m, 0) RETURN c.value AS value`,
        { floor: neo4j.int(RELAXED_SEQ_FLOOR), name: COUNTER_NAME },
      );
      const stored = await this.storedTrigger();
      let trigger: InstallResult['trigger'] = 'unchanged';
      if (!stored || stored.query !== statement) {
        await this.system('write', "CALL apoc.trigger.install($db, $name, $statement, {phase: 'before'}) YIELD name RETURN name", { statement });
        trigger = stored ? 'updated' : 'created';
        log(`${stored ? 'Updated' : 'Stored'} the APOC trigger ${TRIGGER_NAME} for the database ${database} (${ordering} ordering).`);
      }
      if (stored?.paused) {
        await this.system('write', 'CALL apoc.trigger.start($db, $name)');
        log(`Resumed the paused APOC trigger ${TRIGGER_NAME} of the database ${database}.`);
      }
      let loaded = await this.waitLoaded(statement, Math.min(waitMs, 1000)); // waitMs 0: look once
      if (!loaded && waitMs > 1000) {
        log(`Waiting up to ${Math.round(waitMs / 1000)} s for the database ${database} to load the trigger (APOC loads stored triggers every apoc.trigger.refresh ms, 60000 by default).`);
        loaded = await this.waitLoaded(statement, waitMs - 1000);
      }
      return { database, ordering, trigger, loaded, counter: (counter[0]?.['value'] as number | string | undefined) ?? 0 };
    } catch (err) {
      throw explainOutboxError(err, database, 'install the outbox');
    }
  }

  /** Drops the trigger; deletes the counter, index and constraint when no undelivered entry is left (or purge). */
  async uninstall(opts: UninstallOptions = {}): Promise<UninstallResult> {
    const { database } = this;
    const log = opts.log ?? (() => {});
    try {
      const stored = await this.storedTrigger();
      if (stored) {
        await this.system('write', 'CALL apoc.trigger.drop($db, $name)');
        log(`Dropped the APOC trigger ${TRIGGER_NAME} of the database ${database}.`);
      }
      const unloaded = await this.waitLoaded(undefined, opts.waitMs ?? 90_000);
      let entriesDeleted = 0;
      if (opts.purge) {
        for (;;) {
          const rows = await this.admin('write', `${PREFIX}DELETE o RETURN count(*) AS n`, { limit: neo4j.int(10_000), maxBytes: neo4j.int(this.maxBatchBytes) });
          const n = num(rows[0]?.['n']);
          entriesDeleted += n;
          if (n === 0) break;
        }
      }
      const entriesKept = num((await this.admin('read', `MATCH (o:${OUTBOX_LABEL}) RETURN count(o) AS n`))[0]?.['n']);
      let schemaDropped = false;
      if (entriesKept === 0) {
        await this.admin('write', `MATCH (c:${COUNTER_LABEL}) DELETE c`);
        await this.admin('write', `DROP CONSTRAINT ${COUNTER_CONSTRAINT} IF EXISTS`);
        await this.admin('write', `DROP INDEX ${SEQ_INDEX} IF EXISTS`);
        schemaDropped = true;
      } else {
        log(`Kept ${entriesKept} undelivered outbox entries (and the counter and index) in the database ${database}; a later install delivers them, and --purge deletes them.`);
      }
      return { database, triggerDropped: stored !== undefined, unloaded, entriesDeleted, entriesKept, schemaDropped };
    } catch (err) {
      throw explainOutboxError(err, database, 'uninstall the outbox');
    }
  }

  /** What is in place, read-only. */
  async status(): Promise<OutboxStatus> {
    const { database } = this;
    try {
      const apoc = await this.apocVersion();
      const stored = apoc === null ? undefined : await this.storedTrigger();
      const loaded = apoc === null ? undefined : await this.loadedTrigger();
      // By what they cover, not by name: an equivalent index or constraint made under another name does the job
      // (and makes CREATE … IF NOT EXISTS a no-op).
      const schema = await this.admin(
        'read',
        "SHOW INDEXES YIELD type, labelsOrTypes, properties, owningConstraint, state WHERE state = 'ONLINE' AND type = 'RANGE' " +
          'RETURN labelsOrTypes[0] AS label, properties, owningConstraint IS NOT NULL AS unique',
      );
      const covers = (label: string, prop: string, unique: boolean): boolean =>
        schema.some((r) => r['label'] === label && (r['properties'] as string[]).length === 1 && (r['properties'] as string[])[0] === prop && (!unique || r['unique'] === true));
      const [row] = await this.admin(
        'read',
        `OPTIONAL MATCH (c:${COUNTER_LABEL} {name: $name}) WITH c.value AS counter ` +
          `OPTIONAL MATCH (o:${OUTBOX_LABEL}) RETURN counter, count(o) AS backlog, min(o.committedAt) AS oldest`,
        { name: COUNTER_NAME },
      );
      const oldest = row?.['oldest'] as number | null | undefined;
      const ordering = stored ? (orderingOf(stored.query) ?? 'unknown') : null;
      const current = stored !== undefined && ordering !== 'unknown' && loaded?.query === stored.query;
      const status: OutboxStatus = {
        database,
        apocVersion: apoc,
        trigger: { stored: stored !== undefined, loaded: loaded !== undefined, paused: Boolean(stored?.paused || loaded?.paused), ordering },
        seqIndex: covers(OUTBOX_LABEL, 'seq', false),
        counterConstraint: covers(COUNTER_LABEL, 'name', true),
        counter: (row?.['counter'] as number | string | null | undefined) ?? null,
        backlog: num(row?.['backlog']),
        oldestCommittedAt: oldest === null || oldest === undefined ? null : new Date(Number(oldest)).toISOString(),
        installed: false,
      };
      status.installed = current && !status.trigger.paused && status.seqIndex && status.counterConstraint && status.counter !== null;
      return status;
    } catch (err) {
      throw explainOutboxError(err, database, 'read the outbox status');
    }
  }

  // ---- statements --------------------------------------------------------------------------------

  /** A delivery statement: bounded by timeoutMs; writes carry ACK_METADATA. */
  private async delivery(mode: RunOptions['mode'], cypher: string, params: Record<string, unknown>): Promise<Array<Record<string, unknown>>> {
    const metadata = { outbox: mode === 'write' ? ACK_METADATA.outbox : 'read' };
    return (await this.db.run(cypher, params, { database: this.database, mode, timeoutMs: this.timeoutMs, metadata })).rows;
  }

  /** An install/uninstall/status statement in the captured database: no timeout (index creation may take long). */
  private async admin(mode: RunOptions['mode'], cypher: string, params: Record<string, unknown> = {}): Promise<Array<Record<string, unknown>>> {
    const metadata = { outbox: mode === 'write' ? ACK_METADATA.outbox : 'status' };
    return (await this.db.run(cypher, params, { database: this.database, mode, timeoutMs: null, metadata })).rows;
  }

  /** A trigger procedure in the system database, where APOC stores triggers; $db and $name are this outbox's. */
  private async system(mode: RunOptions['mode'], cypher: string, params: Record<string, unknown> = {}): Promise<Array<Record<string, unknown>>> {
    const metadata = { outbox: 'trigger' };
    return (await this.db.run(cypher, { db: this.database, name: TRIGGER_NAME, ...params }, { database: 'system', mode, timeoutMs: null, metadata })).rows;
  }

  private async storedTrigger(): Promise<{ query: string; paused: boolean } | undefined> {
    // The system database takes only CALL … YIELD … RETURN (no WHERE), so the trigger is picked here.
    const rows = await this.system('read', 'CALL apoc.trigger.show($db) YIELD name, query, paused RETURN name, query, paused');
    const r = rows.find((x) => x['name'] === TRIGGER_NAME);
    return r ? { query: r['query'] as string, paused: Boolean(r['paused']) } : undefined;
  }

  /**
   * Waits until the database runs `query`, not paused (a trigger just resumed stays paused in the database until
   * its next refresh), or, with query undefined, until it runs no trigger of ours.
   */
  private async waitLoaded(query: string | undefined, waitMs: number): Promise<boolean> {
    const deadline = Date.now() + waitMs;
    for (;;) {
      const t = await this.loadedTrigger();
      if (query === undefined ? t === undefined : t?.query === query && !t.paused) return true;
      if (Date.now() >= deadline) return false;
      await sleep(50);
    }
  }

  private async apocVersion(): Promise<string | null> {
    try {
      return ((await this.admin('read', 'RETURN apoc.version() AS v'))[0]?.['v'] as string | undefined) ?? null;
    } catch (err) {
      if (/Unknown function 'apoc\.version'/i.test((err as Error).message)) return null; // the router keeps the driver's message
      throw err;
    }
  }
}
