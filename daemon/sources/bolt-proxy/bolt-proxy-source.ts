/**
 * The `bolt-proxy` source: a Bolt relay applications connect to instead of the database, with an
 * observe-only tap that turns queries, failures, commits and rollbacks into events (README.md here).
 *
 *   client ──► net/tls server (listen) ──► Relay ──► upstream (bolt / bolt+s / bolt+ssc)
 *                                            │ copy
 *                                            ▼
 *                                     ConnectionTap ──► EventBuffer (bounded) ──► emit(events)
 *
 * Several may run at once (one per `sources[]` entry); each is named bolt-proxy@<listen>.
 */
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import tls from 'node:tls';
import type { Logger } from 'pino';
import type { SourceStatus } from '../source.js';
import type { EventSource } from '../source.js';
import { resolveBoltProxyConfig, type BoltProxySourceConfig, type ResolvedBoltProxyConfig } from '../../../config/bolt-proxy.js';
import { EventBuffer, type EventConsumer } from './event-buffer.js';
import { Relay } from './relay.js';
import { ConnectionTap } from './tap.js';

export interface BoltProxySourceOptions {
  /** The `sources[]` entry (defaults are applied here). */
  config: BoltProxySourceConfig;
  /** Hands events to the router. May return a promise: the proxy then waits for it before the next batch (events wait in the bounded buffer meanwhile). */
  emit: EventConsumer;
  logger: Logger;
  /** database.uri, whose host is the default upstream. */
  databaseUri?: string;
  /** Database named in events when neither the client nor the server said which (database.database). Default 'neo4j'. */
  defaultDatabase?: string;
  /** Events waiting for `emit`, at most; more are dropped and counted. Default 10,000. */
  bufferCapacity?: number;
  /** Most bytes of one client message the tap keeps (longer RUNs keep their query, not their parameters). Default 4 MiB. */
  maxClientMessageBytes?: number;
}

export interface BoltProxyStatusDetails {
  listen: string;
  upstream: string;
  advertisedAddress: string;
  tls: boolean;
  captureParams: string;
  upstreamReachable: boolean;
  connections: { open: number; total: number };
  passThrough: { open: number; total: number };
  bytes: { clientToServer: number; serverToClient: number };
  events: { emitted: number; dropped: number; buffered: number };
  authFailures: number;
  routeRewrites: number;
  upstreamFailures: number;
}

export class BoltProxySource implements EventSource {
  readonly cfg: ResolvedBoltProxyConfig;
  private log: Logger;
  private readonly buffer: EventBuffer;
  private readonly tag = randomBytes(4).toString('hex');
  private server: net.Server | undefined;
  private state: SourceStatus['state'] = 'stopped';
  private reason: string | undefined;
  private listenAddress: string;
  private advertised: string | undefined;
  private readonly relays = new Set<Relay>();
  private connCounter = 0;
  private passThroughTotal = 0;
  private readonly counters = { bytesFromClients: 0, bytesFromServer: 0, authFailures: 0, routeRewrites: 0 };
  private upstreamReachable = true;
  private upstreamFailures = 0;
  /** A warning about the upstream has been logged and not yet followed by a good connection. */
  private upstreamTrouble = false;
  private muted = false;

  constructor(private readonly opts: BoltProxySourceOptions) {
    this.cfg = resolveBoltProxyConfig(opts.config, opts.databaseUri !== undefined ? { databaseUri: opts.databaseUri } : {});
    this.listenAddress = hostPort(this.cfg.host, this.cfg.port);
    this.log = opts.logger.child({ source: this.name });
    this.buffer = new EventBuffer(opts.bufferCapacity ?? 10_000, opts.emit, (err) =>
      this.log.error({ err }, `Handing bolt-proxy events to the router failed, so those events were lost: ${(err as Error)?.message ?? String(err)}.`),
    );
  }

  /** bolt-proxy@<listen address> (with the real port once listening, when listen had port 0). */
  get name(): string {
    return `bolt-proxy@${this.listenAddress}`;
  }

  /** The address clients connect to (the real port once listening, when listen had port 0). */
  get address(): string {
    return this.listenAddress;
  }

  get advertisedAddress(): string {
    return this.advertised ?? this.cfg.advertisedAddress ?? this.listenAddress;
  }

  async start(): Promise<void> {
    if (this.server) return;
    this.state = 'starting';
    const server = this.cfg.tls
      ? tls.createServer({ cert: this.cfg.tls.cert, key: this.cfg.tls.key, noDelay: true } as tls.TlsOptions, (s) => this.accept(s))
      : net.createServer({ noDelay: true }, (s) => this.accept(s));
    if (this.cfg.tls) {
      server.on('tlsClientError', (err: Error) => this.log.debug(`A client's TLS handshake with the bolt proxy failed: ${err.message}.`));
    }
    server.on('error', (err) => this.log.error({ err }, `The bolt proxy on ${this.listenAddress} failed and no longer accepts connections: ${err.message}.`));
    await new Promise<void>((res, rej) => {
      const onError = (err: Error): void => {
        this.state = 'failed';
        this.reason = `cannot listen on ${this.listenAddress}: ${err.message}`;
        rej(new Error(`The bolt proxy cannot listen on ${this.listenAddress}: ${err.message}.`));
      };
      server.once('error', onError);
      server.listen(this.cfg.port, this.cfg.host, () => {
        server.off('error', onError);
        res();
      });
    });
    const a = server.address();
    if (a && typeof a === 'object' && a.port !== this.cfg.port) {
      this.listenAddress = hostPort(this.cfg.host, a.port);
      this.log = this.opts.logger.child({ source: this.name });
    }
    this.server = server;
    this.state = 'running';
    this.reason = undefined;
    this.log.info(
      `The bolt proxy listens on ${this.cfg.tls ? 'bolt+s' : 'bolt'}://${this.listenAddress} and relays to ${this.cfg.upstream.uri}; ROUTE answers advertise ${this.advertisedAddress}, parameters are captured as ${this.cfg.captureParams}.`,
    );
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    const closed = new Promise<void>((res) => server.close(() => res()));
    for (const r of this.relays) r.destroy();
    await closed;
    await this.buffer.drain();
    this.state = 'stopped';
    this.log.info(`The bolt proxy on ${this.listenAddress} stopped after relaying ${this.connCounter} connection(s).`);
  }

  status(): SourceStatus & { details: BoltProxyStatusDetails } {
    let passOpen = 0;
    for (const r of this.relays) if (r.tap.passThrough && !r.client.destroyed) passOpen++;
    const s: SourceStatus & { details: BoltProxyStatusDetails } = {
      name: this.name,
      type: 'bolt-proxy',
      state: this.state === 'running' && !this.upstreamReachable ? 'degraded' : this.state,
      emitted: this.buffer.emitted,
      details: {
        listen: this.listenAddress,
        upstream: this.cfg.upstream.uri,
        advertisedAddress: this.advertisedAddress,
        tls: this.cfg.tls !== undefined,
        captureParams: this.cfg.captureParams,
        upstreamReachable: this.upstreamReachable,
        connections: { open: this.relays.size, total: this.connCounter },
        passThrough: { open: passOpen, total: this.passThroughTotal },
        bytes: { clientToServer: this.counters.bytesFromClients, serverToClient: this.counters.bytesFromServer },
        events: { emitted: this.buffer.emitted, dropped: this.buffer.dropped, buffered: this.buffer.size },
        authFailures: this.counters.authFailures,
        routeRewrites: this.counters.routeRewrites,
        upstreamFailures: this.upstreamFailures,
      },
    };
    const reason = this.state === 'running' && !this.upstreamReachable ? `the upstream ${this.cfg.upstream.uri} is unreachable` : this.reason;
    if (reason !== undefined) s.reason = reason;
    return s;
  }

  /**
   * Stops handing events to emit (the daemon is stopping and its plugins drain): relaying goes on,
   * events seen from now on are dropped and counted. Events already buffered are still handed over.
   */
  mute(): void {
    this.muted = true;
  }

  /** Resolves once every event observed so far has been handed to emit. */
  flush(): Promise<void> {
    return this.buffer.drain();
  }

  private accept(client: net.Socket): void {
    const id = `bolt-${this.tag}-${++this.connCounter}`;
    const peer = `${client.remoteAddress}:${client.remotePort}`;
    const tap = new ConnectionTap({
      connectionId: id,
      settings: { captureParams: this.cfg.captureParams, maxQueryChars: this.cfg.maxQueryChars, defaultDatabase: this.opts.defaultDatabase ?? 'neo4j' },
      advertisedAddress: () => this.advertisedAddress,
      emit: (ev) => {
        if (this.muted) this.buffer.dropped++;
        else this.buffer.push(ev);
      },
      counters: this.counters,
      maxClientMessageBytes: this.opts.maxClientMessageBytes ?? 4 << 20,
      onPassThrough: (reason) => {
        this.passThroughTotal++;
        this.log.warn(`Connection ${id} from ${peer} is relayed unobserved from now on (no events), because the proxy cannot follow it: ${reason}`);
      },
    });
    const relay = new Relay(client, this.cfg.upstream, tap, this.counters, {
      upstreamConnected: () => {
        if (this.upstreamTrouble) this.log.info(`The upstream ${this.cfg.upstream.uri} accepts connections again.`);
        this.upstreamTrouble = false;
        this.upstreamReachable = true;
      },
      upstreamFailed: (err) => {
        this.upstreamFailures++;
        this.upstreamReachable = false;
        this.upstreamWarning(`The upstream ${this.cfg.upstream.uri} cannot be reached (${(err as NodeJS.ErrnoException).code ?? err.message}); client connections are closed as the server would close them, and the proxy keeps listening on ${this.listenAddress}.`);
      },
      upstreamClosed: (reason) => {
        this.upstreamWarning(`The upstream ${this.cfg.upstream.uri} closed client connections (${reason}); the proxy closes each client's connection the same way and keeps listening on ${this.listenAddress}.`);
      },
      closed: () => this.relays.delete(relay),
    });
    this.relays.add(relay);
  }

  /** One warning per episode: until a new upstream connection succeeds, further trouble is not logged again. */
  private upstreamWarning(line: string): void {
    if (this.upstreamTrouble) return;
    this.upstreamTrouble = true;
    this.log.warn(line);
  }
}

function hostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
