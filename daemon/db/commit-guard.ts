/**
 * The remediation commit guard per database: which engine runs it there and whether it is loaded.
 * Two engines judge the same thing the same way (policy-trigger.ts describes the judgement and the
 * report):
 *   extension  Heimdall's Neo4j extension (neo4j/target/heimdall-capture-plugin.jar in the server's
 *              plugins, PolicyGuard.java): a kernel transaction listener, always loaded where the jar
 *              is; it judges the transactions whose policy says `engine: 'extension'`. Nothing to
 *              install, and no APOC trigger for Neo4j to run on every transaction.
 *   apoc       the APOC trigger heimdall_policy, installed here (apoc.trigger.enabled and an admin
 *              user); it judges the policies without an engine.
 * remediation.guardEngine picks one: auto (the default) asks the server for the extension's guard
 * (heimdall.policy.status) and falls back to APOC. With the extension's guard found, the APOC
 * trigger an earlier daemon installed is dropped (best effort). remediation.guardTrigger: false
 * turns the guard off: writes are then judged by their counters alone.
 */
import type { Logger } from 'pino';
import type { Database } from './database.js';
import { GUARD_LOADED_CYPHER, POLICY_TRIGGER, POLICY_TRIGGER_STATEMENT } from './policy-trigger.js';

export type GuardEngine = 'extension' | 'apoc';

/** The version of PolicyGuard.java this daemon speaks to (heimdall.policy.status answers it). */
export const EXTENSION_GUARD_VERSION = '1';
const EXTENSION_GUARD_CYPHER = 'CALL heimdall.policy.status() YIELD running, version RETURN running, version';

/** A row as the driver gives it (a Record) or as Database.run gives it (a plain object). */
type RowLike = { get(key: string): unknown } | undefined;

/** The in-transaction check that the engine's guard is there, unpaused and current (run before a probe commits). */
export function guardCheck(engine: GuardEngine): { cypher: string; params: Record<string, unknown>; verified: (row: RowLike) => boolean } {
  if (engine === 'extension') {
    return { cypher: EXTENSION_GUARD_CYPHER, params: {}, verified: (row) => row !== undefined && row.get('running') === true && row.get('version') === EXTENSION_GUARD_VERSION };
  }
  return { cypher: GUARD_LOADED_CYPHER, params: { name: POLICY_TRIGGER }, verified: (row) => row !== undefined && row.get('query') === POLICY_TRIGGER_STATEMENT && row.get('paused') !== true };
}

type GuardState = { state: 'ready'; engine: GuardEngine } | { state: 'unavailable' | 'pending'; reason: string; at: number };

/** Retry a failed install after this long. */
const RETRY_MS = 30_000;

const plainRow = (r: Record<string, unknown> | undefined): RowLike => (r ? { get: (k: string) => r[k] } : undefined);

/** Finds or installs the guard per database and knows whether it is loaded, and by which engine. */
export class CommitGuard {
  private readonly states = new Map<string, GuardState>();
  private readonly installing = new Map<string, Promise<boolean>>();
  private warned = new Set<string>();
  private closed = false;

  constructor(
    private readonly db: Database,
    private readonly log: Logger,
    readonly enabled: boolean,
    private readonly choice: 'auto' | GuardEngine = 'auto',
  ) {}

  /** Stops waiting for a trigger to load (at shutdown); nothing is logged after it. */
  close(): void {
    this.closed = true;
  }

  /** Whether the guard is known to be loaded in `database` (without asking the server). */
  ready(database: string): boolean {
    return this.states.get(database)?.state === 'ready';
  }

  /** The engine that judges `database`'s remediation transactions, once the guard is loaded there. */
  engine(database: string): GuardEngine | undefined {
    const s = this.states.get(database);
    return s?.state === 'ready' ? s.engine : undefined;
  }

  /** Why it is not ready, for audit entries and notices. */
  reason(database: string): string {
    if (!this.enabled) return 'remediation.guardTrigger is false';
    const s = this.states.get(database);
    return !s ? 'not installed yet' : s.state === 'ready' ? `loaded (${s.engine === 'extension' ? "Heimdall's Neo4j extension" : `APOC trigger ${POLICY_TRIGGER}`})` : s.reason;
  }

  /**
   * Finds the extension's guard or installs (or updates, or resumes) the APOC trigger in `database`,
   * and waits up to `waitMs` for it to be loaded; resolves with whether it is. Never throws: without
   * the guard, writes are judged by their counters alone.
   */
  ensure(database: string, waitMs = 0): Promise<boolean> {
    if (!this.enabled) return Promise.resolve(false);
    const s = this.states.get(database);
    if (s?.state === 'ready') return Promise.resolve(true);
    if (s && s.state === 'unavailable' && Date.now() - s.at < RETRY_MS) return Promise.resolve(false);
    let p = this.installing.get(database);
    if (!p) {
      p = this.install(database).finally(() => this.installing.delete(database));
      this.installing.set(database, p);
    }
    if (waitMs <= 0) return p.then(() => this.ready(database));
    return Promise.race([p, new Promise<boolean>((r) => setTimeout(() => r(this.ready(database)), waitMs).unref())]);
  }

  /** Forget that the guard was loaded (a probe found it missing); the next ensure finds or installs it again. */
  lost(database: string, reason: string): void {
    const was = this.engine(database);
    this.states.set(database, { state: 'pending', reason, at: 0 });
    const what = was === 'extension' ? "in Heimdall's Neo4j extension" : `(${POLICY_TRIGGER})`;
    this.log.warn(`The remediation commit guard ${what} is no longer loaded in the database ${database} (${reason}); writes are judged by their counters alone until it is found or installed again.`);
  }

  private async install(database: string): Promise<boolean> {
    if (this.choice !== 'apoc') {
      const missing = await this.extensionMissing(database);
      if (missing === undefined) {
        if (this.closed) return false;
        this.states.set(database, { state: 'ready', engine: 'extension' });
        this.log.info(`The remediation commit guard runs in Heimdall's Neo4j extension in the database ${database}; no APOC trigger is needed for it.`);
        await this.dropTrigger(database);
        return true;
      }
      if (this.choice === 'extension') {
        this.states.set(database, { state: 'unavailable', reason: missing, at: Date.now() });
        if (!this.closed && !this.warned.has(database)) {
          this.warned.add(database);
          this.log.warn(`The remediation commit guard of Heimdall's Neo4j extension is not available in the database ${database}: ${missing}. Writes are judged by their counters alone and approvals show no sample of what would be deleted. Put neo4j/target/heimdall-capture-plugin.jar into the server's plugins directory and restart it, or set remediation.guardEngine: auto to fall back to the APOC trigger.`);
        }
        return false;
      }
      this.log.debug(`Heimdall's Neo4j extension is not available in the database ${database} (${missing}); the commit guard is the APOC trigger ${POLICY_TRIGGER}.`);
    }
    return this.installTrigger(database);
  }

  /** Undefined when the extension's guard runs for `database` at this daemon's version, else why not. */
  private async extensionMissing(database: string): Promise<string | undefined> {
    try {
      const r = await this.db.run(EXTENSION_GUARD_CYPHER, {}, { database, mode: 'read', metadata: { purpose: 'policy-guard' } });
      const row = r.rows[0] as { running?: unknown; version?: unknown } | undefined;
      if (guardCheck('extension').verified(plainRow(row))) return undefined;
      if (row?.running !== true) return 'the extension does not run for this database';
      return `the extension's guard is version ${String(row.version)} and this daemon needs version ${EXTENSION_GUARD_VERSION} (replace heimdall-capture-plugin.jar with the one this daemon's neo4j/ builds)`;
    } catch (err) {
      return `heimdall.policy.status failed: ${(err as Error).message}`;
    }
  }

  private sys(database: string, cypher: string, params: Record<string, unknown>) {
    return this.db.run(cypher, { db: database, name: POLICY_TRIGGER, ...params }, { database: 'system', mode: 'write', timeoutMs: null, metadata: { purpose: 'policy-guard' } });
  }

  /** Drops the APOC guard an earlier daemon installed, so that Neo4j runs no APOC trigger for it; failures only cost speed. */
  private async dropTrigger(database: string): Promise<void> {
    try {
      const shown = await this.sys(database, 'CALL apoc.trigger.show($db) YIELD name RETURN name', {});
      if (!(shown.rows as Array<{ name?: string }>).some((r) => r.name === POLICY_TRIGGER)) return;
      await this.sys(database, 'CALL apoc.trigger.drop($db, $name) YIELD name RETURN name', {});
      this.log.info(`Dropped the APOC trigger ${POLICY_TRIGGER} from the database ${database}: the extension's commit guard replaces it.`);
    } catch (err) {
      this.log.debug(`The APOC trigger ${POLICY_TRIGGER} of the database ${database} was not looked for or dropped (${(err as Error).message}); it leaves the extension's transactions alone either way.`);
    }
  }

  private async installTrigger(database: string): Promise<boolean> {
    try {
      // The system database takes only CALL … YIELD … RETURN (no WHERE), so the row is picked here.
      const shown = await this.sys(database, 'CALL apoc.trigger.show($db) YIELD name, query, paused RETURN name, query, paused', {});
      const stored = (shown.rows as Array<{ name?: string; query?: string; paused?: boolean }>).find((r) => r.name === POLICY_TRIGGER);
      if (!stored || stored.query !== POLICY_TRIGGER_STATEMENT) {
        await this.sys(database, "CALL apoc.trigger.install($db, $name, $statement, {phase: 'before'}) YIELD name RETURN name", { statement: POLICY_TRIGGER_STATEMENT });
        this.log.info(`Installed the remediation commit guard (APOC trigger ${POLICY_TRIGGER}) in the database ${database}.`);
      } else if (stored.paused) {
        await this.sys(database, 'CALL apoc.trigger.start($db, $name) YIELD name RETURN name', {});
        this.log.warn(`The remediation commit guard (${POLICY_TRIGGER}) was paused in the database ${database}; Heimdall resumed it.`);
      }
      this.states.set(database, { state: 'pending', reason: 'installed, waiting for the database to load it (apoc.trigger.refresh)', at: Date.now() });
      return await this.waitLoaded(database, 120_000);
    } catch (err) {
      const reason = (err as Error).message;
      this.states.set(database, { state: 'unavailable', reason, at: Date.now() });
      if (this.closed) return false;
      if (!this.warned.has(database)) {
        this.warned.add(database);
        this.log.warn(`The remediation commit guard (APOC trigger ${POLICY_TRIGGER}) could not be installed in the database ${database}: ${reason}. Writes are judged by their counters alone and approvals show no sample of what would be deleted. Put Heimdall's Neo4j extension (neo4j/target/heimdall-capture-plugin.jar) into the server's plugins, or enable APOC triggers (apoc.trigger.enabled=true) for a user who may install them, or set remediation.guardTrigger: false.`);
      }
      return false;
    }
  }

  /** Polls apoc.trigger.list() (what the database has loaded) until the guard is there, unpaused and current. */
  private async waitLoaded(database: string, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    const check = guardCheck('apoc');
    for (;;) {
      const r = await this.db.run(check.cypher, check.params, { database, mode: 'read', metadata: { purpose: 'policy-guard' } });
      if (check.verified(plainRow(r.rows[0] as Record<string, unknown> | undefined))) {
        this.states.set(database, { state: 'ready', engine: 'apoc' });
        return true;
      }
      if (this.closed) return false;
      if (Date.now() > deadline) {
        this.states.set(database, { state: 'unavailable', reason: `the database did not load the trigger within ${Math.round(timeoutMs / 1000)} s`, at: Date.now() });
        return false;
      }
      await new Promise((res) => setTimeout(res, 250).unref());
    }
  }
}
