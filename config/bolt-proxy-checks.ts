/**
 * The `bolt-proxy` entries of `sources:`: the checks the schema cannot express, found by
 * `heimdall validate` with the line of the key at fault, and the one default the schema cannot hold.
 *
 * - Each entry is resolved as the daemon will resolve it (config/bolt-proxy.ts), so
 *   a bad listen address or upstream URI, an unreadable tls.cert or tls.key, and the non-loopback
 *   rule (an address other than loopback needs tls) are config errors, not start-up failures.
 * - Two proxies (or a proxy and the admin API) on the same address are a config error; port 0 picks
 *   a free port and never clashes.
 * - A proxy whose upstream is its own listen address would relay to itself: that happens when
 *   database.uri points at the proxy (the daemon's own driver through it) and upstream is left to
 *   its default, so the error says to set upstream.
 * - `upstream` defaults to the host of database.uri (fillBoltProxyUpstreams, at load time).
 */
import { isIPv6 } from 'node:net';
import { BOLT_PROXY_DEFAULTS, BoltProxyConfigError, parseHostPort, resolveBoltProxyConfig, upstreamFromDatabaseUri, withTlsPathsFrom, type BoltProxySourceConfig } from './bolt-proxy.js';
import type { PathSegment } from './yaml-doc.js';

export type IssueAt = (segments: PathSegment[], message: string, hint: string) => void;

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj | undefined => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : undefined);

const HINTS: Record<string, string> = {
  listen: 'Write listen as host:port, for example 127.0.0.1:7688.',
  upstream: 'Write upstream as bolt://host:port, bolt+s://host:port or bolt+ssc://host:port.',
  advertisedAddress: 'Write advertisedAddress as host:port, the address clients can reach the proxy at.',
  'tls.cert': 'Point tls.cert at a readable PEM certificate (relative to the config file).',
  'tls.key': 'Point tls.key at a readable PEM private key (relative to the config file).',
};

/** The upstream an entry ends up with: its own, else the host of database.uri. */
function upstreamOf(entry: Obj, data: Obj): string {
  if (typeof entry['upstream'] === 'string') return entry['upstream'];
  const uri = obj(data['database'])?.['uri'];
  return upstreamFromDatabaseUri(typeof uri === 'string' ? uri : undefined);
}

/** A comparable form of a host: lower case, no brackets, localhost as 127.0.0.1. */
function hostKey(host: string): string {
  const h = host.toLowerCase().replace(/^\[|\]$/g, '');
  if (h === 'localhost' || h === '::ffff:127.0.0.1') return '127.0.0.1';
  return isIPv6(h) ? new URL(`http://[${h}]/`).hostname : h;
}

const WILDCARD = new Set(['0.0.0.0', '[::]', '::']);

/** Whether binding a and b (host, port) would clash: same port and same host, or either on every address. */
function clash(a: { host: string; port: number }, b: { host: string; port: number }): boolean {
  if (a.port === 0 || b.port === 0 || a.port !== b.port) return false;
  const ha = hostKey(a.host);
  const hb = hostKey(b.host);
  return ha === hb || WILDCARD.has(ha) || WILDCARD.has(hb);
}

/** Every key has the type the schema wants (else the schema has reported it, and resolving would only repeat that). */
function shapeOk(e: Obj): boolean {
  const str = (k: string): boolean => e[k] === undefined || (typeof e[k] === 'string' && e[k] !== '');
  const tls = e['tls'];
  const tlsOk = tls === undefined || (typeof obj(tls)?.['cert'] === 'string' && typeof obj(tls)?.['key'] === 'string');
  const max = e['maxQueryChars'];
  const up = e['upstream'];
  if (up !== undefined && (typeof up !== 'string' || !/^(bolt|neo4j)(\+s|\+ssc)?:\/\//.test(up))) return false;
  return str('listen') && str('upstream') && str('advertisedAddress') && tlsOk && (max === undefined || (Number.isInteger(max) && (max as number) >= 1)) && ['none', 'keys', 'full', undefined].includes(e['captureParams'] as string);
}

/** Whether the upstream is the proxy's own listen address (the same host, or loopback while listening on every address). */
function relaysToItself(listen: { host: string; port: number }, up: { host: string; port: number }): boolean {
  if (listen.port === 0 || listen.port !== up.port) return false;
  const l = hostKey(listen.host);
  const u = hostKey(up.host);
  return l === u || (WILDCARD.has(l) && (u.startsWith('127.') || u === '[::1]'));
}

/** Adds an issue (through `at`) for each problem of each bolt-proxy entry. `baseDir` resolves tls paths. */
export function checkBoltProxies(data: Obj, baseDir: string, at: IssueAt): void {
  const sources = Array.isArray(data['sources']) ? data['sources'] : [];
  const listens: Array<{ i: number; host: string; port: number }> = [];
  const server = obj(data['server']);
  sources.forEach((s, i) => {
    const entry = obj(s);
    if (entry?.['type'] !== 'bolt-proxy' || !shapeOk(entry)) return; // the schema's own errors say what is wrong
    const upstream = upstreamOf(entry, data);
    let listen: { host: string; port: number } | undefined;
    try {
      listen = parseHostPort(typeof entry['listen'] === 'string' ? entry['listen'] : BOLT_PROXY_DEFAULTS.listen, 'listen address', 'listen');
      const cfg = withTlsPathsFrom({ ...(entry as unknown as BoltProxySourceConfig), upstream }, baseDir);
      const r = resolveBoltProxyConfig(cfg);
      if (relaysToItself(listen, r.upstream)) {
        const derived = typeof entry['upstream'] !== 'string';
        at(
          ['sources', i, derived ? 'type' : 'upstream'],
          `sources[${i}] would relay to itself: its upstream ${upstream} is its own listen address ${String(entry['listen'] ?? '127.0.0.1:7688')}${derived ? ' (the default upstream is the host of database.uri, which points at this proxy)' : ''}.`,
          derived ? "Set upstream: to the database server's own address (for example bolt://127.0.0.1:7687); database.uri may stay on the proxy." : 'Set upstream to the database server, not to the proxy.',
        );
      }
    } catch (err) {
      if (!(err instanceof BoltProxyConfigError)) throw err;
      const key = err.key ?? 'type';
      // Schema errors on the same key (a wrong type, say) already say what is wrong.
      at(['sources', i, ...key.split('.')], err.message, err.hint ?? HINTS[key] ?? 'Correct this value of the bolt-proxy entry.');
      if (!listen) return;
    }
    const dup = listens.find((l) => clash(l, listen));
    if (dup) {
      at(['sources', i, 'listen'], `sources[${i}] listens on ${String(entry['listen'] ?? '127.0.0.1:7688')}, which sources[${dup.i}] (a bolt-proxy) already listens on.`, 'Give each bolt-proxy a listen address of its own.');
    } else if (server && typeof server['host'] === 'string' && typeof server['port'] === 'number' && clash(listen, { host: server['host'], port: server['port'] })) {
      at(['sources', i, 'listen'], `sources[${i}] listens on ${String(entry['listen'] ?? '127.0.0.1:7688')}, the admin API's address (server.host and server.port).`, 'Give the bolt-proxy another port than server.port.');
    }
    listens.push({ i, ...listen });
  });
}

/** Sets `upstream` on every bolt-proxy entry that has none (the host of database.uri). `data` is valid. */
export function fillBoltProxyUpstreams(data: Obj): void {
  const sources = Array.isArray(data['sources']) ? data['sources'] : [];
  for (const s of sources) {
    const entry = obj(s);
    if (entry?.['type'] === 'bolt-proxy' && entry['upstream'] === undefined) entry['upstream'] = upstreamOf(entry, data);
  }
}
