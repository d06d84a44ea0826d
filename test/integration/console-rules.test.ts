/**
 * The console's Rules pane in a real browser (Debian's Chromium through playwright-core) against
 * a daemon with rules: one that notifies on node.created, one whose webhook (a local listener
 * answering 500) dead-letters after its single attempt, and a broken one from a rulesPath file.
 * The pane lists the rules with counts that follow the events posted, pauses and resumes a rule
 * (and the daemon agrees), dry-runs a pasted event (matched and wouldFire, or why not), shows the
 * selected rule's firings, lists the dead letter and retries it (failing again, then, with the
 * listener fixed, removed), names the invalid rule with its file and line, and says in a sentence
 * when the rules plugin is not running (503). Screenshots go to test-output/console/rules*.png.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import type { RunningDaemon } from '../../daemon/daemon.js';
import { launchBrowser, openPage, type ConsolePage } from '../helpers/browser.js';
import { call, freePort, startConsoleDaemon } from '../helpers/console-daemon.js';
import { waitFor } from '../helpers/in-process-daemon.js';
import { webhook, type Hook } from '../helpers/rules-daemon.js';

type RulesList = { configured: boolean; rules: Array<{ name: string; state: string; matched: number; fired: number; deadLettered: number }>; invalid: Array<{ name: string; at?: string; problems: string[] }> };

const BROKEN = `# a rule with a problem: the daemon leaves it out and runs the others
- name: broken-rule
  on: node.created
  when: "event.properties.total >"
  actions:
    - log: { message: never }
`;

function rulesYaml(dir: string, hookUrl: string): string {
  return `rulesPath: ${JSON.stringify(join(dir, 'rules.d'))}
rulesEngine:
  deadLetters: { path: ${JSON.stringify(join(dir, 'dead-letters.jsonl'))} }
  statePath: ${JSON.stringify(join(dir, 'rules-state.json'))}
rules:
  - name: person-created
    description: Tells Bifrost about every new Person.
    on: node.created
    match: { labels: Person }
    priority: 10
    actions:
      - notify: { level: info, title: "New person {{ event.properties.name }}", message: "A Person node was created." }
  - name: person-hook
    description: Tells the CRM about every new Person.
    on: [node.created, node.updated]
    match: { labels: Person }
    actions:
      - webhook: { url: ${JSON.stringify(hookUrl)}, body: { name: "{{ event.properties.name }}" } }
        retry: { maxAttempts: 1 }
`;
}

const person = (id: string, name: string, labels = ['Person']) => ({ type: 'node.created', id, nodeId: id, nodeLabels: labels, properties: { name } });

describe('the console\'s Rules pane in a browser', () => {
  let browser: Browser;
  let hook: Hook;
  let d: RunningDaemon;
  let p: ConsolePage;
  before(async () => {
    browser = await launchBrowser();
    hook = await webhook({ failing: true });
    const dir = mkdtempSync(join(tmpdir(), 'heimdall-console-rules-'));
    mkdirSync(join(dir, 'rules.d'));
    writeFileSync(join(dir, 'rules.d', 'broken.yaml'), BROKEN);
    d = await startConsoleDaemon({ port: await freePort(), plugins: [], extra: rulesYaml(dir, hook.url) });
    p = await openPage(browser, `${d.url}/console#/rules`);
    await p.page.getByRole('heading', { level: 2, name: 'Rules and dead letters', exact: true }).waitFor();
  });
  after(async () => {
    await p?.close();
    await d?.stop();
    await hook?.close();
    await browser?.close();
  });

  const row = (name: string) => p.page.locator(`tr[data-rule="${name}"]`);
  const cell = (name: string, id: string) => row(name).locator(`[data-testid="${id}"]`);
  const rulesOfDaemon = async () => (await call<RulesList>(d.url, '/v1/rules')).body;

  it('lists the rules with state, priority, on and counts that follow the events, and the invalid rule with its file and line', async () => {
    const { page } = p;
    await cell('person-created', 'rule-state').getByText('active', { exact: true }).waitFor();
    await cell('person-created', 'rule-matched').getByText('0', { exact: true }).waitFor();
    // priority order: person-created (10) before person-hook (100)
    assert.deepEqual(await page.locator('tr[data-rule]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-rule'))), ['person-created', 'person-hook']);
    await row('person-hook').getByText('node.updated', { exact: true }).waitFor();
    await row('person-created').getByText('never', { exact: true }).waitFor();

    const invalid = page.locator('[data-invalid-rule="broken-rule"]');
    await invalid.waitFor();
    const at = (await invalid.getByTestId('invalid-at').textContent()) ?? '';
    assert.match(at, /rules\.d\/broken\.yaml:\d+:\d+$/);
    const fromApi = (await rulesOfDaemon()).invalid.find((i) => i.name === 'broken-rule');
    assert.equal(at, fromApi?.at, 'the file:line the daemon gives');
    assert.ok(fromApi!.problems.length > 0);
    await invalid.getByText(fromApi!.problems[0]!, { exact: true }).waitFor();

    assert.equal((await call(d.url, '/v1/events', [person('ev-ada', 'Ada'), person('ev-order', 'o-1', ['Order'])])).status, 200);
    await cell('person-created', 'rule-matched').getByText('1', { exact: true }).waitFor();
    await cell('person-created', 'rule-fired').getByText('1', { exact: true }).waitFor();
    await cell('person-hook', 'rule-dead').getByText('1', { exact: true }).waitFor();
    await row('person-created').locator('time').waitFor();
    assert.equal(await row('person-created').getByText('never').count(), 0, 'it has fired now');
    await p.screenshot('rules-list');
    assert.deepEqual(p.errors, []);
  });

  it('pauses and resumes a rule: the state changes on the page and in GET /v1/rules, and a paused rule ignores events', async () => {
    const { page } = p;
    await page.getByRole('button', { name: 'Pause rule person-created' }).click();
    await page.getByTestId('rules-said').getByText('The rule person-created is paused.').waitFor();
    await cell('person-created', 'rule-state').getByText('paused', { exact: true }).waitFor();
    assert.equal((await rulesOfDaemon()).rules.find((r) => r.name === 'person-created')?.state, 'paused');

    // paused: the other rule matches the event, this one does not count it
    await call(d.url, '/v1/events', [person('ev-brian', 'Brian')]);
    await cell('person-hook', 'rule-matched').getByText('2', { exact: true }).waitFor();
    await cell('person-hook', 'rule-dead').getByText('2', { exact: true }).waitFor();
    assert.equal(await cell('person-created', 'rule-matched').textContent(), '1');
    await p.screenshot('rules-paused');

    await page.getByRole('button', { name: 'Resume rule person-created' }).click();
    await page.getByTestId('rules-said').getByText('The rule person-created is active again.').waitFor();
    await cell('person-created', 'rule-state').getByText('active', { exact: true }).waitFor();
    await page.getByRole('button', { name: 'Pause rule person-created' }).waitFor();
    assert.equal((await rulesOfDaemon()).rules.find((r) => r.name === 'person-created')?.state, 'active');
    assert.deepEqual(p.errors, []);
  });

  it('dry-runs a pasted event: matched and wouldFire with the rendered action, or the reason it does not match; and shows the rule\'s firings', async () => {
    const { page } = p;
    await page.getByRole('button', { name: 'Test and history of rule person-created' }).click();
    const detail = page.locator('#rule-detail');
    await detail.getByRole('heading', { name: 'Rule person-created' }).waitFor();
    const box = detail.getByLabel(/^Event \(JSON/);
    assert.match(await box.inputValue(), /"type": "node.created"/, 'a starting event of the rule\'s type');

    await box.fill('{ nope');
    await detail.getByRole('button', { name: 'Test', exact: true }).click();
    await detail.getByText(/The event is not valid JSON/).waitFor();

    await box.fill(JSON.stringify({ type: 'node.created', nodeLabels: ['Person'], properties: { name: 'Grace' } }, null, 2));
    await detail.getByRole('button', { name: 'Test', exact: true }).click();
    const result = detail.getByTestId('test-result');
    await result.getByTestId('test-matched').getByText('yes', { exact: true }).waitFor();
    await result.getByTestId('test-would-fire').getByText('yes', { exact: true }).waitFor();
    await result.getByText('The event matches and the rule would fire, running 1 action.').waitFor();
    await result.getByTestId('test-action').getByText('"title": "New person Grace"').waitFor();
    await result.getByText('No window, debounce, cooldown or concurrency limit.').waitFor();

    // the history of the selected rule: the firing of ev-ada (the dry run fired nothing)
    const history = detail.getByTestId('rule-history');
    const firing = history.locator('li.firing', { hasText: 'ev-ada' });
    await firing.waitFor();
    await firing.getByText('succeeded', { exact: true }).first().waitFor();
    await firing.getByText('notify', { exact: true }).waitFor();
    assert.equal(await history.locator('li.firing').count(), 1, 'one firing: the paused event and the dry run did not fire');
    await p.screenshot('rules-test');

    await box.fill(JSON.stringify({ type: 'node.created', nodeLabels: ['Order'], properties: { name: 'o-2' } }));
    await detail.getByRole('button', { name: 'Test', exact: true }).click();
    await result.getByTestId('test-matched').getByText('no', { exact: true }).waitFor();
    await result.getByTestId('test-would-fire').getByText('no', { exact: true }).waitFor();
    const reasons = (await result.getByTestId('test-reasons').textContent()) ?? '';
    assert.match(reasons, /label/i);
    await result.getByText('Not checked: the event does not match.').waitFor();
    await p.screenshot('rules-test-no-match');

    // an event the daemon refuses: its sentence
    await box.fill(JSON.stringify({ type: 'node.exploded' }));
    await detail.getByRole('button', { name: 'Test', exact: true }).click();
    await detail.getByText(/The test event is not a valid event/).waitFor();
    // a 400 is an answer the page shows; the browser logs its line for the request
    assert.deepEqual(p.errors.filter((e) => !/status of 400/.test(e)), []);
    p.errors.length = 0;
    assert.equal((await rulesOfDaemon()).rules.find((r) => r.name === 'person-created')?.matched, 1, 'the dry runs counted nothing');

    await detail.getByRole('button', { name: 'Close' }).click();
    await detail.waitFor({ state: 'detached' });
  });

  it('lists the dead letters; Retry while the listener still fails keeps it, and once it answers 200 removes it', async () => {
    const { page } = p;
    const section = page.locator('section[aria-labelledby="rules-dead"]');
    const letters = section.locator('li.dead-letter');
    await waitFor('two dead letters on the page', async () => (await letters.count()) === 2);
    const first = letters.first();
    await first.getByText('person-hook', { exact: true }).waitFor();
    await first.getByText(/answered HTTP 500: down for maintenance/).waitFor();
    await section.getByTestId('dead-message').getByText(/^2 dead letters/).waitFor();
    await p.screenshot('rules-dead-letters');

    const hitsBefore = hook.hits.length;
    await first.getByRole('button', { name: /^Retry the webhook action of rule person-hook/ }).click();
    await section.getByTestId('retry-result').getByText(/failed again after 1 attempt: .*It stays in the dead-letter list\./).waitFor();
    assert.equal(hook.hits.length, hitsBefore + 1);
    assert.equal(await letters.count(), 2);
    await section.getByText(/1 operator retry,/).waitFor();
    await p.screenshot('rules-retry-failed');

    hook.failing = false;
    for (let left = 1; left >= 0; left--) {
      await letters.first().getByRole('button', { name: /^Retry/ }).click();
      await section.getByTestId('retry-result').getByText(/succeeded on retry after 1 attempt; the dead letter was removed\./).waitFor();
      await waitFor(`${left} dead letters on the page`, async () => (await letters.count()) === left);
    }
    await section.getByText('No dead letter: every action either ran or is still retrying.').waitFor();
    assert.equal((await call<{ count: number }>(d.url, '/v1/dead-letters')).body.count, 0);
    assert.deepEqual(hook.hits.slice(-2).map((h) => h.body).sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b))), [{ name: 'Ada' }, { name: 'Brian' }]);
    await p.screenshot('rules-retried');
    assert.deepEqual(p.errors, []);
  });

  it('reads in a narrow window in the dark', async () => {
    const narrow = await openPage(browser, `${d.url}/console#/rules`, { width: 390, height: 844, scheme: 'dark' });
    try {
      await narrow.page.locator('tr[data-rule="person-hook"]').waitFor();
      await narrow.page.locator('[data-invalid-rule="broken-rule"]').waitFor();
      const overflow = (await narrow.page.evaluate('document.documentElement.scrollWidth - window.innerWidth')) as number;
      assert.ok(overflow <= 0, `the page is ${overflow} px wider than the window`);
      await narrow.screenshot('rules-narrow-dark');
      assert.deepEqual(narrow.errors, []);
    } finally {
      await narrow.close();
    }
  });

  it('says in a sentence that the rules cannot be reached while the rules plugin is not running (503), and still names the invalid rule', async () => {
    const { page } = p;
    const host = d.internals.plugins.hosts.find((h) => h.name === 'rules');
    assert.ok(host, 'the rules plugin\'s host');
    host.markFailed('stopped by the test');
    assert.equal((await call(d.url, '/v1/rules')).status, 503);
    const notice = page.getByTestId('rules-unavailable');
    await notice.getByText('The rules engine is not running, so the rules cannot be read or changed now.').waitFor();
    await notice.getByText(/The rules engine \(the built-in plugin rules\) is failed \(stopped by the test\), so the rules cannot be reached\./).waitFor();
    await page.locator('[data-invalid-rule="broken-rule"]').waitFor();
    assert.equal(await page.locator('tr[data-rule]').count(), 0, 'no stale table');
    await p.screenshot('rules-unavailable');
    // the browser logs a line for each 503; nothing else went wrong
    assert.deepEqual(p.errors.filter((e) => !/status of 503/.test(e)), []);
  });
});
