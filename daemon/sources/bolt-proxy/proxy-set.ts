/**
 * The bolt proxies of one daemon (one per `- type: bolt-proxy` entry), as SourceSet builds them:
 * emit = the router, database.uri and database.database from the config, tls paths relative to the
 * config file.
 *
 * Their lifecycle is their own ({@link BoltProxySet.start} / {@link BoltProxySet.stop}), because
 * applications connect to them: the daemon starts them before the database router and stops them
 * after it, so the daemon's own driver may go through a proxy (database.uri on the proxy) and
 * applications can connect for as long as the daemon runs. When the other sources stop, the proxies
 * are muted instead ({@link BoltProxySet.mute}): they keep relaying, and the events they still see
 * are dropped (counted), so draining plugin queues is not kept busy by new traffic.
 * Without a call to start() (a SourceSet used on its own), SourceSet starts and stops them with
 * the other sources.
 */
import type { Logger } from 'pino';
import type { BoltProxySourceEntry, DatabaseConfig } from '../../../config/types.js';
import type { Emit } from '../source.js';
import { BoltProxySource, type BoltProxyStatusDetails } from './bolt-proxy-source.js';
import { withTlsPathsFrom } from '../../../config/bolt-proxy.js';

export interface BoltProxyReport {
  name: string;
  state: string;
  details: BoltProxyStatusDetails;
}

export class BoltProxySet {
  readonly name = 'the bolt proxies';
  readonly proxies: BoltProxySource[] = [];
  private early = false;

  constructor(
    private readonly opts: { emit: Emit; logger: Logger; database: DatabaseConfig | undefined; baseDir: string | undefined },
  ) {}

  get size(): number {
    return this.proxies.length;
  }

  /** Builds the proxy of one sources[] entry (it listens once started). */
  add(entry: BoltProxySourceEntry): BoltProxySource {
    const db = this.opts.database;
    const src = new BoltProxySource({
      config: this.opts.baseDir ? withTlsPathsFrom(entry, this.opts.baseDir) : entry,
      emit: this.opts.emit,
      logger: this.opts.logger,
      ...(db ? { databaseUri: db.uri, defaultDatabase: db.database } : {}),
    });
    this.proxies.push(src);
    return src;
  }

  /** Whether `s` is one of these proxies and their own lifecycle runs them (start() was called). */
  ownsLifecycleOf(s: unknown): boolean {
    return this.early && this.proxies.includes(s as BoltProxySource);
  }

  /** Starts every proxy (in config order); the daemon calls this before the database router starts. */
  async start(): Promise<void> {
    this.early = true;
    for (const p of this.proxies) await p.start();
  }

  /** Stops handing events to the router; relaying goes on. */
  mute(): void {
    for (const p of this.proxies) p.mute();
  }

  async stop(): Promise<void> {
    await Promise.all(this.proxies.map((p) => p.stop()));
  }

  /** Each proxy's status, for /metrics. */
  reports(): BoltProxyReport[] {
    return this.proxies.map((p) => {
      const s = p.status();
      return { name: s.name, state: s.state, details: s.details };
    });
  }
}
