/**
 * Installing, removing and inspecting the outbox of one database (the OutboxStore's lifecycle; see
 * ../README.md "What is installed"): the range index on (:HeimdallOutbox).seq, the counter node with
 * its uniqueness constraint, value and epoch, and the `before`-phase APOC trigger with its internal key.
 *
 * Installing is idempotent: twice changes nothing, the other ordering mode replaces the trigger
 * statement, a paused trigger is resumed. Whenever the install changes something (trigger created,
 * updated or resumed, counter created or raised) the counter moves to a new epoch, so event ids
 * never repeat across a reinstall. APOC keeps triggers in the system database and each database
 * loads them on its next refresh (apoc.trigger.refresh, 60 s by default), so install and uninstall
 * wait until the database has (un)loaded the trigger; changes committed before that are not captured.
 *
 * With capture: listener (the store's) the listener of Heimdall's Neo4j extension writes the entries instead: the
 * install calls heimdall.capture.install(ordering, key) (in force at once, no refresh to wait for), keeping the key of
 * the listener or of the APOC trigger in place, and then drops an APOC trigger of ours. Until the database unloads
 * that trigger (its next refresh) transactions are captured by both, so their changes are delivered twice, with
 * different event ids; nothing is missed. Installing the trigger again removes the listener once the trigger runs.
 */
import neo4j from 'neo4j-driver';
import { explainOutboxError } from './outbox-errors.js';
import type { OutboxStatements } from './outbox-statements.js';
import type { InstallOptions, InstallResult, OutboxStatus, UninstallOptions, UninstallResult } from './outbox-store-types.js';
import { COUNTER_CONSTRAINT, COUNTER_LABEL, COUNTER_NAME, OUTBOX_LABEL, RELAXED_SEQ_FLOOR, SEQ_INDEX, TRIGGER_NAME, captureOf, captureStatement, nextEpoch, orderingOf, type Capture, type Ordering } from './outbox-trigger.js';
import { KEY_PARAM, newInternalKey } from '../../db/own-state.js';

const num = (v: unknown): number => (v === null || v === undefined ? 0 : Number(v));

/**
 * The counter: created when missing, raised to the highest strict seq in the outbox and to $minSeq, and moved to a
 * new epoch when $bump, when it was created or raised, or when it has no epoch yet.
 */
const COUNTER =
  `OPTIONAL MATCH (o:${OUTBOX_LABEL}) WHERE o.seq < $floor WITH coalesce(max(o.seq), 0) AS m ` +
  `MERGE (c:${COUNTER_LABEL} {name: $name}) ` +
  'WITH c, CASE WHEN m > $minSeq THEN m ELSE $minSeq END AS low ' +
  'WITH c, low, $bump OR c.value IS NULL OR c.epoch IS NULL OR c.value < low AS bump ' +
  `SET c.value = CASE WHEN coalesce(c.value, 0) < low THEN low ELSE coalesce(c.value, 0) END, c.epoch = CASE WHEN bump THEN ${nextEpoch('c.epoch')} ELSE c.epoch END ` +
  'RETURN c.value AS value, c.epoch AS epoch, bump';

/**
 * Entries of the outbox in seq order (at most $limit) that also meet `condition` (on `o`, before the limit),
 * cut to the prefix whose entry text starts within $maxBytes.
 */
export const batchOf = (condition = ''): string =>
  `MATCH (o:${OUTBOX_LABEL}) WHERE o.seq IS NOT NULL${condition ? ` AND ${condition}` : ''} WITH o ORDER BY o.seq LIMIT $limit ` +
  'WITH collect(o) AS os WITH os, [o IN os | coalesce(o.bytes, size(o.changes) + size(o.txMeta), 0)] AS sizes ' +
  'WITH os, sizes, apoc.coll.runningTotal(sizes) AS upto ' +
  'UNWIND range(0, size(os) - 1) AS i WITH os[i] AS o, i, upto[i] - sizes[i] AS offset WHERE offset < $maxBytes OR i = 0 ';

/** The first entries of the outbox in seq order (batchOf with no condition). */
export const PREFIX = batchOf();

/** Creates the index, constraint, counter and trigger (or brings them up to date), and waits for the trigger to load. */
export async function install(st: OutboxStatements, opts: InstallOptions = {}): Promise<InstallResult> {
  const { database, capture } = st;
  const ordering: Ordering = opts.ordering ?? 'relaxed';
  const waitMs = opts.waitMs ?? 90_000;
  const log = opts.log ?? (() => {});
  const statement = captureStatement(capture, ordering);
  try {
    if ((await st.apocVersion()) === null) throw new Error("Unknown function 'apoc.version'");
    await st.schema(`CREATE CONSTRAINT ${COUNTER_CONSTRAINT} IF NOT EXISTS FOR (c:${COUNTER_LABEL}) REQUIRE c.name IS UNIQUE`);
    await st.schema(`CREATE RANGE INDEX ${SEQ_INDEX} IF NOT EXISTS FOR (o:${OUTBOX_LABEL}) ON (o.seq)`);
    await st.schema('CALL db.awaitIndexes(300)');
    const stored = await st.storedTrigger();
    // The APOC trigger a listener install replaces, or the listener a trigger install replaces once the trigger runs.
    const apoc = capture === 'listener' ? await st.apocStoredTrigger() : undefined;
    const listener = capture === 'trigger' ? await listenerSettings(st) : undefined;
    // The key of the capture in place (stored, else still loaded; or the one it replaces) is kept, so a running daemon's writes keep working.
    const key = stored?.key ?? apoc?.key ?? listener?.key ?? (await st.loadedKey()) ?? st.knownKey ?? newInternalKey();
    const write = !stored || stored.query !== statement || stored.key === undefined;
    const resume = !write && stored.paused;
    st.useKey(key);
    let trigger: InstallResult['trigger'] = 'unchanged';
    if (write && capture === 'listener') {
      // First, so that the counter write below carries a key the listener knows.
      await st.status('CALL heimdall.capture.install($ordering, $key) YIELD installed RETURN installed', { ordering, key });
      trigger = stored ? 'updated' : 'created';
      log(`${stored ? 'Updated' : 'Installed'} the outbox listener of Heimdall's Neo4j extension for the database ${database} (${ordering} ordering).`);
    }
    // A counter that went missing while no trigger ran continues after the highest strict seq still in the outbox.
    const [c] = await st.internal(COUNTER, { floor: neo4j.int(RELAXED_SEQ_FLOOR), name: COUNTER_NAME, minSeq: neo4j.int(opts.minSeq ?? 0), bump: write || resume }, false);
    if (write && capture === 'trigger') {
      await st.system('write', "CALL apoc.trigger.install($db, $name, $statement, {phase: 'before'}, {params: $params}) YIELD name RETURN name", { statement, params: { [KEY_PARAM]: key } });
      trigger = stored ? 'updated' : 'created';
      log(`${stored ? 'Updated' : 'Stored'} the APOC trigger ${TRIGGER_NAME} for the database ${database} (${ordering} ordering).`);
    }
    if (resume) {
      await st.system('write', 'CALL apoc.trigger.start($db, $name)');
      log(`Resumed the paused APOC trigger ${TRIGGER_NAME} of the database ${database}.`);
    }
    if (apoc) {
      await st.system('write', 'CALL apoc.trigger.drop($db, $name)');
      log(`Dropped the APOC trigger ${TRIGGER_NAME} of the database ${database}: the listener captures its changes now. Until the database unloads the trigger (apoc.trigger.refresh) both capture, so changes committed meanwhile are delivered twice.`);
    }
    let loaded = await st.waitLoaded(statement, Math.min(waitMs, 1000)); // waitMs 0: look once
    if (!loaded && waitMs > 1000) {
      log(`Waiting up to ${Math.round(waitMs / 1000)} s for the database ${database} to load the trigger (APOC loads stored triggers every apoc.trigger.refresh ms, 60000 by default).`);
      loaded = await st.waitLoaded(statement, waitMs - 1000);
    }
    st.useKey(key); // waiting learnt the key of the old trigger while it was still loaded
    if (loaded && capture === 'trigger' && listener) {
      await st.status('CALL heimdall.capture.uninstall() YIELD installed RETURN installed');
      log(`Uninstalled the outbox listener of Heimdall's Neo4j extension for the database ${database}: the APOC trigger captures its changes now.`);
    }
    return { database, ordering, trigger, loaded, counter: (c?.['value'] as number | string | undefined) ?? 0, epoch: String(c?.['epoch'] ?? 0), newEpoch: c?.['bump'] === true };
  } catch (err) {
    throw explainOutboxError(err, database, 'install the outbox');
  }
}

/** What capture: auto chose for a database, and why (one clause, for the log line that says so). */
export interface ChosenCapture {
  capture: Capture;
  why: string;
}

/**
 * capture: auto. Keeps the capture already in place (switching would capture every transaction twice until the
 * database unloads the APOC trigger, see above); on a database with neither, the listener where the server runs
 * Heimdall's extension for it, else the APOC trigger. Throws only when Neo4j cannot be reached or the APOC trigger
 * cannot be read (the install that follows would fail the same way).
 */
export async function chooseCapture(st: OutboxStatements): Promise<ChosenCapture> {
  let ext: Awaited<ReturnType<OutboxStatements['listenerState']>> | undefined;
  let missing = 'it does not run for this database';
  try {
    ext = await st.listenerState();
  } catch (err) {
    const explained = explainOutboxError(err, st.database, "look for Heimdall's Neo4j extension");
    if (explained.unreachable) throw explained;
    const msg = ((err as Error).cause instanceof Error ? ((err as Error).cause as Error).message : (err as Error).message).replace(/\s*\n\s*/g, ' ');
    missing = /There is no procedure with the name `heimdall\.capture\./i.test(msg) ? "the server's plugins have no heimdall-capture-plugin.jar" : msg;
  }
  if (ext?.running && ext.installed) return { capture: 'listener', why: "the listener of Heimdall's Neo4j extension is installed there" };
  let apoc: Awaited<ReturnType<OutboxStatements['apocStoredTrigger']>>;
  try {
    apoc = await st.apocStoredTrigger();
  } catch (err) {
    throw explainOutboxError(err, st.database, 'read the APOC triggers (to choose the outbox capture)');
  }
  if (apoc) {
    return { capture: 'trigger', why: `the APOC trigger ${TRIGGER_NAME} is installed there (set capture: listener to move to Heimdall's extension, while writes are quiet)` };
  }
  if (ext?.running) return { capture: 'listener', why: "nothing captured it yet and the server runs Heimdall's Neo4j extension" };
  return { capture: 'trigger', why: `nothing captured it yet and Heimdall's Neo4j extension is not available (${missing})` };
}

/**
 * The listener's settings when it is installed for the database; undefined when not, or when it cannot be asked (no
 * such extension in the plugins directory, a user that may not call admin procedures, a server that is not Neo4j):
 * the trigger's install and uninstall must not fail for want of an extension they do not need.
 */
async function listenerSettings(st: OutboxStatements): Promise<{ key: string | undefined } | undefined> {
  try {
    const l = await st.listenerState();
    return l.installed ? { key: l.key } : undefined;
  } catch {
    return undefined;
  }
}

/** Whether the listener of Heimdall's extension is installed for the database. */
async function listenerInstalled(st: OutboxStatements): Promise<boolean> {
  return (await listenerSettings(st)) !== undefined;
}

/**
 * Drops the trigger; deletes the counter, index and constraint when no undelivered entry is left (or purge). When the
 * trigger is stored again while it waits for the unload (a running daemon reinstalled it), it stops and keeps the rest.
 */
export async function uninstall(st: OutboxStatements, opts: UninstallOptions & { maxBatchBytes?: number } = {}): Promise<UninstallResult> {
  const { database } = st;
  const log = opts.log ?? (() => {});
  try {
    const stored = await st.apocStoredTrigger();
    if (stored) {
      await st.system('write', 'CALL apoc.trigger.drop($db, $name)');
      log(`Dropped the APOC trigger ${TRIGGER_NAME} of the database ${database}.`);
    }
    const listener = await listenerInstalled(st);
    if (listener) {
      await st.status('CALL heimdall.capture.uninstall() YIELD installed RETURN installed');
      log(`Uninstalled the outbox listener of Heimdall's Neo4j extension for the database ${database}.`);
    }
    let reinstalled = false;
    const back = async (): Promise<boolean> => (reinstalled = (await st.apocStoredTrigger()) !== undefined || (await listenerInstalled(st)));
    const count = async (): Promise<number> => num((await st.status(`MATCH (o:${OUTBOX_LABEL}) RETURN count(o) AS n`))[0]?.['n']);
    // A running daemon put the trigger back: keep what it needs (the result says so; the CLI explains it).
    const putBack = async (entriesDeleted: number): Promise<UninstallResult> =>
      ({ database, triggerDropped: stored !== undefined || listener, unloaded: false, entriesDeleted, entriesKept: await count(), schemaDropped: false, reinstalled: true });
    const unloaded = await st.waitUnloaded(opts.waitMs ?? 90_000, back);
    if (reinstalled || (!unloaded && (await back()))) return putBack(0);
    let entriesDeleted = 0;
    if (opts.purge) {
      for (;;) {
        const rows = await st.internal(`${PREFIX}DETACH DELETE o RETURN count(*) AS n`, { limit: neo4j.int(10_000), maxBytes: neo4j.int(opts.maxBatchBytes ?? 16 * 1024 * 1024) }, false);
        const n = num(rows[0]?.['n']);
        entriesDeleted += n;
        if (n === 0) break;
      }
    }
    const entriesKept = await count();
    // The counter and schema go only while no trigger is back: a reinstalled one needs them.
    if (entriesKept === 0 && (await back())) return putBack(entriesDeleted);
    let schemaDropped = false;
    if (entriesKept === 0) {
      await st.internal(`MATCH (c:${COUNTER_LABEL}) DETACH DELETE c`, {}, false);
      await st.schema(`DROP CONSTRAINT ${COUNTER_CONSTRAINT} IF EXISTS`);
      await st.schema(`DROP INDEX ${SEQ_INDEX} IF EXISTS`);
      schemaDropped = true;
    } else {
      log(`Kept ${entriesKept} undelivered outbox entries (and the counter and index) in the database ${database}; a later install delivers them, and --purge deletes them.`);
    }
    return { database, triggerDropped: stored !== undefined || listener, unloaded, entriesDeleted, entriesKept, schemaDropped, reinstalled };
  } catch (err) {
    throw explainOutboxError(err, database, 'uninstall the outbox');
  }
}

/** Which range indexes are online, by what they cover (an equivalent index or constraint under another name does the job). */
export async function schemaCovers(st: OutboxStatements): Promise<{ seqIndex: boolean; counterConstraint: boolean }> {
  const schema = await st.status(
    "SHOW INDEXES YIELD type, labelsOrTypes, properties, owningConstraint, state WHERE state = 'ONLINE' AND type = 'RANGE' " +
      'RETURN labelsOrTypes[0] AS label, properties, owningConstraint IS NOT NULL AS unique',
  );
  const covers = (label: string, prop: string, unique: boolean): boolean =>
    schema.some((r) => r['label'] === label && (r['properties'] as string[]).length === 1 && (r['properties'] as string[])[0] === prop && (!unique || r['unique'] === true));
  return { seqIndex: covers(OUTBOX_LABEL, 'seq', false), counterConstraint: covers(COUNTER_LABEL, 'name', true) };
}

/** What is in place, read-only. */
export async function status(st: OutboxStatements): Promise<OutboxStatus> {
  const { database } = st;
  try {
    const apoc = await st.apocVersion();
    const stored = apoc === null ? undefined : await st.storedTrigger();
    const loaded = apoc === null ? undefined : await st.loadedTrigger();
    const { seqIndex, counterConstraint } = await schemaCovers(st);
    const [row] = await st.status(
      `OPTIONAL MATCH (c:${COUNTER_LABEL} {name: $name}) WITH c.value AS counter, c.epoch AS epoch ` +
        `OPTIONAL MATCH (o:${OUTBOX_LABEL}) RETURN counter, epoch, count(o) AS backlog, min(o.committedAt) AS oldest`,
      { name: COUNTER_NAME },
    );
    const oldest = row?.['oldest'] as number | null | undefined;
    const epoch = row?.['epoch'];
    const ordering = stored ? (orderingOf(stored.query) ?? 'unknown') : null;
    const capture = stored ? (captureOf(stored.query) ?? 'trigger') : null;
    const current = stored !== undefined && ordering !== 'unknown' && stored.key !== undefined && loaded?.query === stored.query && loaded.keyed;
    const out: OutboxStatus = {
      database,
      apocVersion: apoc,
      trigger: { stored: stored !== undefined, loaded: loaded !== undefined, paused: Boolean(stored?.paused || loaded?.paused), ordering, capture },
      seqIndex,
      counterConstraint,
      counter: (row?.['counter'] as number | string | null | undefined) ?? null,
      epoch: epoch === null || epoch === undefined ? null : String(epoch),
      backlog: num(row?.['backlog']),
      oldestCommittedAt: oldest === null || oldest === undefined ? null : new Date(Number(oldest)).toISOString(),
      installed: false,
    };
    out.installed = current && !out.trigger.paused && seqIndex && counterConstraint && out.counter !== null;
    return out;
  } catch (err) {
    throw explainOutboxError(err, database, 'read the outbox status');
  }
}
