/**
 * How the OutboxStore runs its statements against one database: through Database.run with the
 * database name, access mode, timeout and transaction metadata that say what each one is
 * (`{app: 'heimdall', outbox: 'read' | 'status' | 'trigger' | 'ack'}`, so Neo4j's query log shows it),
 * and the internal key (../../db/own-state.ts) on every write to Heimdall's own nodes.
 *
 * The key is learnt from the trigger (its APOC parameters; with capture: listener, from
 * heimdall.capture.status()) whenever the store looks at it, and set by the install. A write that the trigger refuses because the key is stale (someone reinstalled the
 * outbox, with a new key) learns the current key from the trigger the database runs and is tried once
 * more. The key never appears in a result, a log line or an error.
 */
import type { Database, RunOptions } from '../../db/database.js';
import { listenerStatement, orderingOf, TRIGGER_NAME, type Capture, type Ordering } from './outbox-trigger.js';
import type { LoadedTrigger } from './outbox-store-types.js';
import { internalMetadata, isRefusal, keyOf } from '../../db/own-state.js';

/** What the store needs of the database router. */
export type OutboxDatabase = Pick<Database, 'run'>;

type Rows = Array<Record<string, unknown>>;

/** A stored (system database) trigger; `key` is its internal key, if it has one. */
export interface StoredTrigger {
  query: string;
  paused: boolean;
  key: string | undefined;
}

/** What heimdall.capture.status() answers: whether the extension runs for the database and what it was told. */
export interface ListenerState {
  running: boolean;
  installed: boolean;
  ordering: Ordering | undefined;
  key: string | undefined;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export class OutboxStatements {
  /** The internal key as last learnt; undefined until the trigger was seen (or when none is installed). */
  private key: string | undefined;

  constructor(
    private readonly db: OutboxDatabase,
    readonly database: string,
    private readonly timeoutMs: number,
    /** What writes the entries; with 'listener' "the trigger" below is the listener's settings (heimdall.capture.status()). */
    private captureNow: Capture = 'trigger',
  ) {}

  /** What writes the entries (settled by useCapture when the config said auto). */
  get capture(): Capture {
    return this.captureNow;
  }

  /** From now on the entries are written by this capture (capture: auto, once chosen). */
  useCapture(capture: Capture): void {
    this.captureNow = capture;
  }

  /** The key as last learnt (an install that finds no capture in place keeps it, so the daemon's writes in flight keep working). */
  get knownKey(): string | undefined {
    return this.key;
  }

  /** Use this key for internal writes from now on (the install chose it). */
  useKey(key: string | undefined): void {
    if (key) this.key = key;
  }

  /** Metadata of an internal write now, with the key of the trigger the database runs (for tools and tests that write with their own driver). */
  async internalMetadata(): Promise<Record<string, unknown>> {
    await this.loadedKey();
    return { app: 'heimdall', ...internalMetadata(this.key) };
  }

  /** A delivery read, bounded by timeoutMs. */
  async read(cypher: string, params: Record<string, unknown>): Promise<Rows> {
    return this.run(cypher, params, { mode: 'read', timeoutMs: this.timeoutMs, metadata: { outbox: 'read' } });
  }

  /** An install/uninstall/status read in the captured database: no timeout. */
  async status(cypher: string, params: Record<string, unknown> = {}): Promise<Rows> {
    return this.run(cypher, params, { mode: 'read', timeoutMs: null, metadata: { outbox: 'status' } });
  }

  /** A schema statement (index, constraint): no timeout; schema changes do not fire triggers. */
  async schema(cypher: string): Promise<Rows> {
    return this.run(cypher, {}, { mode: 'write', timeoutMs: null, metadata: { outbox: 'status' } });
  }

  /**
   * A write to Heimdall's own nodes, with the internal key; `timeout` false: none (install, purge). When the trigger
   * refuses it, the key is learnt again from the trigger the database runs and the write is tried once more.
   */
  async internal(cypher: string, params: Record<string, unknown> = {}, timeout = true): Promise<Rows> {
    const run = () => this.run(cypher, params, { mode: 'write', timeoutMs: timeout ? this.timeoutMs : null, metadata: internalMetadata(this.key) });
    try {
      return await run();
    } catch (err) {
      if (!isRefusal(err)) throw err;
      const before = this.key;
      await this.loadedTrigger();
      if (this.key === before) throw err;
      return run();
    }
  }

  /** A trigger procedure in the system database, where APOC stores triggers; $db and $name are this outbox's. */
  async system(mode: RunOptions['mode'], cypher: string, params: Record<string, unknown> = {}): Promise<Rows> {
    return this.run(cypher, { db: this.database, name: TRIGGER_NAME, ...params }, { database: 'system', mode, timeoutMs: null, metadata: { outbox: 'trigger' } });
  }

  /** The trigger as stored in the system database, or undefined. With capture: listener, the listener's settings. */
  async storedTrigger(): Promise<StoredTrigger | undefined> {
    if (this.capture === 'listener') return this.listenerTrigger();
    return this.apocStoredTrigger();
  }

  /** The APOC trigger as stored in the system database, or undefined (whatever the capture). */
  async apocStoredTrigger(): Promise<StoredTrigger | undefined> {
    // The system database takes only CALL … YIELD … RETURN (no WHERE), so the trigger is picked here.
    const rows = await this.system('read', 'CALL apoc.trigger.show($db) YIELD name, query, paused, params RETURN name, query, paused, params');
    const r = rows.find((x) => x['name'] === TRIGGER_NAME);
    return r ? { query: r['query'] as string, paused: Boolean(r['paused']), key: keyOf(r['params']) } : undefined;
  }

  /** The trigger as the captured database runs it now (apoc.trigger.list), or undefined when it runs none of ours. Learns its key. */
  async loadedTrigger(): Promise<LoadedTrigger | undefined> {
    if (this.capture === 'listener') {
      const t = await this.listenerTrigger();
      return t && { query: t.query, paused: false, ordering: orderingOf(t.query), keyed: t.key !== undefined };
    }
    const rows = await this.read('CALL apoc.trigger.list() YIELD name, query, paused, params WHERE name = $name RETURN query, paused, params', { name: TRIGGER_NAME });
    return this.loadedFrom(rows[0]);
  }

  /** The internal key of the trigger the database runs now, if any (and learns it). */
  async loadedKey(): Promise<string | undefined> {
    if (this.capture === 'listener') return (await this.listenerTrigger())?.key;
    const rows = await this.read('CALL apoc.trigger.list() YIELD name, params WHERE name = $name RETURN params', { name: TRIGGER_NAME });
    const key = keyOf(rows[0]?.['params']);
    if (key) this.key = key;
    return key;
  }

  /** A LoadedTrigger from a row with `query`, `paused` and `params` (undefined row: none); learns its key. */
  loadedFrom(r: Record<string, unknown> | undefined): LoadedTrigger | undefined {
    if (!r || typeof r['query'] !== 'string') return undefined;
    const key = keyOf(r['params']);
    if (key) this.key = key;
    const query = r['query'];
    return { query, paused: Boolean(r['paused']), ordering: orderingOf(query), keyed: key !== undefined };
  }

  /**
   * Waits until the database runs `query`, not paused and with a key (a trigger just resumed stays paused in the
   * database until its next refresh), or, with query undefined, until it runs no trigger of ours. `stop` is asked
   * now and then (every ~500 ms) whether to give up early.
   */
  async waitLoaded(query: string | undefined, waitMs: number, stop?: () => Promise<boolean>): Promise<boolean> {
    return this.poll(async () => {
      const t = await this.loadedTrigger();
      return query === undefined ? t === undefined : t?.query === query && !t.paused && t.keyed;
    }, waitMs, stop);
  }

  /** Asks `done` every 50 ms until it holds (true) or waitMs has passed (false); `stop` every ~500 ms whether to give up early. */
  private async poll(done: () => Promise<boolean>, waitMs: number, stop?: () => Promise<boolean>): Promise<boolean> {
    const deadline = Date.now() + waitMs;
    let nextStop = Date.now() + 500;
    for (;;) {
      if (await done()) return true;
      if (Date.now() >= deadline) return false;
      if (stop && Date.now() >= nextStop) {
        if (await stop()) return false;
        nextStop = Date.now() + 500;
      }
      await sleep(50);
    }
  }

  /**
   * heimdall.capture.status() in the captured database (admin only). Throws when the extension is not in Neo4j's
   * plugins directory (explainOutboxError says what to do).
   */
  async listenerState(): Promise<ListenerState> {
    const [r] = await this.status('CALL heimdall.capture.status() YIELD running, installed, ordering, key RETURN running, installed, ordering, key');
    const ordering = r?.['ordering'];
    return {
      running: r?.['running'] === true,
      installed: r?.['installed'] === true,
      ordering: ordering === 'strict' || ordering === 'relaxed' ? ordering : undefined,
      key: keyOf({ key: r?.['key'] }),
    };
  }

  /** The listener's settings as a StoredTrigger (its stand-in statement), or undefined when it is not installed; learns its key. */
  private async listenerTrigger(): Promise<StoredTrigger | undefined> {
    const l = await this.listenerState();
    if (!l.running || !l.installed || !l.ordering) return undefined;
    if (l.key) this.key = l.key;
    return { query: listenerStatement(l.ordering), paused: false, key: l.key };
  }

  /**
   * For uninstall: waits until the database runs no APOC trigger of ours and no listener is installed (the store's
   * capture either way); `stop` as in waitLoaded.
   */
  async waitUnloaded(waitMs: number, stop?: () => Promise<boolean>): Promise<boolean> {
    return this.poll(async () => {
      const rows = await this.read('CALL apoc.trigger.list() YIELD name WHERE name = $name RETURN name', { name: TRIGGER_NAME });
      return rows.length === 0 && (this.capture === 'trigger' || !(await this.listenerTrigger()));
    }, waitMs, stop);
  }

  /** APOC's version, or null when APOC is not installed. */
  async apocVersion(): Promise<string | null> {
    try {
      return ((await this.status('RETURN apoc.version() AS v'))[0]?.['v'] as string | undefined) ?? null;
    } catch (err) {
      if (/Unknown function 'apoc\.version'/i.test((err as Error).message)) return null; // the router keeps the driver's message
      throw err;
    }
  }

  private async run(cypher: string, params: Record<string, unknown>, opts: RunOptions): Promise<Rows> {
    return (await this.db.run(cypher, params, { database: this.database, ...opts })).rows;
  }
}
