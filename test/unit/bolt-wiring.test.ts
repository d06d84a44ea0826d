/**
 * How the daemon holds its bolt proxies, without Neo4j: SourceSet builds one per entry (with the
 * database's uri and name), their own lifecycle outlives the other sources (muted, still
 * listening), the router keeps the daemon's own queries from plugins that did not ask, and the
 * status table of `heimdall status`.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { parseConfig } from '../../config/loader.js';
import { formatBytes, printBoltProxies } from '../../daemon/cli/bolt-proxy-status.js';
import { Router, type QueueTarget } from '../../daemon/router/router.js';
import { SourceSet } from '../../daemon/sources/source-set.js';
import type { SourceStatus } from '../../daemon/sources/source.js';
import type { DatabaseEvent } from '../../sdk/index.js';

const silent = pino({ level: 'silent' });

function sourceSet(yaml: string): SourceSet {
  const config = parseConfig(yaml, { env: {} });
  return new SourceSet({ config, db: undefined, emit: () => {}, queues: () => [], logger: silent });
}

async function canConnect(address: string): Promise<boolean> {
  const i = address.lastIndexOf(':');
  return new Promise((res) => {
    const s = net.connect({ host: address.slice(0, i), port: Number(address.slice(i + 1)) });
    s.once('connect', () => {
      s.destroy();
      res(true);
    });
    s.once('error', () => res(false));
  });
}

describe('SourceSet with bolt-proxy entries', () => {
  it('builds one proxy per entry, upstream and database from the database section', () => {
    const set = sourceSet('database:\n  uri: neo4j://db.example:7700\n  database: shop\nsources:\n  - type: http\n  - type: bolt-proxy\n    listen: 127.0.0.1:0\n  - type: bolt-proxy\n    listen: 127.0.0.1:0\n    captureParams: none\n');
    assert.equal(set.proxies.size, 2);
    assert.deepEqual(set.statuses().map((s) => s.type), ['http', 'bolt-proxy', 'bolt-proxy']);
    const [a, b] = set.proxies.proxies;
    assert.equal(a!.cfg.upstream.uri, 'bolt://db.example:7700');
    assert.equal(b!.cfg.captureParams, 'none');
    assert.equal(set.statuses()[1]!.state, 'stopped');
  });

  it('started through its own lifecycle, a proxy outlives SourceSet.stop (muted, still listening) until the proxies stop', async () => {
    const set = sourceSet('sources:\n  - type: http\n  - type: bolt-proxy\n    listen: 127.0.0.1:0\n    upstream: bolt://127.0.0.1:1\n');
    await set.proxies.start();
    await set.start();
    const p = set.proxies.proxies[0]!;
    assert.equal(p.status().state, 'running');
    await set.stop();
    assert.equal(set.statuses()[0]!.state, 'stopped', 'the http source stopped');
    assert.equal(p.status().state, 'running', 'the proxy still relays');
    assert.ok(await canConnect(p.address));
    await set.proxies.stop();
    assert.equal(p.status().state, 'stopped');
    assert.equal(await canConnect(p.address), false);
  });

  it('used on its own (no lifecycle of the proxies), SourceSet starts and stops them with the others', async () => {
    const set = sourceSet('sources:\n  - type: bolt-proxy\n    listen: 127.0.0.1:0\n    upstream: bolt://127.0.0.1:1\n');
    await set.start();
    const p = set.proxies.proxies[0]!;
    assert.equal(p.status().state, 'running');
    await set.stop();
    assert.equal(p.status().state, 'stopped');
  });
});

class Target implements QueueTarget {
  readonly got: string[] = [];
  constructor(readonly name: string, readonly receiveOwnEvents = false) {}
  subscribes(): boolean {
    return true;
  }
  offer(e: DatabaseEvent): void {
    this.got.push(e.id);
  }
}

describe('Router and the daemon’s own queries', () => {
  it("keeps a bolt-proxy event of the daemon's own (origin heimdall) from plugins unless they set receiveOwnEvents; outbox events are unchanged", () => {
    const ev = (id: string, source: string, plugin?: string): DatabaseEvent => ({ id, type: 'query.executed', timestamp: '2025-01-01T00:00:00Z', database: 'neo4j', source, ...(plugin ? { metadata: { origin: { plugin } } } : {}) });
    const plain = new Target('plain');
    const curious = new Target('curious', true);
    const r = new Router();
    r.setTargets([plain, curious]);
    r.route([ev('app', 'bolt-proxy'), ev('health', 'bolt-proxy', 'heimdall'), ev('by-plain', 'bolt-proxy', 'plain'), ev('by-curious', 'bolt-proxy', 'curious'), ev('outbox-daemon', 'neo4j-apoc', 'heimdall')]);
    assert.deepEqual(plain.got, ['app', 'by-curious', 'outbox-daemon']);
    assert.deepEqual(curious.got, ['app', 'health', 'by-plain', 'by-curious', 'outbox-daemon']);
  });
});

describe('heimdall status: the bolt proxies table', () => {
  it('prints one row per proxy, and nothing without one', () => {
    assert.deepEqual([0, 1023, 1536, 10 * 1024 * 1024, 3.5 * 1024 ** 3].map(formatBytes), ['0 B', '1023 B', '1.5 KB', '10.0 MB', '3.5 GB']);
    const lines: string[] = [];
    const write = process.stdout.write;
    process.stdout.write = ((chunk: string) => lines.push(chunk) > 0) as typeof process.stdout.write;
    const details = {
      listen: '127.0.0.1:7688',
      upstream: 'bolt://127.0.0.1:7687',
      tls: false,
      connections: { open: 3, total: 12 },
      passThrough: { open: 0, total: 1 },
      bytes: { clientToServer: 2048, serverToClient: 5 * 1024 * 1024 },
      events: { emitted: 140, dropped: 2, buffered: 0 },
    };
    try {
      printBoltProxies([{ name: 'http', type: 'http', state: 'running', emitted: 0 }]);
      assert.equal(lines.length, 0);
      printBoltProxies([{ name: 'bolt-proxy@127.0.0.1:7688', type: 'bolt-proxy', state: 'degraded', emitted: 140, details } as SourceStatus]);
    } finally {
      process.stdout.write = write;
    }
    const text = lines.join('');
    assert.match(text, /^\nBOLT PROXY\s+UPSTREAM\s+STATE/);
    assert.match(text, /bolt:\/\/127\.0\.0\.1:7688\s+bolt:\/\/127\.0\.0\.1:7687\s+degraded\s+3 open \/ 12\s+0 open \/ 1\s+2\.0 KB\s+5\.0 MB\s+140\s+2\n$/);
  });
});
