/**
 * The bolt proxies in `heimdall status`: one row per proxy (a `bolt-proxy` source of /v1/status)
 * with its listen address, upstream, state, connections open and total, pass-through connections,
 * bytes each way, events emitted and dropped.
 */
import type { SourceStatus } from '../sources/source.js';
import type { BoltProxyStatusDetails } from '../sources/bolt-proxy/bolt-proxy-source.js';
import { out, table } from './output.js';

/** 1536 → "1.5 KB". */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KB', 'MB', 'GB', 'TB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v >= 100 ? v.toFixed(0) : v.toFixed(1)} ${units[i]}`;
}

/** Prints the proxies' table, after an empty line; nothing when there is no bolt-proxy source. */
export function printBoltProxies(sources: readonly SourceStatus[]): void {
  const proxies = sources.filter((s) => s.type === 'bolt-proxy' && s.details);
  if (proxies.length === 0) return;
  out();
  out(table(
    ['bolt proxy', 'upstream', 'state', 'connections', 'pass-through', 'client→server', 'server→client', 'events', 'dropped'],
    proxies.map((s) => {
      const d = s.details as unknown as BoltProxyStatusDetails;
      return [
        `${d.tls ? 'bolt+s' : 'bolt'}://${d.listen}`,
        d.upstream,
        s.state,
        `${d.connections.open} open / ${d.connections.total}`,
        `${d.passThrough.open} open / ${d.passThrough.total}`,
        formatBytes(d.bytes.clientToServer),
        formatBytes(d.bytes.serverToClient),
        d.events.emitted,
        d.events.dropped,
      ];
    }),
  ));
}
