/**
 * One client connection relayed to the upstream server.
 *
 * Bytes are written to the other side the moment they arrive (no waiting for whole messages, no
 * copy), then the tap reads them. The one exception is a ROUTE answer, which the tap holds until it
 * is complete to rewrite it (tap.forwardServer). Flow control is the sockets' own: when one side's
 * write buffer is full the other side is paused until it drains, so memory stays bounded by the
 * sockets' high-water marks.
 *
 * Closing: either side ending or failing ends the other the same way (the client sees exactly what a
 * server going away looks like: its data so far, then the connection closing). The relay never
 * closes a connection because of what the tap could or could not read.
 */
import net from 'node:net';
import tls from 'node:tls';
import type { UpstreamTarget } from '../../../config/bolt-proxy.js';
import type { ConnectionTap } from './tap.js';

export interface RelayCounters {
  bytesFromClients: number;
  bytesFromServer: number;
}

export interface RelayEvents {
  /** The upstream connection is up (TCP, or TLS after its handshake). */
  upstreamConnected(): void;
  /** The upstream connection could not be made. */
  upstreamFailed(err: Error): void;
  /** The upstream ended or broke a connection the client had not closed. */
  upstreamClosed(reason: string): void;
  /** Both sides are gone. */
  closed(): void;
}

/** How long a side that was told to end may take before it is destroyed. */
const END_GRACE_MS = 10_000;

export function connectUpstream(target: UpstreamTarget): net.Socket {
  if (target.tls === 'none') return net.connect({ host: target.host, port: target.port, noDelay: true, keepAlive: true });
  return tls.connect({
    host: target.host,
    port: target.port,
    servername: net.isIP(target.host) ? undefined : target.host,
    rejectUnauthorized: target.tls === 'verify',
    noDelay: true,
    keepAlive: true,
  } as tls.ConnectionOptions);
}

export class Relay {
  private readonly upstream: net.Socket;
  private clientGone = false;
  private upstreamUp = false;
  private done = false;

  constructor(
    readonly client: net.Socket,
    target: UpstreamTarget,
    readonly tap: ConnectionTap,
    private readonly counters: RelayCounters,
    private readonly on: RelayEvents,
  ) {
    client.setNoDelay(true);
    const up = connectUpstream(target);
    this.upstream = up;
    up.once(target.tls === 'none' ? 'connect' : 'secureConnect', () => {
      this.upstreamUp = true;
      this.on.upstreamConnected();
    });

    const toClient = (b: Buffer): void => {
      if (!client.write(b)) up.pause();
    };
    client.on('data', (d: Buffer) => {
      this.counters.bytesFromClients += d.length;
      if (!up.write(d)) client.pause();
      tap.client(d);
    });
    up.on('data', (d: Buffer) => {
      this.counters.bytesFromServer += d.length;
      if (tap.serverRewriting) return tap.forwardServer(d, toClient);
      toClient(d);
      tap.server(d);
    });
    up.on('drain', () => client.resume());
    client.on('drain', () => up.resume());

    client.on('end', () => {
      this.clientGone = true;
      up.end();
      this.graceThenDestroy(up);
    });
    up.on('end', () => {
      tap.flushHeld(toClient);
      if (!this.clientGone && !tap.goodbye) this.on.upstreamClosed('the server closed the connection');
      client.end();
      this.graceThenDestroy(client);
    });
    client.on('error', () => {
      // The client vanished (reset, killed): the upstream connection goes too.
      this.clientGone = true;
      up.destroy();
    });
    up.on('error', (err: Error) => {
      if (!this.upstreamUp) this.on.upstreamFailed(err);
      else if (!this.clientGone && !tap.goodbye) this.on.upstreamClosed(`the connection to the server failed (${(err as NodeJS.ErrnoException).code ?? err.message})`);
      tap.flushHeld(toClient);
      // A server that refuses or resets looks the same to the client: the connection closes.
      if (client.writableLength > 0) {
        client.end();
        this.graceThenDestroy(client);
      } else client.destroy();
    });
    client.on('close', () => {
      this.clientGone = true;
      if (!up.destroyed) up.destroy();
      this.finish();
    });
    up.on('close', () => {
      if (!client.destroyed && !client.writableEnded) {
        client.end();
        this.graceThenDestroy(client);
      }
      this.finish();
    });
  }

  /** Ends both sides at once (the proxy is stopping). */
  destroy(): void {
    this.client.destroy();
    this.upstream.destroy();
  }

  private graceThenDestroy(s: net.Socket): void {
    const t = setTimeout(() => s.destroy(), END_GRACE_MS);
    t.unref();
    s.once('close', () => clearTimeout(t));
  }

  private finish(): void {
    if (this.done || !this.client.destroyed || !this.upstream.destroyed) return;
    this.done = true;
    this.tap.close();
    this.on.closed();
  }
}
