/**
 * The bolt-proxy as a source of the daemon, from its config: a real neo4j-driver client talks to
 * the real Neo4j through the proxy the daemon started, and the events reach a plugin's worker
 * through the router with every pinned field; /v1/status, `heimdall status` and /metrics show the
 * proxy. Then the daemon's own driver through the proxy (database.uri on it): its queries are
 * recognised (metadata.origin) and reach only the plugins that ask for them.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { resolve } from 'node:path';
import neo4j, { type Driver } from 'neo4j-driver';
import type { RunningDaemon } from '../../daemon/daemon.js';
import type { DaemonStatus } from '../../daemon/http/daemon-api.js';
import type { DatabaseEvent } from '../../sdk/events.js';
import { runCli } from '../helpers/daemon-process.js';
import { pluginYaml, startTestDaemon, waitFor } from '../helpers/in-process-daemon.js';
import { openTestDriver, testNeo4j, wipeDatabase } from '../helpers/neo4j.js';
import { REPO_ROOT } from '../helpers/paths.js';

const fixture = (n: string) => resolve(REPO_ROOT, 'test/fixtures/plugins', n);
const op = { kind: 'operator' as const };
const bolt = (e: DatabaseEvent | undefined): Record<string, unknown> => (e?.metadata?.bolt ?? {}) as Record<string, unknown>;

type Seen = DatabaseEvent & { receivedAt: number };

async function taken(d: RunningDaemon, plugin = 'bolt-recorder'): Promise<Seen[]> {
  const r = await d.api.invokeAction(`heimdall.${plugin}.take`, { source: 'bolt-proxy' }, op);
  return r.data!['events'] as Seen[];
}

async function waitForEvents(d: RunningDaemon, what: string, pred: (evs: Seen[]) => boolean, plugin = 'bolt-recorder'): Promise<Seen[]> {
  let last: Seen[] = [];
  await waitFor(what, async () => pred((last = await taken(d, plugin))), 20_000);
  return last;
}

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

const dbYaml = (uri: string, user: string, password: string) => `database:\n  uri: ${uri}\n  user: ${user}\n  password: ${JSON.stringify(password)}\n`;

describe('bolt-proxy started by the daemon from its config', () => {
  let d: RunningDaemon;
  let app: Driver;
  let direct: Driver;
  let user: string;
  let listen: string;

  before(async () => {
    const n = await testNeo4j();
    user = n.user;
    direct = await openTestDriver();
    await wipeDatabase(direct);
    d = await startTestDaemon(
      [pluginYaml(fixture('bolt-recorder.mjs'))],
      `${dbYaml(n.uri, n.user, n.password)}sources:\n  - type: http\n  - type: bolt-proxy\n    listen: 127.0.0.1:0\n    captureParams: keys\n`,
    );
    listen = d.internals.sources.proxies.proxies[0]!.address;
    app = neo4j.driver(`bolt://${listen}`, neo4j.auth.basic(n.user, n.password), { userAgent: 'shop-app/2.1', logging: { level: 'error', logger: () => {} } });
  });

  after(async () => {
    await app?.close();
    await d?.stop();
    await wipeDatabase(direct);
    await direct?.close();
  });

  it('delivers query.executed, query.failed, transaction.commit and transaction.rollback to a plugin with the pinned fields', async () => {
    const s = app.session({ database: 'neo4j' });
    try {
      await s.run('CREATE (:BoltDaemonItem {sku: $sku, qty: $qty})', { sku: 'a-1', qty: neo4j.int(2) });
      await assert.rejects(s.run('MATCH (n:BoltDaemonItem RETURN n'), /Invalid input|SyntaxError/);
      const tx = s.beginTransaction({ metadata: { order: 'o-17' } });
      await tx.run('MATCH (n:BoltDaemonItem {sku: $sku}) SET n.qty = n.qty + 1', { sku: 'a-1' });
      await tx.run('RETURN 1');
      await tx.commit();
      const rb = s.beginTransaction();
      await rb.run('CREATE (:BoltDaemonGhost)');
      await rb.rollback();
    } finally {
      await s.close();
    }
    const evs = await waitForEvents(d, 'the rollback to reach the plugin', (e) => e.some((x) => x.type === 'transaction.rollback'));

    const write = evs.find((e) => e.type === 'query.executed' && e.query === 'CREATE (:BoltDaemonItem {sku: $sku, qty: $qty})')!;
    assert.ok(write, 'the auto-commit write reached the plugin');
    assert.equal(write.source, 'bolt-proxy');
    assert.equal(write.database, 'neo4j');
    assert.equal(write.userId, user);
    assert.deepEqual(write.queryParams, { sku: 'String', qty: 'Integer' });
    assert.equal(write.rowsAffected, 1 + 2 + 1); // a node, two properties, a label
    assert.ok(typeof write.durationMs === 'number' && write.durationMs > 0);
    assert.match(write.requestId!, /^bolt-[0-9a-f]{8}-\d+$/);
    assert.match(write.txId!, new RegExp(`^${write.requestId}:\\d+$`));
    const wb = bolt(write);
    assert.match(String(wb['version']), /^5\.\d+$/);
    assert.equal(wb['userAgent'], 'shop-app/2.1');
    assert.equal(wb['queryType'], 'w');
    assert.equal(wb['autoCommit'], true);
    assert.deepEqual(wb['stats'], { containsUpdates: true, labelsAdded: 1, nodesCreated: 1, propertiesSet: 2 });
    assert.equal(typeof wb['tFirstMs'], 'number');
    assert.equal(typeof wb['tLastMs'], 'number');
    assert.match(String(wb['bookmark']), /^FB:/);
    assert.equal(write.metadata!.origin, undefined, "an application's query has no origin");

    const failed = evs.find((e) => e.type === 'query.failed')!;
    assert.equal(failed.query, 'MATCH (n:BoltDaemonItem RETURN n');
    assert.match(failed.error!, /^Neo\.ClientError\.Statement\.SyntaxError: /);
    assert.equal(failed.userId, user);
    assert.equal(bolt(failed)['autoCommit'], true);
    if (Number(String(bolt(failed)['version']).split('.')[1]) >= 7) assert.match(String(bolt(failed)['gqlStatus']), /^[0-9A-Z]{5}$/);

    const inTx = evs.filter((e) => e.metadata?.tx?.['order'] === 'o-17');
    assert.deepEqual(inTx.map((e) => e.type), ['query.executed', 'query.executed', 'transaction.commit']);
    const commit = inTx[2]!;
    assert.equal(new Set(inTx.map((e) => e.txId)).size, 1, 'the statements and the commit share the txId');
    assert.equal(bolt(commit)['statements'], 2);
    assert.equal(bolt(commit)['autoCommit'], false);
    assert.ok(commit.durationMs! > 0);
    assert.match(String(bolt(commit)['bookmark']), /^FB:/);
    assert.equal(bolt(inTx[0])['autoCommit'], false);

    const rollback = evs.find((e) => e.type === 'transaction.rollback')!;
    assert.equal(bolt(rollback)['reason'], 'rollback');
    assert.equal(bolt(rollback)['statements'], 1);
    assert.equal(rollback.requestId, write.requestId, 'one session, one connection');
    // every event the proxy handed over went through the router (ids are unique per proxy)
    assert.equal(new Set(evs.map((e) => e.id)).size, evs.length);
  });

  it('shows the proxy in /v1/status, in `heimdall status` and on /metrics, labelled by its listen address', async () => {
    const status = (await (await fetch(`${d.url}/v1/status`)).json()) as DaemonStatus;
    const p = status.sources.find((s) => s.type === 'bolt-proxy')!;
    assert.equal(p.name, `bolt-proxy@${listen}`);
    assert.equal(p.state, 'running');
    const details = p.details as Record<string, any>;
    assert.equal(details['listen'], listen);
    assert.equal(details['upstream'], (await testNeo4j()).uri);
    assert.ok(details['connections'].total >= 1);
    assert.ok(details['connections'].open >= 1, 'the driver keeps its connection in its pool');
    assert.deepEqual(details['passThrough'], { open: 0, total: 0 });
    assert.ok(details['bytes'].clientToServer > 0 && details['bytes'].serverToClient > details['bytes'].clientToServer / 10);
    assert.ok(details['events'].emitted >= 7);
    assert.equal(details['events'].dropped, 0);
    assert.equal(p.emitted, details['events'].emitted);

    const cli = await runCli(['status', '--url', d.url]);
    assert.equal(cli.code, 0, cli.stderr);
    const row = cli.stdout.split('\n').find((l) => l.startsWith(`bolt://${listen}`));
    assert.ok(row, cli.stdout);
    assert.match(cli.stdout, /BOLT PROXY\s+UPSTREAM\s+STATE\s+CONNECTIONS\s+PASS-THROUGH\s+CLIENT→SERVER\s+SERVER→CLIENT\s+EVENTS\s+DROPPED/);
    assert.match(row, new RegExp(`running\\s+\\d+ open / \\d+\\s+0 open / 0\\s+[\\d.]+ (B|KB)\\s+[\\d.]+ (B|KB)\\s+\\d+\\s+0$`));

    const metrics = await (await fetch(`${d.url}/metrics`)).text();
    const value = (name: string, labels = `listen="${listen}"`): number => {
      const m = new RegExp(`^${name}\\{${labels}\\} (\\d+)$`, 'm').exec(metrics);
      assert.ok(m, `${name}{${labels}} in /metrics`);
      return Number(m[1]);
    };
    assert.ok(value('heimdall_bolt_proxy_connections_total') >= 1);
    assert.ok(value('heimdall_bolt_proxy_connections_open') >= 1);
    assert.equal(value('heimdall_bolt_proxy_pass_through_total'), 0);
    assert.ok(value('heimdall_bolt_proxy_bytes_total', `listen="${listen}",direction="client_to_server"`) > 0);
    assert.ok(value('heimdall_bolt_proxy_bytes_total', `listen="${listen}",direction="server_to_client"`) > 0);
    assert.ok(value('heimdall_bolt_proxy_events_emitted_total') >= 7);
    assert.equal(value('heimdall_bolt_proxy_events_dropped_total'), 0);
    assert.equal(value('heimdall_bolt_proxy_up', `listen="${listen}",upstream="${details['upstream']}",state="running"`), 1);
  });
});

describe("the daemon's own driver through its proxy (database.uri on the proxy)", () => {
  let d: RunningDaemon;

  before(async () => {
    const n = await testNeo4j();
    const port = await freePort();
    d = await startTestDaemon(
      [pluginYaml(fixture('bolt-recorder.mjs')), pluginYaml(fixture('bolt-recorder-own.mjs'), 'receiveOwnEvents: true'), pluginYaml(fixture('db-probe.mjs'))],
      `${dbYaml(`bolt://127.0.0.1:${port}`, n.user, n.password)}sources:\n  - type: bolt-proxy\n    listen: 127.0.0.1:${port}\n    upstream: ${n.uri}\n`,
    );
  });

  after(async () => {
    await d?.stop();
  });

  it('starts the proxy before the database router, so the daemon connects through it at once', () => {
    assert.equal(d.internals.db!.connected, true, d.internals.db!.lastError);
    assert.equal(d.internals.sources.proxies.proxies[0]!.status().details.connections.total > 0, true);
  });

  it("marks the daemon's queries with metadata.origin; a plugin gets another plugin's, not its own or the daemon's, unless it sets receiveOwnEvents", async () => {
    const mine = await d.api.invokeAction('heimdall.bolt-recorder.query', { cypher: 'RETURN $x AS x', params: { x: 'recorder-own-query' } }, op);
    assert.equal(mine.success, true, mine.message);
    const probe = await d.api.invokeAction('heimdall.db-probe.query', { cypher: "RETURN 'from-db-probe' AS p" }, op);
    assert.equal(probe.success, true, probe.message);

    const other = await waitForEvents(d, "db-probe's query to reach bolt-recorder", (e) => e.some((x) => x.query === "RETURN 'from-db-probe' AS p"));
    const probeEvent = other.find((x) => x.query === "RETURN 'from-db-probe' AS p")!;
    assert.equal(probeEvent.type, 'query.executed');
    assert.equal(probeEvent.metadata!.origin!.plugin, 'db-probe');
    assert.equal(probeEvent.metadata!.tx!['app'], 'heimdall');
    assert.equal(bolt(probeEvent)['userAgent'], 'heimdall');
    // its own query ran before db-probe's, so it would have arrived first; the daemon's health checks neither
    assert.equal(other.filter((x) => x.metadata?.origin?.plugin === 'bolt-recorder').length, 0, 'not its own query');
    assert.equal(other.filter((x) => x.metadata?.origin?.plugin === 'heimdall').length, 0, "not the daemon's own queries");

    const all = await waitForEvents(
      d,
      "the plugin with receiveOwnEvents to see the daemon's health check and bolt-recorder's query",
      (e) => e.some((x) => x.metadata?.origin?.plugin === 'bolt-recorder') && e.some((x) => x.metadata?.origin?.plugin === 'heimdall'),
      'bolt-recorder-own',
    );
    const daemons = all.find((x) => x.metadata?.origin?.plugin === 'heimdall')!;
    assert.equal(daemons.query, 'RETURN 1', "the database router's health check");
    assert.equal(bolt(daemons)['userAgent'], 'heimdall');
    assert.ok(all.some((x) => x.metadata?.origin?.plugin === 'bolt-recorder'), "another plugin's query reaches it too");
  });
});
