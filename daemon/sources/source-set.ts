/**
 * The sources the config lists (`sources:`), built with one emit callback (the router), started
 * in config order and stopped together. Each reports its own status.
 *
 * - http: POST /v1/events; {@link SourceSet.ingest} hands it the request's items.
 * - system: database.started / database.shutdown from the database router's connectivity watch.
 * - neo4j-apoc: the durable outbox (README.md here), with a delivery checkpoint and back-pressure
 *   read from the plugin queues.
 * - bolt-proxy: a Bolt relay per entry (bolt-proxy/README.md); `proxies` is their own lifecycle,
 *   which the daemon starts before the database router (see bolt-proxy/proxy-set.ts).
 */
import type { Logger } from 'pino';
import type { EventLimitsConfig, HeimdallConfig } from '../../config/types.js';
import type { Database } from '../db/database.js';
import { BoltProxySet } from './bolt-proxy/proxy-set.js';
import { HttpSource, type IngestResult } from './http-source.js';
import { Neo4jApocSource, roomInQueues, settledWhenQueuesDrain, type BoundedQueue, type CountingQueue, type Notify } from './neo4j-apoc/index.js';
import type { Emit, EventSource, SourceStatus } from './source.js';
import { SystemSource } from './system-source.js';

export interface SourceSetOptions {
  config: Pick<HeimdallConfig, 'sources' | 'database'> & { baseDir?: string };
  /** The database router, when a database is configured. */
  db: Database | undefined;
  emit: Emit;
  /** The plugin queues now (for the outbox's delivery checkpoint and back-pressure). */
  queues: () => ReadonlyArray<CountingQueue & BoundedQueue>;
  logger: Logger;
  /** limits.events: the http source checks them per item at ingest and holds events during start-up. */
  eventLimits?: EventLimitsConfig;
  /** Daemon notices on Bifrost (the outbox says when capture was switched off, and when it is back). */
  notify?: Notify;
}

const NO_HTTP_SOURCE = 'POST /v1/events is off: sources: in the config has no `- type: http` entry. Add one and restart the daemon to send events over HTTP.';

export class SourceSet {
  readonly name = 'sources';
  readonly sources: EventSource[] = [];
  private readonly http: HttpSource | undefined;
  private readonly outboxes: Neo4jApocSource[] = [];
  /** The bolt-proxy sources; the daemon runs their lifecycle itself (see BoltProxySet). */
  readonly proxies: BoltProxySet;

  constructor(opts: SourceSetOptions) {
    const { config, db, emit, logger } = opts;
    this.proxies = new BoltProxySet({ emit, logger: logger.child({ component: 'bolt-proxy' }), database: config.database, baseDir: config.baseDir });
    for (const sc of config.sources) {
      if (sc.type === 'http' && !this.http) {
        const l = opts.eventLimits;
        this.http = new HttpSource({
          emit,
          database: config.database?.database ?? 'neo4j',
          ...(l ? { limits: { maxDepth: l.maxDepth, maxBytes: l.maxBytes }, startupBuffer: { events: l.startupBufferEvents, bytes: l.startupBufferBytes } } : {}),
        });
        this.sources.push(this.http);
      } else if (sc.type === 'system' && !this.sources.some((s) => s.name === 'system')) {
        this.sources.push(new SystemSource({ emit, ...(db ? { db, uri: db.where } : {}) }));
      } else if (sc.type === 'neo4j-apoc' && db) {
        const src = new Neo4jApocSource({
          db,
          config: sc,
          emit,
          logger: logger.child({ component: 'neo4j-apoc' }),
          settled: settledWhenQueuesDrain(opts.queues),
          room: roomInQueues(opts.queues),
          ...(opts.notify ? { notify: opts.notify } : {}),
        });
        this.outboxes.push(src);
        this.sources.push(src);
      } else if (sc.type === 'bolt-proxy') {
        this.sources.push(this.proxies.add(sc));
      }
    }
  }

  /** Starts every source in config order. */
  async start(): Promise<void> {
    for (const s of this.sources) await s.start();
  }

  /**
   * Stops every source at once (asked in reverse order of start), so none takes new events while
   * another one (the outbox) waits for its last batch to settle.
   */
  async stop(): Promise<void> {
    this.proxies.mute();
    await Promise.all([...this.sources].reverse().filter((s) => !this.proxies.ownsLifecycleOf(s)).map((s) => s.stop()));
  }

  statuses(): SourceStatus[] {
    return this.sources.map((s) => s.status());
  }

  /** Items POSTed to /v1/events (see HttpSource.ingest); all refused when no http source is configured. */
  ingest(items: readonly unknown[], source?: string, texts?: readonly string[]): IngestResult {
    if (this.http) return this.http.ingest(items, source, texts);
    return { accepted: 0, rejected: items.map((_, index) => ({ index, reason: NO_HTTP_SOURCE })), ids: [] };
  }

  /** Outbox entries waiting per captured database, or undefined without a neo4j-apoc source. */
  outboxBacklog(): (() => Array<{ database: string; entries: number }>) | undefined {
    if (this.outboxes.length === 0) return undefined;
    return () => this.outboxes.map((s) => ({ database: s.database, entries: s.backlog() }));
  }
}
