/**
 * The OutboxStore's interface types (outbox-store.ts): what reads return, what install, uninstall and
 * status take and answer. `heimdall db … --json` prints the results as they are, so their fields are
 * part of the CLI's output.
 */
import type { OutboxEntry } from './outbox-events.js';
import type { Capture, CaptureChoice, Ordering } from './outbox-trigger.js';

/** An entry as read, with the size that bounds reads and acks. */
export interface StoredEntry extends OutboxEntry {
  bytes: number;
}

export interface ReadRequest {
  /** Most new entries to return. */
  limit: number;
  /**
   * Entries read before whose ack has not finished, by pendingKey (element id and seq): they are still in the
   * outbox, so Neo4j leaves them out of the read (they are not sent again) and they do not count against `limit`.
   * Keyed by seq too because Neo4j reuses the ids of deleted nodes: a new entry with the id of one being acked is
   * read at once.
   */
  pending?: { keys: ReadonlySet<string> };
}

export interface ReadResult {
  /** New entries in seq order: at most `limit`, and those starting within maxBatchBytes (at least one). */
  entries: StoredEntry[];
  /** The limit or the byte bound cut the read, so more entries are probably waiting. */
  full: boolean;
}

export interface OutboxStoreOptions {
  /** The captured logical database. */
  database: string;
  /** Default MAX_BATCH_BYTES. */
  maxBatchBytes?: number;
  /** Transaction timeout of the delivery statements (read, ack, dead-letter, backlog), ms. Default 30000. */
  timeoutMs?: number;
  /** What writes the entries (outbox-trigger.ts CaptureChoice; 'auto' is settled by the first install or status). Default 'trigger'. */
  capture?: CaptureChoice;
}


/** The trigger as the captured database runs it (apoc.trigger.list). */
export interface LoadedTrigger {
  query: string;
  paused: boolean;
  /** The mode of the statement; undefined when it is not one this build writes (an older or edited one). */
  ordering: Ordering | undefined;
  /** It has an internal key (../../db/own-state.ts); one without cannot tell the daemon's writes from others'. */
  keyed: boolean;
}

/** What the watchdog (watchdog.ts) looks at: the trigger stored and loaded, the counter, the schema. */
export interface CaptureSnapshot {
  /** What the database runs now. */
  loaded: LoadedTrigger | undefined;
  /** What the system database stores; null when the user may not read it (then only `loaded` counts). */
  stored: { query: string; paused: boolean; keyed: boolean } | undefined | null;
  /** The counter node: value (the last strict seq handed out) and epoch; undefined when it is missing. */
  counter: { value: number; epoch: string } | undefined;
  seqIndex: boolean;
  counterConstraint: boolean;
}

export interface InstallOptions {
  /** Default relaxed. */
  ordering?: Ordering;
  /**
   * The highest strict seq already delivered (the source knows it): a counter that is missing or lower continues
   * above it, in a new epoch. Default 0.
   */
  minSeq?: number;
  /** How long to wait for the database to load the trigger, ms. Default 90000 (APOC's default refresh is 60 s). 0: look once, do not wait. */
  waitMs?: number;
  /** Progress lines (full sentences). */
  log?: (line: string) => void;
}

export interface InstallResult {
  database: string;
  ordering: Ordering;
  /** What happened to the stored trigger statement. */
  trigger: 'created' | 'updated' | 'unchanged';
  /** The database has loaded the current statement (changes are captured from now on). */
  loaded: boolean;
  /** Current value of the strict-mode counter. */
  counter: number | string;
  /** The counter's epoch, part of every event id; a new one whenever the install changed something. */
  epoch: string;
  /** The install moved to a new epoch (it created or changed the trigger or the counter). */
  newEpoch: boolean;
}

export interface UninstallOptions {
  /** Also delete entries that were not delivered yet. Default false: they are kept, with the counter and index, for a later install. */
  purge?: boolean;
  /** How long to wait for the database to unload the trigger, ms. Default 90000. */
  waitMs?: number;
  log?: (line: string) => void;
}

export interface UninstallResult {
  database: string;
  triggerDropped: boolean;
  /** The database no longer runs the trigger. */
  unloaded: boolean;
  entriesDeleted: number;
  /** Undelivered entries left in place (purge: false). */
  entriesKept: number;
  schemaDropped: boolean;
  /** The trigger was stored again while uninstall waited (a running daemon with reinstall: true put it back). */
  reinstalled: boolean;
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
    /** What writes the entries: the APOC trigger, or the listener of Heimdall's Neo4j extension (null: neither is in place). */
    capture: Capture | null;
  };
  seqIndex: boolean;
  counterConstraint: boolean;
  counter: number | string | null;
  /** The counter's epoch (part of every event id), or null. */
  epoch: string | null;
  /** Outbox entries not yet delivered and acknowledged. */
  backlog: number;
  oldestCommittedAt: string | null;
  /** Everything is in place and current. */
  installed: boolean;
}
