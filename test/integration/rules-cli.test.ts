/**
 * `heimdall rules list|show|pause|resume|test|history` and `heimdall dead-letters list|retry`, the
 * real binary against a real daemon: found through the server section of ./heimdall.config.yaml
 * (address and token) or --url; --json; exit codes 0, 1 and 2 with one-line messages.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli } from '../helpers/daemon-process.js';
import { waitFor } from '../helpers/in-process-daemon.js';
import { freePort, startFileDaemon, webhook } from '../helpers/rules-daemon.js';

const rules = (hookUrl: string) => `rules:
  - name: big-order
    on: node.created
    when: event.properties.total > 1000
    actions:
      - notify: { title: "Big order {{ event.properties.id }}", message: "total {{ event.properties.total }}" }
  - name: finance-hook
    on: node.created
    actions:
      - webhook: { url: "${hookUrl}", body: { id: "{{ event.properties.id }}" } }
`;

test('rules list, show, pause, resume, test and history through the config\'s server section, with --json and exit codes', async () => {
  const hook = await webhook();
  const port = await freePort();
  const f = await startFileDaemon(`server:\n  port: ${port}\n  token: \${RULES_TEST_TOKEN:-s3cret-token}\n${rules(hook.url)}`);
  // no --url, no $HEIMDALL_URL: the CLI reads ./heimdall.config.yaml of its folder, token included
  const cli = (...args: string[]) => runCli(args, { cwd: f.dir });
  try {
    const list = await cli('rules', 'list');
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /^RULE +STATE +PRIORITY +ON +MATCHED +FIRED +SUPPRESSED +DEAD-LETTERED +LAST FIRED\nbig-order +active +100 +node\.created +0 +0 +0 +0 +-\nfinance-hook +active/);

    const shown = await cli('rules', 'show', 'big-order', '--json');
    assert.equal(shown.code, 0);
    assert.equal(JSON.parse(shown.stdout).definition.when, 'event.properties.total > 1000');
    const text = await cli('rules', 'show', 'big-order');
    assert.match(text.stdout, /^The rule big-order is active \(priority 100, on node\.created\)\.\nMatched 0, fired 0;/);
    assert.match(text.stdout, /Definition:\n {2}name: big-order\n/);

    const missing = await cli('rules', 'show', 'nope');
    assert.equal(missing.code, 1);
    assert.equal(missing.stderr.trim(), 'There is no rule named nope; the rules are big-order, finance-hook.');
    const missingJson = await cli('rules', 'show', 'nope', '--json');
    assert.equal(JSON.parse(missingJson.stdout).error.code, 'HMD_ERR_NOT_FOUND');

    assert.deepEqual([(await cli('rules', 'pause', 'big-order')).stdout.trim()], ['The rule big-order is paused.']);
    assert.match((await cli('rules', 'list')).stdout, /^big-order +paused/m);
    assert.equal((await cli('rules', 'resume', 'big-order')).stdout.trim(), 'The rule big-order is active again.');

    const event = '{"type":"node.created","properties":{"id":"o-5","total":2000}}';
    const dry = await cli('rules', 'test', 'big-order', '--event', event);
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, /^The event matches and the rule would fire, running 1 action\.\n\nThe actions it would run \(nothing was run\):\n {2}\[0\] notify \(sync\): \{"title":"Big order o-5","message":"total 2000"\}\n$/);
    writeFileSync(join(f.dir, 'event.json'), JSON.stringify({ event: { type: 'node.created', properties: { total: 3 } } }));
    const fromFile = await cli('rules', 'test', 'big-order', '--file', 'event.json', '--json');
    assert.equal(fromFile.code, 0, fromFile.stderr);
    assert.deepEqual([JSON.parse(fromFile.stdout).matched, JSON.parse(fromFile.stdout).wouldFire], [false, false]);
    assert.equal(hook.hits.length, 0, 'dry runs run no action');

    for (const [args, message] of [
      [['rules', 'test', 'big-order'], /^Give the test event with --event JSON or --file FILE/],
      [['rules', 'test', 'big-order', '--event', 'not json'], /^Option --event is not valid JSON/],
      [['rules', 'test', 'big-order', '--event', '{"type":"node.nope"}'], /^The test event is not a valid event: type must be one of/],
      [['rules', 'history', 'big-order', '--limit', 'lots'], /^--limit lots must be a whole number from 1 to 10000\.$/],
    ] as const) {
      const r = await cli(...args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr.trim(), message);
    }

    const emitted = await cli('emit', 'node.created', '--data', '{"properties":{"id":"o-6","total":5000}}');
    assert.equal(emitted.code, 0, emitted.stderr);
    await waitFor('the firing', async () => JSON.parse((await cli('rules', 'history', 'big-order', '--json')).stdout).firings.length === 1);
    const history = await cli('rules', 'history', 'big-order');
    assert.match(history.stdout, /^STARTED +TOOK +EVENT +TYPE +STATUS +ACTIONS\n.* node\.created +succeeded +notify succeeded$/m);

    // --url wins over the config (the token still comes from it); a wrong --token is refused
    const noToken = await runCli(['rules', 'list', '--url', f.d.url, '--token', 'wrong'], { cwd: f.dir });
    assert.equal(noToken.code, 1);
    assert.match(noToken.stderr, /token/i);
  } finally {
    await f.stop();
    await hook.close();
  }
});

test('dead-letters list and retry: a webhook that always fails, then is fixed; exit 1 while it still fails', async () => {
  const hook = await webhook({ failing: true });
  const f = await startFileDaemon(rules(hook.url));
  const cli = (...args: string[]) => runCli([...args, '--url', f.d.url]);
  try {
    const none = await cli('dead-letters', 'list');
    assert.match(none.stdout, /^No dead letters \(0 added, 0 retried, 0 evicted since the rules plugin started\)\.$/m);
    await cli('emit', 'node.created', '--data', '{"id":"ev-9","properties":{"id":"o-9","total":1}}');
    await waitFor('the dead letter', async () => JSON.parse((await cli('dead-letters', 'list', '--json')).stdout).count === 1);
    const listed = await cli('dead-letters', 'list', '--rule', 'finance-hook');
    assert.match(listed.stdout, /^ID +AT +RULE +ACTION +ATTEMPTS +EVENT +LAST ERROR\n[0-9a-f-]{36} +\S+ \S+ +finance-hook +webhook #0 +1 +ev-9 +The webhook POST .* answered HTTP 500/);
    assert.match(listed.stdout, /1 of at most 1000 kept\. Retry one with `heimdall dead-letters retry <id>` once its cause is fixed\.$/m);
    const id = JSON.parse((await cli('dead-letters', 'list', '--json')).stdout).entries[0].id as string;

    const still = await cli('dead-letters', 'retry', id);
    assert.equal(still.code, 1);
    assert.match(still.stdout, /^The webhook action of rule finance-hook failed again after 1 attempt: .* It stays in the dead-letter list\.$/m);
    assert.match(still.stderr, /^Fix what the action needs/);

    hook.failing = false;
    const ok = await cli('dead-letters', 'retry', id);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /^The webhook action of rule finance-hook succeeded on retry after 1 attempt; the dead letter was removed\.$/m);
    assert.deepEqual(hook.hits.at(-1)!.body, { id: 'o-9' });
    const unknown = await cli('dead-letters', 'retry', id);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /^There is no dead letter with id /);
    assert.match((await cli('dead-letters', 'list')).stdout, /^No dead letters \(1 added, 1 retried, 0 evicted/);
  } finally {
    await f.stop();
    await hook.close();
  }
});
