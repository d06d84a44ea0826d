/**
 * The `bolt-proxy` source's settings (pinned keys, DESIGN.md "Wave 2") and their defaults:
 *
 *   listen             host:port the proxy accepts Bolt clients on            default 127.0.0.1:7688
 *   upstream           bolt://, bolt+s:// or bolt+ssc:// URI of the server    default the database.uri host
 *                      (neo4j:// schemes are accepted and mean the same server; the proxy speaks to one)
 *   advertisedAddress  host:port every role of a ROUTE answer becomes         default listen
 *   captureParams      none | keys | full                                     default keys
 *   maxQueryChars      query text (and full parameter strings) cut beyond     default 4096
 *   tls                { cert, key } PEM file paths (or PEM text): accept bolt+s:// clients
 *
 * Binding to an address other than loopback needs `tls`: the proxy holds no credentials of its own
 * (it relays each client's, and the server authenticates them), so what must be protected off the
 * machine is those credentials in transit. The rule mirrors the admin API's (no token, no
 * non-loopback bind).
 *
 * It lives in config/ because the config's checks (bolt-proxy-checks.ts) resolve each entry as the
 * proxy will; the proxy (daemon/sources/bolt-proxy/) imports it from here.
 */
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { isAbsolute, resolve } from 'node:path';

/** How much of a query's parameters events carry: none, each name with its value's type, or the values. */
export type CaptureParams = 'none' | 'keys' | 'full';

export interface BoltProxySourceConfig {
  type: 'bolt-proxy';
  listen?: string;
  upstream?: string;
  advertisedAddress?: string;
  captureParams?: CaptureParams;
  maxQueryChars?: number;
  tls?: { cert: string; key: string };
}

export const BOLT_PROXY_DEFAULTS = {
  listen: '127.0.0.1:7688',
  upstream: 'bolt://127.0.0.1:7687',
  captureParams: 'keys' as CaptureParams,
  maxQueryChars: 4096,
} as const;

export type UpstreamTls = 'none' | 'verify' | 'trust-any';

export interface UpstreamTarget {
  host: string;
  port: number;
  tls: UpstreamTls;
  /** As configured (or derived), for status and log lines. */
  uri: string;
}

export interface ResolvedBoltProxyConfig {
  host: string;
  port: number;
  upstream: UpstreamTarget;
  /** Undefined: the address the proxy ends up listening on (known after bind when port is 0). */
  advertisedAddress: string | undefined;
  captureParams: CaptureParams;
  maxQueryChars: number;
  tls: { cert: Buffer; key: Buffer } | undefined;
}

export class BoltProxyConfigError extends Error {
  override name = 'BoltProxyConfigError';
  /** The key of the sources[] entry at fault (listen, upstream, advertisedAddress, captureParams, maxQueryChars, tls.cert, tls.key), when one is. */
  readonly key: string | undefined;
  /** What to do about it, when the message does not say. */
  readonly hint: string | undefined;
  constructor(message: string, key?: string, hint?: string) {
    super(message);
    this.key = key;
    this.hint = hint;
  }
}

/** "host:port", "[v6]:port" → parts. */
export function parseHostPort(text: string, what: string, key?: string): { host: string; port: number } {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(text) ?? /^([^:[\]]+):(\d+)$/.exec(text);
  const port = m ? Number(m[2]) : NaN;
  if (!m || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new BoltProxyConfigError(`The bolt-proxy ${what} "${text}" is not host:port (for example 127.0.0.1:7688).`, key);
  }
  return { host: m[1]!, port };
}

export function isLoopback(host: string): boolean {
  if (host === 'localhost' || host === '::1') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  return host.startsWith('::ffff:127.');
}

const SCHEMES: Record<string, UpstreamTls> = {
  'bolt:': 'none',
  'neo4j:': 'none',
  'bolt+s:': 'verify',
  'neo4j+s:': 'verify',
  'bolt+ssc:': 'trust-any',
  'neo4j+ssc:': 'trust-any',
};

/** Parses an upstream URI (bolt, bolt+s, bolt+ssc, and the neo4j equivalents). */
export function parseUpstream(uri: string): UpstreamTarget {
  let u: URL;
  try {
    u = new URL(uri);
  } catch {
    throw new BoltProxyConfigError(`The bolt-proxy upstream "${uri}" is not a URI such as bolt://127.0.0.1:7687.`, 'upstream');
  }
  const tls = SCHEMES[u.protocol];
  if (!tls) throw new BoltProxyConfigError(`The bolt-proxy upstream "${uri}" has scheme ${u.protocol.slice(0, -1)}; use bolt://, bolt+s:// or bolt+ssc://.`, 'upstream');
  const host = u.hostname.replace(/^\[|\]$/g, '');
  if (!host) throw new BoltProxyConfigError(`The bolt-proxy upstream "${uri}" names no host.`, 'upstream');
  return { host, port: u.port ? Number(u.port) : 7687, tls, uri };
}

/** The default upstream: the host of database.uri, spoken to directly (bolt, keeping its TLS choice). */
export function upstreamFromDatabaseUri(databaseUri: string | undefined): string {
  if (!databaseUri) return BOLT_PROXY_DEFAULTS.upstream;
  const t = parseUpstream(databaseUri);
  const scheme = t.tls === 'none' ? 'bolt' : t.tls === 'verify' ? 'bolt+s' : 'bolt+ssc';
  const host = t.host.includes(':') ? `[${t.host}]` : t.host;
  return `${scheme}://${host}:${t.port}`;
}

/** tls.cert and tls.key as paths relative to `baseDir` (the config file's folder); PEM text stays as it is. */
export function withTlsPathsFrom<T extends BoltProxySourceConfig>(cfg: T, baseDir: string): T {
  if (!cfg.tls) return cfg;
  const at = (v: string): string => (v.includes('-----BEGIN') || isAbsolute(v) ? v : resolve(baseDir, v));
  return { ...cfg, tls: { cert: at(cfg.tls.cert), key: at(cfg.tls.key) } };
}

function pem(value: string, what: string): Buffer {
  if (value.includes('-----BEGIN')) return Buffer.from(value);
  try {
    return readFileSync(value);
  } catch (err) {
    throw new BoltProxyConfigError(`The bolt-proxy tls.${what} file ${value} cannot be read: ${(err as Error).message}.`, `tls.${what}`);
  }
}

export function resolveBoltProxyConfig(cfg: BoltProxySourceConfig, ctx: { databaseUri?: string } = {}): ResolvedBoltProxyConfig {
  const { host, port } = parseHostPort(cfg.listen ?? BOLT_PROXY_DEFAULTS.listen, 'listen address', 'listen');
  const upstream = parseUpstream(cfg.upstream ?? upstreamFromDatabaseUri(ctx.databaseUri));
  if (cfg.advertisedAddress !== undefined) parseHostPort(cfg.advertisedAddress, 'advertisedAddress', 'advertisedAddress');
  const captureParams = cfg.captureParams ?? BOLT_PROXY_DEFAULTS.captureParams;
  if (!['none', 'keys', 'full'].includes(captureParams)) {
    throw new BoltProxyConfigError(`The bolt-proxy captureParams "${String(captureParams)}" is not one of none, keys, full.`, 'captureParams');
  }
  const maxQueryChars = cfg.maxQueryChars ?? BOLT_PROXY_DEFAULTS.maxQueryChars;
  if (!Number.isInteger(maxQueryChars) || maxQueryChars < 1) {
    throw new BoltProxyConfigError(`The bolt-proxy maxQueryChars must be a whole number of at least 1, not ${String(maxQueryChars)}.`, 'maxQueryChars');
  }
  const tls = cfg.tls ? { cert: pem(cfg.tls.cert, 'cert'), key: pem(cfg.tls.key, 'key') } : undefined;
  if (!isLoopback(host) && !tls) {
    throw new BoltProxyConfigError(
      `The bolt-proxy would listen on ${host}, which is not a loopback address, without tls; set tls: { cert, key } so that clients' credentials do not cross the network in clear, or listen on 127.0.0.1.`,
      'listen',
      'Whoever reaches the proxy can send credentials through it; with tls they are encrypted on the way, and the server still authenticates every client.',
    );
  }
  return { host, port, upstream, advertisedAddress: cfg.advertisedAddress, captureParams, maxQueryChars, tls };
}
