/**
 * A real BoltProxySource in front of this run's Neo4j (or any upstream), collecting its events and
 * log lines, plus a TCP recorder for bytes-identical checks.
 */
import net from 'node:net';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import neo4j, { type Driver } from 'neo4j-driver';
import type { DatabaseEvent } from '../../sdk/events.js';
import { BoltProxySource, type BoltProxySourceConfig, type BoltProxySourceOptions } from '../../daemon/sources/bolt-proxy/index.js';
import { testNeo4j } from './neo4j.js';

export interface LogLine {
  level: number;
  msg: string;
}

export interface TestProxy {
  source: BoltProxySource;
  events: DatabaseEvent[];
  logs: LogLine[];
  /** host:port the proxy listens on. */
  address: string;
  /** Waits until every event observed so far has been emitted. */
  quiet(): Promise<void>;
  /** Waits until `pred` holds for the collected events (the proxy's buffer is flushed first). */
  waitFor(pred: (events: DatabaseEvent[]) => boolean, what: string, timeoutMs?: number): Promise<void>;
  /** Waits until the proxy has no client connection open. */
  waitNoConnections(timeoutMs?: number): Promise<void>;
  warnings(): string[];
  stop(): Promise<void>;
}

export async function startTestProxy(
  config: Partial<BoltProxySourceConfig> = {},
  extra: Partial<Omit<BoltProxySourceOptions, 'config' | 'logger'>> = {},
): Promise<TestProxy> {
  const upstream = config.upstream ?? (await testNeo4j()).uri;
  const events: DatabaseEvent[] = [];
  const logs: LogLine[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) {
        const j = JSON.parse(line) as { level: number; msg: string };
        logs.push({ level: j.level, msg: j.msg });
      }
      cb();
    },
  });
  const source = new BoltProxySource({
    config: { type: 'bolt-proxy', listen: '127.0.0.1:0', ...config, upstream },
    emit: extra.emit ?? ((evs) => void events.push(...evs)),
    logger: pino({ level: 'debug' }, stream),
    ...extra,
  });
  await source.start();
  const quiet = (): Promise<void> => source.flush();
  const waitUntil = async (cond: () => boolean, what: string, timeoutMs: number): Promise<void> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      await quiet();
      if (cond()) return;
      if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}.`);
      await new Promise((r) => setTimeout(r, 10));
    }
  };
  return {
    source,
    events,
    logs,
    address: source.address,
    quiet,
    waitFor: (pred, what, timeoutMs = 15_000) => waitUntil(() => pred(events), what, timeoutMs),
    waitNoConnections: (timeoutMs = 15_000) => waitUntil(() => source.status().details.connections.open === 0, 'the proxy to have no open connection', timeoutMs),
    warnings: () => logs.filter((l) => l.level === 40).map((l) => l.msg),
    stop: () => source.stop(),
  };
}

/** A driver for this run's Neo4j user, pointed at `address` (the proxy) with `scheme`. */
export async function proxyDriver(address: string, scheme = 'bolt', config: Record<string, unknown> = {}): Promise<Driver> {
  const { user, password } = await testNeo4j();
  return neo4j.driver(`${scheme}://${address}`, neo4j.auth.basic(user, password), { logging: { level: 'error', logger: () => {} }, ...config });
}

/** Only the events of one type (and, optionally, whose query matches). */
export function ofType(events: DatabaseEvent[], type: string, query?: RegExp | string): DatabaseEvent[] {
  return events.filter((e) => e.type === type && (query === undefined || (typeof query === 'string' ? e.query === query : query.test(e.query ?? ''))));
}

export const bolt = (e: DatabaseEvent | undefined): Record<string, unknown> => (e?.metadata?.bolt ?? {}) as Record<string, unknown>;

/**
 * A plain TCP relay that records every byte each way (for comparing what a server sent with what a
 * client received). Connections are numbered in the order they were accepted.
 */
export class TcpRecorder {
  readonly toServer: Buffer[][] = [];
  readonly toClient: Buffer[][] = [];
  private server: net.Server | undefined;
  private readonly sockets = new Set<net.Socket>();
  address = '';

  constructor(private readonly target: string) {}

  async start(): Promise<void> {
    const i = this.target.lastIndexOf(':');
    const host = this.target.slice(0, i).replace(/^.*\/\//, '');
    const port = Number(this.target.slice(i + 1));
    this.server = net.createServer((c) => {
      const n = this.toServer.length;
      this.toServer.push([]);
      this.toClient.push([]);
      const u = net.connect({ host, port });
      for (const s of [c, u]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
      }
      c.on('data', (d: Buffer) => {
        this.toServer[n]!.push(Buffer.from(d));
        u.write(d);
      });
      u.on('data', (d: Buffer) => {
        this.toClient[n]!.push(Buffer.from(d));
        c.write(d);
      });
      c.on('end', () => u.end());
      u.on('end', () => c.end());
      c.on('error', () => u.destroy());
      u.on('error', () => c.destroy());
      c.on('close', () => u.destroy());
      u.on('close', () => c.destroy());
    });
    await new Promise<void>((res) => this.server!.listen(0, '127.0.0.1', () => res()));
    const a = this.server.address() as net.AddressInfo;
    this.address = `127.0.0.1:${a.port}`;
  }

  bytes(dir: 'toServer' | 'toClient', n: number): Buffer {
    return Buffer.concat(this[dir][n] ?? []);
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((res) => (this.server ? this.server.close(() => res()) : res()));
  }
}
