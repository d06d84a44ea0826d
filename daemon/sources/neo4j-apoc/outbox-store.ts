/**
 * Installs, removes and inspects the neo4j-apoc source's transactional outbox in one database:
 * the range index on (:HeimdallOutbox).seq, the uniqueness constraint and node of the strict-mode
 * counter, and the `before`-phase APOC trigger that writes one outbox entry per transaction
 * (daemon/sources/outbox-trigger.ts). Every step is idempotent: installing twice changes nothing,
 * installing with the other ordering mode replaces the trigger statement.
 *
 * APOC keeps triggers in the system database and each database loads them on its next refresh
 * (apoc.trigger.refresh, 60 s by default), so install and uninstall wait until the database has
 * (un)loaded the trigger; changes committed before that are not captured.
 */
import neo4j, { type Driver } from 'neo4j-driver';
import {
  ACK_METADATA,
  COUNTER_CONSTRAINT,
  COUNTER_LABEL,
  COUNTER_NAME,
  MAX_BATCH_BYTES,
  OUTBOX_LABEL,
  OUTBOX_PREFIX,
  RELAXED_SEQ_FLOOR,
  SEQ_INDEX,
  TRIGGER_NAME,
  orderingOf,
  triggerStatement,
  type Ordering,
} from '../sources/outbox-trigger.js';

export interface InstallOutboxOptions {
  /** The logical database whose changes are captured. */
  database: string;
  /** Default strict. */
  ordering?: Ordering;
  /** How long to wait for the database to load the trigger, ms. Default 90000 (APOC's default refresh is 60 s). 0: look once, do not wait. */
  waitMs?: number;
  /** Progress lines (full sentences). */
  log?: (line: string) => void;
}

export interface InstallOutboxResult {
  database: string;
  ordering: Ordering;
  /** What happened to the stored trigger statement. */
  trigger: 'created' | 'updated' | 'unchanged';
  /** The database has loaded the current statement (changes are captured from now on). */
  loaded: boolean;
  /** Current value of the strict-mode counter. */
  counter: number | string;
}

export interface UninstallOutboxOptions {
  database: string;
  /** Also delete entries that were not delivered yet. Default false: they are kept, with the counter and index, for a later install. */
  purge?: boolean;
  waitMs?: number;
  log?: (line: string) => void;
}

export interface UninstallOutboxResult {
  database: string;
  triggerDropped: boolean;
  /** The database no longer runs the trigger. */
  unloaded: boolean;
  entriesDeleted: number;
  /** Undelivered entries left in place (purge: false). */
  entriesKept: number;
  schemaDropped: boolean;
}

export interface OutboxStatus {
  database: string;
  apocVersion: string | null;
  trigger: {
    /** Stored in the system database. */
    stored: boolean;
    /** Loaded by the database (apoc.trigger.list). */
    loaded: boolean;
    paused: boolean;
    /** The mode of the stored statement; 'unknown' when it is not one this build writes (an older or edited one). */
    ordering: Ordering | 'unknown' | null;
  };
  seqIndex: boolean;
  counterConstraint: boolean;
  counter: number | string | null;
  /** Outbox entries not yet delivered and acknowledged. */
  backlog: number;
  oldestCommittedAt: string | null;
  /** Everything is in place and current. */
  installed: boolean;
}

/** An outbox operation failed for a reason an operator can fix; `message` says what to do. */
export class OutboxInstallError extends Error {
  constructor(message: string, readonly neo4jCode?: string) {
    super(message);
    this.name = 'OutboxInstallError';
  }
}

const plain = (v: unknown): number | string | null => (v === null || v === undefined ? null : neo4j.isInt(v) ? ((v as neo4j.Integer).inSafeRange() ? (v as neo4j.Integer).toNumber() : v.toString()) : (v as number));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Turns driver errors of outbox operations into sentences that name the fix. */
export function explainOutboxError(err: unknown, database: string, what: string): OutboxInstallError {
  if (err instanceof OutboxInstallError) return err;
  const e = err as Error & { code?: string };
  const code = e?.code ?? '';
  const msg = (e?.message ?? String(err)).replace(/\s*\n\s*/g, ' ').trim();
  if (/Unknown function 'apoc\.|There is no procedure with the name `apoc\./i.test(msg)) {
    return new OutboxInstallError(`APOC Core is not available in the database ${database} (${msg}); the outbox needs APOC Core of the same version as Neo4j in its plugins folder.`, code);
  }
  if (/Triggers have not been enabled|apoc\.trigger\.enabled/i.test(msg)) {
    return new OutboxInstallError(`APOC triggers are disabled; set apoc.trigger.enabled=true in Neo4j's apoc.conf and restart Neo4j, then ${what} again.`, code);
  }
  if (code === 'Neo.ClientError.Security.Forbidden' || /permission|not allowed|access denied/i.test(msg)) {
    return new OutboxInstallError(`The database user may not ${what} (${msg}); installing APOC triggers needs an admin user (they are stored in the system database).`, code);
  }
  if (code === 'Neo.ClientError.Security.Unauthorized') {
    return new OutboxInstallError(`Neo4j refused the credentials (${msg}); check database.user and database.password.`, code);
  }
  if (code === 'ServiceUnavailable' || code === 'SessionExpired' || /ECONNREFUSED|Could not perform discovery|Failed to connect|Connection was closed/i.test(msg)) {
    const cause = /Caused by: (.*)$/.exec(msg)?.[1] ?? msg;
    return new OutboxInstallError(`Neo4j is not reachable (${cause}); check database.uri and that Neo4j is running.`, code);
  }
  if (code === 'Neo.ClientError.Database.DatabaseNotFound') {
    return new OutboxInstallError(`The database ${database} does not exist (${msg}); check database.database.`, code);
  }
  return new OutboxInstallError(`Could not ${what} in the database ${database}: ${code ? `${code}: ` : ''}${msg}`, code);
}

interface StoredTrigger {
  query: string;
  paused: boolean;
}

async function storedTrigger(driver: Driver, database: string): Promise<StoredTrigger | undefined> {
  // The system database takes only CALL … YIELD … RETURN (no WHERE), so the trigger is picked here.
  const { records } = await driver.executeQuery('CALL apoc.trigger.show($db) YIELD name, query, paused RETURN name, query, paused', { db: database }, { database: 'system', routing: neo4j.routing.READ });
  const r = records.find((x) => x.get('name') === TRIGGER_NAME);
  return r ? { query: r.get('query') as string, paused: Boolean(r.get('paused')) } : undefined;
}

async function loadedTrigger(driver: Driver, database: string): Promise<StoredTrigger | undefined> {
  const { records } = await driver.executeQuery('CALL apoc.trigger.list() YIELD name, query, paused WHERE name = $name RETURN query, paused', { name: TRIGGER_NAME }, { database, routing: neo4j.routing.READ });
  const r = records[0];
  return r ? { query: r.get('query') as string, paused: Boolean(r.get('paused')) } : undefined;
}

/** Waits until the database has loaded `query` (or, with query undefined, no trigger of ours). */
async function waitLoaded(driver: Driver, database: string, query: string | undefined, waitMs: number): Promise<boolean> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    const t = await loadedTrigger(driver, database);
    if (query === undefined ? t === undefined : t?.query === query) return true;
    if (Date.now() >= deadline) return false;
    await sleep(50);
  }
}

async function apocVersion(driver: Driver, database: string): Promise<string | null> {
  try {
    const { records } = await driver.executeQuery('RETURN apoc.version() AS v', {}, { database, routing: neo4j.routing.READ });
    return (records[0]?.get('v') as string) ?? null;
  } catch (err) {
    if (/Unknown function 'apoc\.version'/i.test((err as Error).message)) return null;
    throw err;
  }
}

/** Creates the index, constraint, counter and trigger (or brings them up to date). Idempotent. */
export async function installOutbox(driver: Driver, opts: InstallOutboxOptions): Promise<InstallOutboxResult> {
  const { database } = opts;
  const ordering = opts.ordering ?? 'strict';
  const waitMs = opts.waitMs ?? 90_000;
  const log = opts.log ?? (() => {});
  const statement = triggerStatement(ordering);
  try {
    if ((await apocVersion(driver, database)) === null) throw new Error("Unknown function 'apoc.version'");
    const tx = { database, transactionConfig: { metadata: { ...ACK_METADATA } } };
    await driver.executeQuery(`CREATE CONSTRAINT ${COUNTER_CONSTRAINT} IF NOT EXISTS FOR (c:${COUNTER_LABEL}) REQUIRE c.name IS UNIQUE`, {}, tx);
    await driver.executeQuery(`CREATE RANGE INDEX ${SEQ_INDEX} IF NOT EXISTS FOR (o:${OUTBOX_LABEL}) ON (o.seq)`, {}, tx);
    await driver.executeQuery('CALL db.awaitIndexes(300)', {}, { database });
    // A counter that went missing while no trigger ran continues after the highest strict seq still in the outbox.
    const counter = await driver.executeQuery(
      `OPTIONAL MATCH (o:${OUTBOX_LABEL}) WHERE o.seq < $floor WITH max(o.seq) AS m ` +
        `MERGE (c:${COUNTER_LABEL} {name: $name}) ON CREATE SET c.value = coalesce(m, 0) RETURN c.value AS value`,
      { floor: neo4j.int(RELAXED_SEQ_FLOOR), name: COUNTER_NAME },
      tx,
    );
    const stored = await storedTrigger(driver, database);
    let trigger: InstallOutboxResult['trigger'] = 'unchanged';
    if (!stored || stored.query !== statement) {
      await driver.executeQuery("CALL apoc.trigger.install($db, $name, $statement, {phase: 'before'}) YIELD name RETURN name", { db: database, name: TRIGGER_NAME, statement }, { database: 'system' });
      trigger = stored ? 'updated' : 'created';
      log(`${stored ? 'Updated' : 'Stored'} the APOC trigger ${TRIGGER_NAME} for the database ${database} (${ordering} ordering).`);
    }
    if (stored?.paused) {
      await driver.executeQuery('CALL apoc.trigger.start($db, $name)', { db: database, name: TRIGGER_NAME }, { database: 'system' });
      log(`Resumed the paused APOC trigger ${TRIGGER_NAME} of the database ${database}.`);
    }
    let loaded = await waitLoaded(driver, database, statement, Math.min(waitMs, 1000)); // waitMs 0: look once
    if (!loaded && waitMs > 1000) {
      log(`Waiting up to ${Math.round(waitMs / 1000)} s for the database ${database} to load the trigger (APOC loads stored triggers every apoc.trigger.refresh ms, 60000 by default).`);
      loaded = await waitLoaded(driver, database, statement, waitMs - 1000);
    }
    const paused = (await loadedTrigger(driver, database))?.paused ?? false;
    if (paused) loaded = false;
    return { database, ordering, trigger, loaded, counter: plain(counter.records[0]?.get('value')) ?? 0 };
  } catch (err) {
    throw explainOutboxError(err, database, 'install the outbox');
  }
}

/** Drops the trigger; deletes the counter, index and constraint when no undelivered entry is left (or purge). */
export async function uninstallOutbox(driver: Driver, opts: UninstallOutboxOptions): Promise<UninstallOutboxResult> {
  const { database } = opts;
  const log = opts.log ?? (() => {});
  const tx = { database, transactionConfig: { metadata: { ...ACK_METADATA } } };
  try {
    const stored = await storedTrigger(driver, database);
    if (stored) {
      await driver.executeQuery('CALL apoc.trigger.drop($db, $name)', { db: database, name: TRIGGER_NAME }, { database: 'system' });
      log(`Dropped the APOC trigger ${TRIGGER_NAME} of the database ${database}.`);
    }
    const unloaded = await waitLoaded(driver, database, undefined, opts.waitMs ?? 90_000);
    let entriesDeleted = 0;
    if (opts.purge) {
      for (;;) {
        const res = await driver.executeQuery(`${OUTBOX_PREFIX}DELETE o RETURN count(*) AS n`, { limit: neo4j.int(10_000), maxBytes: neo4j.int(MAX_BATCH_BYTES) }, tx);
        const n = Number(plain(res.records[0]?.get('n')) ?? 0);
        entriesDeleted += n;
        if (n === 0) break;
      }
    }
    const left = await driver.executeQuery(`MATCH (o:${OUTBOX_LABEL}) RETURN count(o) AS n`, {}, { database, routing: neo4j.routing.READ });
    const entriesKept = Number(plain(left.records[0]?.get('n')) ?? 0);
    let schemaDropped = false;
    if (entriesKept === 0) {
      await driver.executeQuery(`MATCH (c:${COUNTER_LABEL}) DELETE c`, {}, tx);
      await driver.executeQuery(`DROP CONSTRAINT ${COUNTER_CONSTRAINT} IF EXISTS`, {}, { database });
      await driver.executeQuery(`DROP INDEX ${SEQ_INDEX} IF EXISTS`, {}, { database });
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
export async function outboxStatus(driver: Driver, opts: { database: string }): Promise<OutboxStatus> {
  const { database } = opts;
  try {
    const apoc = await apocVersion(driver, database);
    const stored = apoc === null ? undefined : await storedTrigger(driver, database);
    const loaded = apoc === null ? undefined : await loadedTrigger(driver, database);
    // By what they cover, not by name: an equivalent index or constraint made under another name does the job
    // (and makes CREATE … IF NOT EXISTS a no-op).
    const schema = await driver.executeQuery(
      "SHOW INDEXES YIELD type, labelsOrTypes, properties, owningConstraint, state WHERE state = 'ONLINE' AND type = 'RANGE' " +
        'RETURN labelsOrTypes[0] AS label, properties, owningConstraint IS NOT NULL AS unique',
      {},
      { database, routing: neo4j.routing.READ },
    );
    const covers = (label: string, prop: string, unique: boolean): boolean =>
      schema.records.some((r) => r.get('label') === label && (r.get('properties') as string[]).length === 1 && (r.get('properties') as string[])[0] === prop && (!unique || r.get('unique') === true));
    const counts = await driver.executeQuery(
      `OPTIONAL MATCH (c:${COUNTER_LABEL} {name: $name}) WITH c.value AS counter ` +
        `OPTIONAL MATCH (o:${OUTBOX_LABEL}) RETURN counter, count(o) AS backlog, min(o.committedAt) AS oldest`,
      { name: COUNTER_NAME },
      { database, routing: neo4j.routing.READ },
    );
    const row = counts.records[0]!;
    const oldest = plain(row.get('oldest'));
    const ordering = stored ? (orderingOf(stored.query) ?? 'unknown') : null;
    const current = stored !== undefined && ordering !== 'unknown' && loaded?.query === stored.query;
    const status: OutboxStatus = {
      database,
      apocVersion: apoc,
      trigger: { stored: stored !== undefined, loaded: loaded !== undefined, paused: Boolean(stored?.paused || loaded?.paused), ordering },
      seqIndex: covers(OUTBOX_LABEL, 'seq', false),
      counterConstraint: covers(COUNTER_LABEL, 'name', true),
      counter: plain(row.get('counter')),
      backlog: Number(plain(row.get('backlog')) ?? 0),
      oldestCommittedAt: oldest === null ? null : new Date(Number(oldest)).toISOString(),
      installed: false,
    };
    status.installed = current && !status.trigger.paused && status.seqIndex && status.counterConstraint && status.counter !== null;
    return status;
  } catch (err) {
    throw explainOutboxError(err, database, 'read the outbox status');
  }
}
