/**
 * Capture that cannot be switched off unnoticed, through a real daemon (in this process, real HTTP, a real plugin
 * worker writing every event id to a file) with a short checkIntervalMs: `apoc.trigger.drop` on the heimdall trigger
 * publishes a Bifrost error notice, turns /readyz to 503 with the reason, and the daemon reinstalls the trigger and
 * delivers what is committed afterwards; `heimdall db uninstall` under the running daemon warns that the daemon will
 * put it back, and the daemon does. No event id is delivered for two different changes. The source sets capture: trigger
 * (capture: auto would choose the listener on this server, whose own tamper checks neo4j-source-listener tests).
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import type { Driver } from 'neo4j-driver';
import type { BifrostMessage } from '../../daemon/bifrost/bus.js';
import type { RunningDaemon } from '../../daemon/daemon.js';
import { ErrorCode } from '../../sdk/errors.js';
import { runCli } from '../helpers/daemon-process.js';
import { pluginYaml, startTestDaemon, waitFor } from '../helpers/in-process-daemon.js';
import { openTestDriver, testNeo4j, waitForTrigger } from '../helpers/neo4j.js';
import { removeTestOutbox } from '../helpers/outbox.js';
import { fixturePlugin } from '../helpers/paths.js';

const CHECK_MS = 300;
const tmp = mkdtempSync(join(tmpdir(), 'heimdall-capture-daemon-'));
const idFile = join(tmp, 'ids.log');
let driver: Driver;
let d: RunningDaemon | undefined;
let databaseYaml: string;

before(async () => {
  driver = await openTestDriver();
  await removeTestOutbox();
  await driver.executeQuery('MATCH (n) DETACH DELETE n');
  const t = await testNeo4j();
  databaseYaml = `database:\n  uri: ${JSON.stringify(t.uri)}\n  user: ${JSON.stringify(t.user)}\n  password: ${JSON.stringify(t.password)}\n`;
  d = await startTestDaemon(
    [pluginYaml(fixturePlugin('neo4j-id-log.mjs'), `config:\n  file: ${JSON.stringify(idFile)}`)],
    `${databaseYaml}sources:\n  - type: neo4j-apoc\n    capture: trigger\n    pollIntervalMs: 20\n    checkIntervalMs: ${CHECK_MS}\n`,
  );
});

after(async () => {
  await d?.stop();
  await removeTestOutbox().catch(() => undefined);
  await driver.executeQuery('MATCH (n) DETACH DELETE n').catch(() => undefined);
  await driver?.close();
  rmSync(tmp, { recursive: true, force: true });
});

/** Lines of the plugin's id file: id, type, node id. */
function lines(): Array<[string, string, string]> {
  if (!existsSync(idFile)) return [];
  return readFileSync(idFile, 'utf8').split('\n').filter(Boolean).map((l) => l.split(' ') as [string, string, string]);
}

/** Commits one node and waits until the plugin has its node.created. */
async function delivered(k: string): Promise<void> {
  const { records } = await driver.executeQuery('CREATE (n:Test {k: $k}) RETURN elementId(n) AS id', { k }, { database: 'neo4j' });
  const id = records[0]!.get('id') as string;
  await waitFor(`the plugin to receive ${k}`, () => lines().some(([, type, node]) => type === 'node.created' && node === id), 15_000);
}

/** Watches Bifrost for the outbox's notices; at the error notice, reads /readyz at once (the daemon is degraded then). */
function watchNotices(daemon: RunningDaemon): { notices: BifrostMessage[]; readyAtError: Promise<Response> | undefined; stop: () => void } {
  const w = { notices: [] as BifrostMessage[], readyAtError: undefined as Promise<Response> | undefined, stop: () => {} };
  w.stop = daemon.internals.bus.subscribe((m) => {
    if (m.kind !== 'notification' || m.data?.['source'] !== 'neo4j-apoc') return;
    w.notices.push(m);
    if (m.level === 'error' && !w.readyAtError) w.readyAtError = fetch(`${daemon.url}/readyz`);
  });
  return w;
}

async function readyz(daemon: RunningDaemon): Promise<number> {
  return (await fetch(`${daemon.url}/readyz`)).status;
}

it('apoc.trigger.drop: a Bifrost error notice, /readyz 503 with the reason, reinstalled, and later changes delivered', { timeout: 60_000 }, async () => {
  const daemon = d!;
  assert.equal(await readyz(daemon), 200);
  await delivered('before');
  const w = watchNotices(daemon);
  try {
    await driver.executeQuery('CALL apoc.trigger.drop($db, $name)', { db: 'neo4j', name: 'heimdall_outbox' }, { database: 'system' });
    await waitFor('the error notice', () => w.notices.some((m) => m.level === 'error'), 10_000);
    const err = w.notices.find((m) => m.level === 'error')!;
    assert.equal(err.title, 'Change capture switched off or tampered with');
    assert.match(err.message, /The outbox trigger heimdall_outbox of the database neo4j was removed/);
    assert.deepEqual(err.origin, { kind: 'daemon' });

    const res = await w.readyAtError!;
    assert.equal(res.status, 503);
    const body = (await res.json()) as { error: { code: string; message: string; details: { reasons: string[] } } };
    assert.equal(body.error.code, ErrorCode.HMD_ERR_NOT_READY);
    assert.ok(
      body.error.details.reasons.some((r) => /^The source neo4j-apoc is degraded: The outbox trigger heimdall_outbox of the database neo4j was removed .*Heimdall (is reinstalling|reinstalled) it/.test(r)),
      JSON.stringify(body.error.details.reasons),
    );

    await waitFor('the reinstall notice', () => w.notices.some((m) => m.title === 'Change capture reinstalled'), 10_000);
    await waitForTrigger(driver, 'heimdall_outbox', true);
    await delivered('after-reinstall');
    await waitFor('/readyz 200 after the confirming check', async () => (await readyz(daemon)) === 200, 10_000);
    const listed = (await (await fetch(`${daemon.url}/v1/bifrost/notifications?level=error`)).json()) as { messages: BifrostMessage[] };
    assert.ok(listed.messages.some((m) => m.title === 'Change capture switched off or tampered with'), 'the notice is in Bifrost for SSE and tail clients too');
  } finally {
    w.stop();
  }
});

it('`heimdall db uninstall` under the running daemon: the CLI warns, the daemon reports capture off and puts it back', { timeout: 90_000 }, async () => {
  const daemon = d!;
  const config = join(tmp, 'heimdall.config.yaml');
  writeFileSync(config, `${databaseYaml}sources:\n  - type: neo4j-apoc\n    capture: trigger\n    checkIntervalMs: ${CHECK_MS}\n`);
  await waitFor('/readyz 200', async () => (await readyz(daemon)) === 200, 10_000);
  const w = watchNotices(daemon);
  try {
    const un = await runCli(['db', 'uninstall', '--config', config], { timeoutMs: 60_000 });
    assert.match(un.stderr, /^Warning: a Heimdall daemon that captures the database neo4j notices within 300 ms that capture is off, raises an error on Bifrost and reinstalls the trigger, unless its neo4j-apoc source has reinstall: false\. To keep capture off, stop the daemon first/);
    // Whether the daemon put it back while the CLI still waited for the unload is a race; both outcomes are told.
    if (un.code === 1) assert.match(un.stderr, /a running Heimdall daemon reinstalled it, so capture is on/);
    else assert.equal(un.code, 0, un.stdout + un.stderr);

    await waitFor('the error notice', () => w.notices.some((m) => m.level === 'error'), 10_000);
    const err = w.notices.find((m) => m.level === 'error')!;
    assert.match(err.message, /was removed \(apoc\.trigger\.drop or apoc\.trigger\.remove, or `heimdall db uninstall`\)/);
    assert.equal((await w.readyAtError!).status, 503);
    await waitFor('the reinstall notice', () => w.notices.some((m) => m.title === 'Change capture reinstalled'), 10_000);
    await waitFor('/readyz 200 again', async () => (await readyz(daemon)) === 200, 15_000);
    const status = await runCli(['db', 'status', '--config', config, '--json']);
    assert.equal(status.code, 0, status.stderr);
    assert.equal((JSON.parse(status.stdout) as { installed: boolean }).installed, true);
    await delivered('after-uninstall');
  } finally {
    w.stop();
  }

  // Every id in the plugin's file stands for one change: repeats only as exact redeliveries.
  const byId = new Map<string, string>();
  for (const [id, type, node] of lines()) {
    const seen = byId.get(id);
    assert.ok(seen === undefined || seen === `${type} ${node}`, `the id ${id} was delivered for two different changes`);
    byId.set(id, `${type} ${node}`);
  }
  assert.ok(byId.size >= 6);
});
