/**
 * The console's Sources and database pane against this run's real Neo4j: the database is up, the
 * neo4j-apoc source is running and counts the changes it captured, its outbox backlog is shown,
 * and the header says the database is up. Screenshot: test-output/console/sources-neo4j.png.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Driver } from 'neo4j-driver';
import type { Browser } from 'playwright-core';
import type { RunningDaemon } from '../../daemon/daemon.js';
import { launchBrowser, openPage } from '../helpers/browser.js';
import { freePort, plugin, startConsoleDaemon } from '../helpers/console-daemon.js';
import { waitFor } from '../helpers/in-process-daemon.js';
import { openTestDriver, testNeo4j, wipeDatabase } from '../helpers/neo4j.js';
import { removeTestOutbox } from '../helpers/outbox.js';
import { fixturePlugin } from '../helpers/paths.js';

let driver: Driver;
let browser: Browser;
let d: RunningDaemon | undefined;
before(async () => {
  driver = await openTestDriver();
  await wipeDatabase(driver);
  browser = await launchBrowser();
});
after(async () => {
  await d?.stop();
  await browser?.close();
  // leave no trigger behind for the test files that run after this one
  await removeTestOutbox();
  await wipeDatabase(driver);
  await driver?.close();
});

test('the Sources and database pane shows the database up, the neo4j-apoc source with its events and outbox backlog', async () => {
  const n = await testNeo4j();
  d = await startConsoleDaemon({
    port: await freePort(),
    plugins: [plugin(fixturePlugin('recorder.mjs'))],
    sources: ['  - type: http', '  - type: neo4j-apoc', '    pollIntervalMs: 50'],
    extra: `database:\n  uri: ${JSON.stringify(n.uri)}\n  user: ${JSON.stringify(n.user)}\n  password: ${JSON.stringify(n.password)}`,
  });
  assert.equal(d.api.status().sources.find((s) => s.name === 'neo4j-apoc')?.state, 'running');
  const p = await openPage(browser, `${d.url}/console#/sources`);
  try {
    const { page } = p;
    await page.locator('header').getByText('database up', { exact: true }).waitFor();
    const db = page.locator('section[aria-labelledby="src-db"]');
    await db.getByText('up', { exact: true }).waitFor();
    await db.getByText(n.uri, { exact: true }).waitFor();
    await driver.executeQuery('UNWIND range(1, 25) AS i CREATE (:ConsoleProbe {i: i})');
    await waitFor('the 26 events of the write', () => d!.api.status().sources.find((s) => s.name === 'neo4j-apoc')!.emitted >= 26, 20_000);
    const row = page.locator('tr[data-source="neo4j-apoc"]');
    await row.getByText('running', { exact: true }).waitFor();
    // 25 node.created and a transaction.commit, shown with the status' next refresh (every 2 s).
    await row.locator('td[data-label="Events emitted"]').getByText('26', { exact: true }).waitFor();
    const backlog = (await row.locator('td[data-label="Outbox backlog"]').textContent())?.trim() ?? '';
    assert.match(backlog, /^\d[\d,]*$/, `the backlog is a number: "${backlog}"`);
    await row.getByText('ordering', { exact: true }).waitFor();
    await p.screenshot('sources-neo4j');
    assert.deepEqual(p.errors, []);
  } finally {
    await p.close();
  }
});
