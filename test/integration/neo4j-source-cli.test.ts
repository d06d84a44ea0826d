/**
 * `heimdall db install | status | uninstall` against the run's Neo4j: exit codes 0/1/2, one-line
 * errors, --json output, the ordering taken from the config's neo4j-apoc source, and the capture: --capture
 * trigger / listener, or the default auto (the capture in place, else the listener on this server, which has
 * Heimdall's extension).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { runCli } from '../helpers/daemon-process.js';
import { testNeo4j } from '../helpers/neo4j.js';
import { removeTestOutbox } from '../helpers/outbox.js';

const tmp = mkdtempSync(join(tmpdir(), 'heimdall-db-cli-'));
let config: string;

before(async () => {
  await removeTestOutbox();
  const t = await testNeo4j();
  config = join(tmp, 'heimdall.config.yaml');
  writeFileSync(config, `database:\n  uri: ${JSON.stringify(t.uri)}\n  user: ${JSON.stringify(t.user)}\n  password: ${JSON.stringify(t.password)}\nsources:\n  - type: neo4j-apoc\n    ordering: relaxed\n`);
});

after(async () => {
  await removeTestOutbox().catch(() => undefined);
  rmSync(tmp, { recursive: true, force: true });
});

it('--capture trigger: status exits 1 before install; install exits 0 and is idempotent; status then exits 0; uninstall removes it', { timeout: 120_000 }, async () => {
  const T = ['--capture', 'trigger'];
  const before = await runCli(['db', 'status', '--config', config, ...T]);
  assert.equal(before.code, 1, before.stdout + before.stderr);
  assert.match(before.stderr, /^The Heimdall outbox is not ready in the database neo4j: the trigger is not installed\. Run `heimdall db install --capture trigger`\.\n$/);

  const install = await runCli(['db', 'install', '--config', config, ...T], { timeoutMs: 60_000 });
  assert.equal(install.code, 0, install.stdout + install.stderr);
  assert.match(install.stdout, /^The Heimdall outbox is installed in the database neo4j \(relaxed ordering, counter at 0\)/);
  const again = await runCli(['db', 'install', '--config', config, '--json', ...T], { timeoutMs: 60_000 });
  assert.equal(again.code, 0, again.stderr);
  const res = JSON.parse(again.stdout) as Record<string, unknown>;
  assert.match(String(res['epoch']), /^\d{13,}$/);
  assert.deepEqual(res, { database: 'neo4j', ordering: 'relaxed', trigger: 'unchanged', loaded: true, counter: 0, epoch: res['epoch'], newEpoch: false });

  const status = await runCli(['db', 'status', '--config', config, '--json', ...T]);
  assert.equal(status.code, 0, status.stderr);
  const st = JSON.parse(status.stdout) as { installed: boolean; trigger: { ordering: string }; backlog: number };
  assert.equal(st.installed, true);
  assert.equal(st.trigger.ordering, 'relaxed');
  assert.equal(typeof st.backlog, 'number');

  const auto = await runCli(['db', 'status', '--config', config]);
  assert.equal(auto.code, 0, `the default (auto) finds the trigger in place: ${auto.stderr}`);
  assert.match(auto.stdout, /^trigger {9}stored: yes, loaded: yes, paused: no, ordering: relaxed$/m);
  const autoInstall = await runCli(['db', 'install', '--config', config], { timeoutMs: 60_000 });
  assert.equal(autoInstall.code, 0, autoInstall.stderr);
  assert.match(autoInstall.stdout, /^The Heimdall outbox was already installed and current in the database neo4j \(relaxed ordering, counter at 0\)/m, 'auto keeps the trigger rather than capture every transaction twice');
  assert.match(autoInstall.stderr, /written by the APOC trigger \(capture: auto\): the APOC trigger heimdall_outbox is installed there/);

  const strict = await runCli(['db', 'install', '--config', config, '--ordering', 'strict', ...T], { timeoutMs: 60_000 });
  assert.equal(strict.code, 0, strict.stderr);
  assert.match(strict.stdout, /is updated in the database neo4j \(strict ordering/);

  const un = await runCli(['db', 'uninstall', '--config', config, '--purge'], { timeoutMs: 60_000 });
  assert.equal(un.code, 0, un.stderr);
  assert.match(un.stdout, /^Removed the Heimdall outbox capture from the database neo4j/);
  assert.match(un.stderr, /^Warning: a Heimdall daemon that captures the database neo4j notices within 5000 ms that capture is off, raises an error on Bifrost and reinstalls the trigger, unless its neo4j-apoc source has reinstall: false\./);
  const gone = await runCli(['db', 'status', '--config', config, ...T]);
  assert.equal(gone.code, 1);
});

it('the default capture (auto) installs the listener of Heimdall\'s Neo4j extension on a database without capture; --capture trigger does not see a trigger; uninstall removes it', { timeout: 120_000 }, async () => {
  const before = await runCli(['db', 'status', '--config', config]);
  assert.equal(before.code, 1);
  assert.match(before.stderr, /^The Heimdall outbox is not ready in the database neo4j: the listener of Heimdall's Neo4j extension is not installed\. Run `heimdall db install`\.\n$/);
  const install = await runCli(['db', 'install', '--config', config], { timeoutMs: 60_000 });
  assert.equal(install.code, 0, install.stdout + install.stderr);
  assert.match(install.stdout, /^The Heimdall outbox is installed in the database neo4j \(relaxed ordering, captured by the listener of Heimdall's Neo4j extension, counter at 0\)/);
  assert.match(install.stderr, /^The outbox of the database neo4j is written by the listener of Heimdall's Neo4j extension \(capture: auto\): nothing captured it yet and the server runs Heimdall's Neo4j extension\.$/m);
  const trigger = await runCli(['db', 'status', '--config', config, '--capture', 'trigger']);
  assert.equal(trigger.code, 1, 'no trigger is installed');
  assert.match(trigger.stderr, /the trigger is not installed/);
  for (const args of [[], ['--capture', 'listener']]) {
    const status = await runCli(['db', 'status', '--config', config, ...args]);
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, /^listener {8}stored: yes, loaded: yes, paused: no, ordering: relaxed$/m);
  }
  const again = await runCli(['db', 'install', '--config', config, '--capture', 'listener'], { timeoutMs: 60_000 });
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, /^The Heimdall outbox was already installed and current in the database neo4j \(relaxed ordering, captured by the listener of Heimdall's Neo4j extension/m);
  const un = await runCli(['db', 'uninstall', '--config', config, '--purge'], { timeoutMs: 60_000 });
  assert.equal(un.code, 0, un.stderr);
  assert.match(un.stdout, /^Removed the Heimdall outbox capture from the database neo4j/);
  const gone = await runCli(['db', 'status', '--config', config, '--capture', 'listener']);
  assert.equal(gone.code, 1);
  assert.match(gone.stderr, /the listener of Heimdall's Neo4j extension is not installed\. Run `heimdall db install --capture listener`\./);
});

it('exits 2 without a database section or with a bad option, and 1 with one line when Neo4j is unreachable', async () => {
  const noDb = join(tmp, 'nodb.yaml');
  writeFileSync(noDb, 'server:\n  port: 0\n');
  const a = await runCli(['db', 'install', '--config', noDb]);
  assert.equal(a.code, 2);
  assert.match(a.stderr, /has no database: section/);
  const b = await runCli(['db', 'install', '--config', config, '--ordering', 'sometimes']);
  assert.equal(b.code, 2);
  const down = join(tmp, 'down.yaml');
  writeFileSync(down, 'database:\n  uri: bolt://127.0.0.1:1\n  connectTimeoutMs: 1000\n');
  const c = await runCli(['db', 'status', '--config', down]);
  assert.equal(c.code, 1);
  assert.equal(c.stderr.trim().split('\n').length, 1, c.stderr);
  assert.match(c.stderr, /^bolt:\/\/127\.0\.0\.1:1: Neo4j is not reachable \(.*\); check database\.uri and that Neo4j is running\.\n$/);
});
