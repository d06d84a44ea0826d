/**
 * The operator console in a real browser (Debian's Chromium through playwright-core; it never
 * skips): the page loads with no console errors and every pane renders; a notification a plugin
 * publishes shows within one second; Approve and Deny (with a reason) answer a plugin's
 * confirmation request, and the plugin gets the answer and the reason; the charts show a dropping
 * plugin's drops; after the daemon restarts the page reconnects and shows the gap notice; with a
 * token set, a page without it shows the token prompt and no data. Screenshots of each pane go to
 * test-output/console/.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import type { RunningDaemon } from '../../daemon/daemon.js';
import { launchBrowser, openPage, type ConsolePage } from '../helpers/browser.js';
import { call, freePort, plugin, startConsoleDaemon } from '../helpers/console-daemon.js';
import { waitFor } from '../helpers/in-process-daemon.js';
import { fixturePlugin } from '../helpers/paths.js';

type Result = { success: boolean; message: string; data?: Record<string, unknown> };

const PLUGINS = [
  plugin(fixturePlugin('bifrost-notifier.mjs')),
  plugin(fixturePlugin('bifrost-confirm.mjs')),
  // A plugin that cannot keep up: 40 ms an event into a queue of 4.
  plugin(fixturePlugin('slow.mjs'), 'config:', '  delayMs: 40', 'queue:', '  capacity: 4', '  whenFull: drop_newest'),
];

describe('the console in a browser', () => {
  let browser: Browser;
  before(async () => {
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
  });

  describe('on a daemon without a token', () => {
    let port: number;
    let d: RunningDaemon;
    let p: ConsolePage;
    before(async () => {
      port = await freePort();
      d = await startConsoleDaemon({ port, plugins: PLUGINS });
      p = await openPage(browser, `${d.url}/console#/live`);
      await p.page.getByTestId('stream-state').filter({ hasText: 'Live' }).waitFor();
    });
    after(async () => {
      await p?.close();
      await d?.stop();
    });

    it('loads with no console errors; every pane renders from the keyboard, with times and numbers for people', async () => {
      const { page } = p;
      await call(d.url, '/v1/actions/heimdall.bifrost-notifier.notify/invoke', { params: { count: 3, level: 'warning', title: 'Disk', text: 'almost full' } });
      await page.getByText('almost full 2').waitFor();
      // Times carry the browser's offset; the full date is on the element.
      const shown = await page.locator('.msg time').first().textContent();
      assert.match(shown ?? '', /\d{2}:\d{2}:\d{2}\.\d{3} GMT/);
      await p.screenshot('live');

      const panes: Array<[link: string, hash: string, heading: string, text: string]> = [
        ['Plugins and queues', 'plugins', 'Plugins and queues', 'Sampled by the daemon every 5 s'],
        ['Approvals', 'approvals', 'Approvals', 'Nothing waits for an approval.'],
        ['Invocations', 'invocations', 'Invocations', 'No model is configured'],
        ['Sources and database', 'sources', 'Sources and database', 'No database is configured'],
        ['Rules', 'rules', 'Rules and dead letters', 'Rules are not configured on this daemon'],
      ];
      for (const [link, name, heading, text] of panes) {
        // Keyboard: focus the pane's link and press Enter.
        await page.getByRole('link', { name: new RegExp(`^${link}`) }).focus();
        await page.keyboard.press('Enter');
        await page.waitForURL(new RegExp(`#/${name}$`));
        await page.getByRole('heading', { level: 2, name: heading, exact: true }).waitFor();
        await page.getByText(text).first().waitFor();
        if (name === 'plugins') await page.locator('.chart canvas').first().waitFor();
        await p.screenshot(name);
      }
      // Numbers with thousands separators: the queue capacity of 1,024.
      await page.getByRole('link', { name: 'Plugins and queues' }).click();
      await page.locator('tr[data-plugin="bifrost-notifier"]').getByText('/ 1,024').waitFor();
      // Controls have names a screen reader can read.
      await page.getByRole('link', { name: 'Live' }).click();
      for (const label of ['Lowest level', 'From', 'Kind', 'Text']) await page.getByLabel(label, { exact: true }).waitFor();
      assert.deepEqual(p.errors, []);
      // The rules pane asked nothing of a daemon without a rules engine.
      assert.ok(!p.requests.some((r) => r.url.includes('/v1/rules')), 'no /v1/rules request');
    });

    it('shows a notification a plugin publishes within one second, and filters, pauses and expands it', async (t) => {
      const { page } = p;
      await page.getByRole('link', { name: 'Live' }).click();
      // From the plugin's sendNotification (its data.t, this machine's clock) to the message on the
      // page (a MutationObserver in the page, the same clock): under one second.
      const text = `probe-${Date.now()}`;
      await page.evaluate(`(() => {
        const want = ${JSON.stringify(`${text} 0`)};
        const obs = new MutationObserver(() => {
          if (document.body.textContent.includes(want)) { window.__drawnAt = performance.timeOrigin + performance.now(); obs.disconnect(); }
        });
        obs.observe(document.body, { childList: true, subtree: true, characterData: true });
      })()`);
      const invoked = await call(d.url, '/v1/actions/heimdall.bifrost-notifier.notify/invoke', { params: { count: 1, level: 'error', title: 'Probe', text } });
      assert.equal(invoked.status, 200);
      await page.getByText(`${text} 0`, { exact: true }).waitFor({ timeout: 5000 });
      const drawnAt = (await page.evaluate('window.__drawnAt')) as number;
      const row = page.locator('li.msg').filter({ has: page.getByText(`${text} 0`, { exact: true }) });
      await row.getByText('Data').click();
      const data = JSON.parse((await row.locator('pre').textContent()) ?? '{}') as { t: number };
      const ms = drawnAt - data.t;
      assert.ok(ms >= 0 && ms < 1000, `shown ${ms.toFixed(0)} ms after the plugin published it`);
      t.diagnostic(`the notification was on the page ${ms.toFixed(0)} ms after the plugin published it`);
      await row.getByText('Data').click();

      // Filters: lowest level error keeps the probe and hides the warnings.
      await page.getByLabel('Lowest level').selectOption('error');
      await page.getByText('almost full 2').waitFor({ state: 'detached' });
      await page.getByText(`${text} 0`, { exact: true }).waitFor();
      await page.getByLabel('Lowest level').selectOption('');
      await page.getByLabel('Text', { exact: true }).fill('almost full 1');
      await page.getByText('almost full 2').waitFor({ state: 'detached' });
      await page.getByText('almost full 1').waitFor();
      await page.getByLabel('Text', { exact: true }).fill('');

      // Pause: new messages wait; resume shows them, none lost.
      await page.getByRole('button', { name: 'Pause' }).click();
      await call(d.url, '/v1/actions/heimdall.bifrost-notifier.notify/invoke', { params: { count: 5, text: `paused-${text}` } });
      await page.getByRole('button', { name: /Resume \(5 new\)/ }).waitFor();
      assert.equal(await page.getByText(`paused-${text} 4`).count(), 0, 'not drawn while paused');
      await page.getByRole('button', { name: /Resume/ }).click();
      for (let i = 0; i < 5; i++) await page.getByText(`paused-${text} ${i}`, { exact: true }).waitFor();

      // A message's data opens in place.
      await row.getByText('Data').click();
      await row.locator('pre').getByText('"seq": 0').waitFor();
      assert.deepEqual(p.errors, []);
    });

    it('Approve resolves a plugin\'s request to true; Deny with a reason resolves it to false and the plugin gets the reason', async () => {
      const { page } = p;
      const asked = call<Result>(d.url, '/v1/actions/heimdall.bifrost-confirm.ask/invoke', {
        params: { action: 'drop index idx_console', timeoutMs: 60_000, details: { statement: 'DROP INDEX idx_console', counters: { indexesRemoved: 1 }, database: 'neo4j' } },
      });
      await page.getByRole('link', { name: /^Approvals/ }).click();
      const card = page.locator('article.request', { hasText: 'drop index idx_console' });
      await card.waitFor();
      await card.getByText('DROP INDEX idx_console', { exact: true }).waitFor();
      await card.getByText('the plugin bifrost-confirm').waitFor();
      await page.getByRole('link', { name: /Approvals/ }).locator('.count').getByText('1').waitFor();
      await p.screenshot('approvals-pending');
      await card.getByRole('button', { name: 'Approve' }).click();
      const approved = await asked;
      assert.equal(approved.status, 200);
      assert.equal(approved.body.data?.['approved'], true);
      await page.getByTestId('answer-result').filter({ hasText: 'idx_console' }).getByText('approved', { exact: true }).waitFor();

      const reason = 'Wrong database: run it on staging first';
      const asked2 = call<Result>(d.url, '/v1/actions/heimdall.bifrost-confirm.askAnswer/invoke', {
        params: { action: 'delete 3 Person nodes', timeoutMs: 60_000, details: { statement: 'MATCH (p:Person) WHERE p.stale DETACH DELETE p', sample: [{ name: 'Ada' }, { name: 'Brian' }] } },
      });
      const card2 = page.locator('article.request', { hasText: 'delete 3 Person nodes' });
      await card2.waitFor();
      await card2.getByLabel(/Reason/).fill(reason);
      await card2.getByRole('button', { name: 'Deny' }).click();
      const denied = await asked2;
      assert.deepEqual({ ...denied.body.data, id: undefined }, { approved: false, state: 'denied', reason, id: undefined });
      await page.getByTestId('answer-result').filter({ hasText: 'delete 3 Person nodes' }).getByText(reason, { exact: false }).waitFor();
      await page.locator('section[aria-labelledby="approvals-results"]').getByText(reason, { exact: false }).first().waitFor();
      await page.getByText('Nothing waits for an approval.').waitFor();
      await p.screenshot('approvals-answered');
      assert.deepEqual(p.errors, []);
    });

    it('runs an action and asks the model from the Invocations pane, through POST /v1/invocations', async () => {
      const { page } = p;
      await page.getByRole('link', { name: 'Invocations' }).click();
      await page.getByLabel('Action', { exact: true }).selectOption('heimdall.bifrost-notifier.say');
      await page.getByText('Sends one plain message and one broadcast.').waitFor();
      await page.getByLabel('Parameters (JSON)').fill('{ nope');
      await page.getByRole('button', { name: 'Run' }).click();
      await page.getByText(/The parameters are not valid JSON/).waitFor();
      await page.getByLabel('Parameters (JSON)').fill('{ "text": "from the console" }');
      await page.getByRole('button', { name: 'Run' }).click();
      await page.getByText(/^Queued as /).waitFor();
      const row = page.locator('tr[data-invocation]', { hasText: 'heimdall.bifrost-notifier.say' });
      await row.getByText('succeeded', { exact: true }).waitFor();
      await row.getByText('sent', { exact: true }).waitFor();
      const posted = p.requests.filter((r) => r.method === 'POST' && new URL(r.url).pathname === '/v1/invocations');
      assert.equal(posted.length, 1, 'one POST /v1/invocations, after the JSON was fixed');
      // No model is configured: the daemon records the prompt as rejected at once and the page says why.
      await page.getByLabel('Prompt').fill('Why do queries fail?');
      await page.getByRole('button', { name: 'Ask' }).click();
      const refused = page.locator('tr[data-invocation]', { hasText: 'Refused: no model' });
      await refused.getByText('rejected', { exact: true }).waitFor();
      await refused.getByText('prompt', { exact: true }).first().waitFor();
      await p.screenshot('invocations-run');
      await page.getByRole('link', { name: 'Live' }).click();
      await page.getByText('broadcast: from the console', { exact: true }).waitFor();
      // the refused prompt is an answer (a rejected record), not an HTTP error
      assert.deepEqual(p.errors, []);
      p.errors.length = 0;
    });

    it('charts a dropping plugin\'s drops from the daemon\'s sampled history', async () => {
      const { page } = p;
      const events = Array.from({ length: 400 }, (_, i) => ({ type: 'node.created', nodeId: String(i), nodeLabels: ['Load'] }));
      assert.equal((await call(d.url, '/v1/events', events)).status, 200);
      await page.getByRole('link', { name: 'Plugins and queues' }).click();
      // The table of the charted window shows the drops once a sample has taken them (every 5 s).
      const cell = page.locator('[data-testid="history-table"] tr[data-plugin="slow"] [data-testid="window-dropped"]');
      await waitFor('the drops in the charted window', async () => Number(((await cell.textContent()) ?? '0').replace(/[^\d]/g, '')) > 0, 20_000);
      const dropped = Number(((await cell.textContent()) ?? '0').replace(/[^\d]/g, ''));
      const status = await call<{ plugins: Array<{ name: string; counters: { droppedTotal: number } }> }>(d.url, '/v1/status');
      const total = status.body.plugins.find((x) => x.name === 'slow')!.counters.droppedTotal;
      assert.ok(dropped > 0 && dropped <= total, `charted ${dropped} of ${total} dropped`);
      // The dropped chart has a line for the plugin, and its peak is above zero.
      const droppedChart = page.locator('.chart', { hasText: 'Dropped, events/s' });
      await droppedChart.locator('canvas').waitFor();
      await droppedChart.locator('.u-legend').getByText('slow').waitFor();
      await page.locator('tr[data-plugin="slow"] [data-testid="dropped"]').getByText(/queue full/).waitFor();
      await p.screenshot('plugins-drops');
      assert.deepEqual(p.errors, []);
    });

    it('reads well in a narrow window in the dark', async () => {
      const narrow = await openPage(browser, `${d.url}/console#/plugins`, { width: 390, height: 844, scheme: 'dark' });
      try {
        await narrow.page.locator('tr[data-plugin="slow"]').first().waitFor();
        await narrow.page.locator('.chart canvas').first().waitFor();
        const overflow = (await narrow.page.evaluate('document.documentElement.scrollWidth - window.innerWidth')) as number;
        assert.ok(overflow <= 0, `the page is ${overflow} px wider than the window`);
        const bg = await narrow.page.evaluate('getComputedStyle(document.body).backgroundColor');
        assert.equal(bg, 'rgb(18, 21, 27)', 'the dark palette');
        await narrow.screenshot('narrow-dark-plugins');
        await narrow.page.getByRole('link', { name: 'Live' }).click();
        await narrow.page.locator('li.msg').first().waitFor();
        await narrow.screenshot('narrow-dark-live');
        assert.deepEqual(narrow.errors, []);
      } finally {
        await narrow.close();
      }
    });

    it('reconnects after the daemon restarts and shows the gap notice', async () => {
      const { page } = p;
      await page.getByRole('link', { name: 'Live' }).click();
      await page.getByTestId('stream-state').filter({ hasText: 'Live' }).waitFor();
      await d.stop();
      await page.getByTestId('stream-state').filter({ hasText: 'Reconnecting' }).waitFor({ timeout: 15_000 });
      d = await startConsoleDaemon({ port, plugins: PLUGINS });
      const notice = page.getByTestId('gap-notice').filter({ hasText: 'The daemon restarted' });
      await notice.waitFor({ timeout: 30_000 });
      await page.getByTestId('stream-state').filter({ hasText: 'Live' }).waitFor();
      await page.locator('li.gap-row').first().waitFor();
      // The new run's messages arrive on the resumed stream.
      await call(d.url, '/v1/actions/heimdall.bifrost-notifier.notify/invoke', { params: { count: 1, text: 'after the restart' } });
      await page.getByText('after the restart 0').waitFor();
      await p.screenshot('gap-notice');
      // Failed loads while the daemon was away are the browser's own network errors, nothing else.
      assert.deepEqual(p.errors.filter((e) => !/Failed to load resource|ERR_CONNECTION_REFUSED|net::ERR/.test(e)), []);
    });
  });

  describe('on a daemon with a token', () => {
    const token = 'console-token-Zx81';
    let d: RunningDaemon;
    before(async () => {
      d = await startConsoleDaemon({ port: await freePort(), token, plugins: [plugin(fixturePlugin('bifrost-notifier.mjs'))] });
      await call(d.url, '/v1/actions/heimdall.bifrost-notifier.notify/invoke', { params: { count: 2, text: 'secret data' } }, token);
    });
    after(async () => {
      await d?.stop();
    });

    it('asks for the token and shows no data without it; with it, everything goes with a bearer header and never in a URL', async () => {
      const p = await openPage(browser, `${d.url}/console#/live`);
      try {
        const { page } = p;
        await page.getByTestId('token-prompt').waitFor();
        await p.screenshot('token-prompt');
        assert.equal(await page.locator('nav.tabs').count(), 0);
        assert.equal(await page.getByText('secret data').count(), 0);
        const v1 = p.requests.filter((r) => new URL(r.url).pathname.startsWith('/v1/'));
        assert.deepEqual(v1.map((r) => new URL(r.url).pathname), ['/v1/status'], 'only the check, which was refused');
        assert.equal(v1[0]!.authorization, undefined);

        await page.getByLabel('Token', { exact: true }).fill('not-the-token');
        await page.getByRole('button', { name: 'Open the console' }).click();
        await page.getByText('That token is not the daemon\'s server.token.').waitFor();
        assert.equal(await page.locator('nav.tabs').count(), 0);

        await page.getByLabel('Token', { exact: true }).fill(token);
        await page.getByRole('button', { name: 'Open the console' }).click();
        await page.getByText('secret data 1').waitFor();
        await page.getByTestId('stream-state').filter({ hasText: 'Live' }).waitFor();
        assert.equal(await page.evaluate('sessionStorage.getItem("heimdall.console.token")'), token);
        const later = p.requests.filter((r) => new URL(r.url).pathname.startsWith('/v1/')).slice(3);
        assert.ok(later.length >= 2, 'the console made its requests');
        for (const r of later) assert.equal(r.authorization, `Bearer ${token}`, r.url);
        for (const r of p.requests) assert.ok(!r.url.includes(token), `the token is not in ${r.url}`);

        // A reload of the tab keeps the token; another tab (another session) asks again.
        await page.reload();
        await page.getByText('secret data 1').waitFor();
        const other = await openPage(browser, `${d.url}/console`);
        await other.page.getByTestId('token-prompt').waitFor();
        await other.close();
        // The only console errors are the browser's lines for the refused (401) requests.
        assert.deepEqual(p.errors.filter((e) => !/status of 401/.test(e)), []);
      } finally {
        await p.close();
      }
    });
  });
});
