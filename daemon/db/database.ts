/**
 * The database router: one neo4j-driver Driver, `executeQuery` with the configured database or a
 * per-call one (the system database too), READ/WRITE routing, a timeout (or, for schema and
 * trigger administration, none) and transaction metadata on every daemon transaction
 * (`{ app: 'heimdall', plugin?, action?, invocationId?, outbox? }`), plain JSON-safe results, and a
 * connectivity watch: when the database goes away the daemon keeps running, queries fail fast
 * with a clear error, and listeners hear about it (the system source turns that into
 * database.shutdown / database.started events). Every Heimdall component that talks to Neo4j —
 * plugins, remediation, the audit mirror, the outbox (sources/neo4j-apoc/outbox-store.ts), the
 * `heimdall db` commands — goes through `run`.
 */
import neo4j, { type Driver, type ResultSummary, type Transaction } from 'neo4j-driver';
import type { Logger } from 'pino';
import { DatabaseUnavailableError, HeimdallError, QueryFailedError, ReadOnlyError, type Row } from '../../sdk/index.js';
import { redactUrl } from '../../config/redact.js';
import type { DatabaseConfig } from '../../config/types.js';
import { plainRows } from './plain-values.js';

export interface TxMetadata {
  app: 'heimdall';
  plugin?: string;
  action?: string;
  invocationId?: string;
  [k: string]: unknown;
}

export interface RunOptions {
  /** Logical database (`'system'` for trigger administration). Default: the configured one. */
  database?: string;
  /** Access mode; also the cluster routing (read: any member, write: the leader). */
  mode: 'read' | 'write';
  /** Transaction timeout, ms. Default database.queryTimeoutMs. null: none (index creation, waiting for indexes). */
  timeoutMs?: number | null;
  /** Transaction metadata; `app: 'heimdall'` is always added (the outbox trigger turns it into metadata.origin). */
  metadata?: Omit<TxMetadata, 'app'>;
}

export interface TransactionOptions extends RunOptions {
  /** Records the server sends per pull (the driver pulls the next batch only when these are consumed). Default 1000. */
  fetchSize?: number;
  /** Aborting rolls the transaction back and ends the session (the deadline of an action). */
  signal?: AbortSignal;
}

export interface DatabaseOptions {
  /** Bolt user agent. Default 'heimdall'. */
  userAgent?: string;
}

export interface RunResult {
  rows: Row[];
  summary: ResultSummary;
}

export type ConnectivityListener = (up: boolean, reason: string) => void;

const ACCESS_MODE_CODES = new Set(['Neo.ClientError.Statement.AccessMode', 'Neo.ClientError.Cluster.NotALeader']);

export class Database {
  readonly driver: Driver;
  readonly defaultDatabase: string;
  connected = false;
  lastError: string | undefined;
  private readonly listeners = new Set<ConnectivityListener>();
  private watchTimer: NodeJS.Timeout | undefined;
  private closed = false;
  /** database.uri as messages show it: without the password of its userinfo. */
  readonly where: string;

  constructor(readonly cfg: DatabaseConfig, private readonly log: Logger, opts: DatabaseOptions = {}) {
    this.defaultDatabase = cfg.database;
    this.where = redactUrl(cfg.uri);
    this.driver = neo4j.driver(cfg.uri, neo4j.auth.basic(cfg.user, cfg.password), {
      connectionTimeout: cfg.connectTimeoutMs,
      connectionAcquisitionTimeout: cfg.connectTimeoutMs,
      maxTransactionRetryTime: 2000,
      userAgent: opts.userAgent ?? 'heimdall',
      logging: { level: 'error', logger: (_level, message) => this.log.debug(`neo4j-driver: ${message}`) },
    });
  }

  onConnectivity(fn: ConnectivityListener): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private everChecked = false;

  private setConnected(up: boolean, reason: string): void {
    if (!up) this.lastError = reason;
    const first = !this.everChecked;
    this.everChecked = true;
    if (up === this.connected) return;
    this.connected = up;
    this.lastError = up ? undefined : reason;
    if (up) this.log.info(`The database at ${this.where} is reachable (${reason}).`);
    else if (!first) this.log.warn(`The database at ${this.where} cannot be reached: ${reason}. Heimdall keeps running; queries fail fast until it is back.`);
    for (const l of this.listeners) {
      try {
        l(up, reason);
      } catch (err) {
        this.log.warn(`A database connectivity listener threw: ${(err as Error).message}`);
      }
    }
  }

  /** Checks connectivity now; resolves with whether the database answered. */
  async check(): Promise<boolean> {
    try {
      await this.connect();
      return true;
    } catch {
      return false;
    }
  }

  /**
   * Checks once that the default database answers and marks the router connected; throws the
   * translated error (its `cause` is the driver's) when it does not. For one-shot tools such as the
   * `heimdall db` commands, which need no watch; the daemon calls start().
   */
  async connect(): Promise<void> {
    try {
      await this.driver.executeQuery('RETURN 1', {}, { database: this.defaultDatabase, routing: neo4j.routing.READ });
    } catch (err) {
      this.setConnected(false, describe(err));
      throw this.translate(err, { mode: 'read' });
    }
    this.setConnected(true, 'it answered a health query');
  }

  /** Checks now and then every `intervalMs` (faster while down). */
  async start(intervalMs = 2000): Promise<void> {
    const ok = await this.check();
    if (!ok) {
      this.log.error(`Heimdall could not connect to the database at ${this.where} as ${this.cfg.user}: ${this.lastError}. It runs degraded and retries every ${intervalMs} ms; check database.uri, database.user and database.password.`);
    }
    const tick = async () => {
      if (this.closed) return;
      await this.check();
      if (!this.closed) this.watchTimer = setTimeout(tick, this.connected ? intervalMs : Math.min(intervalMs, 1000));
      this.watchTimer?.unref();
    };
    this.watchTimer = setTimeout(tick, intervalMs);
    this.watchTimer.unref();
  }

  /**
   * Runs one statement in its own transaction and returns plain rows (integers beyond ±2^53 as
   * decimal strings). While the database is known to be unreachable it fails fast with
   * DatabaseUnavailableError (`details.reason` says why) instead of waiting for the driver.
   */
  async run(cypher: string, params: Record<string, unknown>, opts: RunOptions): Promise<RunResult> {
    if (!this.connected) {
      const reason = this.lastError ?? 'not connected yet';
      throw new DatabaseUnavailableError(`The database at ${this.where} is not reachable (${reason}); the query was not run. It runs again once the database is back.`, { reason });
    }
    const metadata: TxMetadata = { app: 'heimdall', ...(opts.metadata ?? {}) };
    const timeout = opts.timeoutMs === undefined ? this.cfg.queryTimeoutMs : opts.timeoutMs;
    try {
      const res = await this.driver.executeQuery(cypher, params, {
        database: opts.database ?? this.defaultDatabase,
        routing: opts.mode === 'write' ? neo4j.routing.WRITE : neo4j.routing.READ,
        transactionConfig: { ...(timeout === null ? {} : { timeout }), metadata },
      });
      return { rows: plainRows(res.records), summary: res.summary };
    } catch (err) {
      throw this.translate(err, opts);
    }
  }

  /**
   * Runs `fn` in one explicit transaction and ends it: whatever `fn` did not commit is rolled back,
   * and the session is closed. For statements whose result must be streamed (a read cut at a row
   * limit: stop consuming, and the rollback tells the server to stop) or judged before commit (a
   * write whose counters decide whether it commits). Errors that are not Heimdall's are translated
   * like run's.
   */
  async transaction<T>(opts: TransactionOptions, fn: (tx: Transaction) => Promise<T>): Promise<T> {
    if (!this.connected) {
      const reason = this.lastError ?? 'not connected yet';
      throw new DatabaseUnavailableError(`The database at ${this.where} is not reachable (${reason}); the query was not run. It runs again once the database is back.`, { reason });
    }
    const metadata: TxMetadata = { app: 'heimdall', ...(opts.metadata ?? {}) };
    const timeout = opts.timeoutMs === undefined ? this.cfg.queryTimeoutMs : opts.timeoutMs;
    const session = this.driver.session({
      database: opts.database ?? this.defaultDatabase,
      defaultAccessMode: opts.mode === 'write' ? neo4j.session.WRITE : neo4j.session.READ,
      ...(opts.fetchSize ? { fetchSize: opts.fetchSize } : {}),
    });
    let tx: Transaction | undefined;
    const abort = () => {
      void (tx?.isOpen() ? tx.rollback() : Promise.resolve()).catch(() => undefined).finally(() => session.close().catch(() => undefined));
    };
    opts.signal?.addEventListener('abort', abort, { once: true });
    try {
      if (opts.signal?.aborted) throw new QueryFailedError('The statement was not run: its deadline had already passed.', { reason: 'aborted' });
      tx = session.beginTransaction({ ...(timeout === null ? {} : { timeout }), metadata });
      return await fn(tx);
    } catch (err) {
      if (err instanceof HeimdallError) throw err;
      if (opts.signal?.aborted) throw new QueryFailedError(`The statement was stopped at its deadline and rolled back (${(err as Error).message}).`, { reason: 'aborted' });
      throw this.translate(err, opts);
    } finally {
      opts.signal?.removeEventListener('abort', abort);
      if (tx?.isOpen()) await tx.rollback().catch(() => undefined);
      await session.close().catch(() => undefined);
    }
  }

  /** Maps driver errors to the SDK's typed errors with messages an operator can act on; `cause` keeps the driver's error. */
  translate(err: unknown, opts: { mode: 'read' | 'write'; metadata?: { plugin?: string } }): Error {
    const translated = this.classify(err, opts);
    if (translated !== err) translated.cause = err;
    return translated;
  }

  private classify(err: unknown, opts: { mode: 'read' | 'write'; metadata?: { plugin?: string } }): Error {
    const e = err as Error & { code?: string };
    const code = e.code ?? '';
    if (ACCESS_MODE_CODES.has(code) || /write.*read access mode|not allowed in read mode|read-only/i.test(e.message)) {
      const who = opts.metadata?.plugin ? `The plugin ${opts.metadata.plugin} is read-only` : 'This query ran in read mode';
      return new ReadOnlyError(`${who}, and the statement tried to write: ${e.message}. Grant write: true in its plugins[] entry to allow writes (they go through the remediation policy).`, { neo4jCode: code });
    }
    if (code === 'ServiceUnavailable' || code === 'SessionExpired' || /ECONNREFUSED|connect|Connection was closed/i.test(e.message)) {
      this.setConnected(false, describe(err));
      return new DatabaseUnavailableError(`The database at ${this.where} is not reachable: ${e.message}`, { neo4jCode: code });
    }
    return new QueryFailedError(`The database rejected the query: ${e.message}`, { neo4jCode: code });
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.watchTimer);
    await this.driver.close();
  }
}

function describe(err: unknown): string {
  const e = err as Error & { code?: string };
  if (e?.code === 'Neo.ClientError.Security.Unauthorized') return `the credentials were refused (${e.message})`;
  return `${e?.code ? `${e.code}: ` : ''}${e?.message ?? String(err)}`;
}
