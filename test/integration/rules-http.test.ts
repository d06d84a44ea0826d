/**
 * Every rules and dead-letter route against a real daemon over real HTTP: show, pause, resume,
 * test (a dry run that touches nothing), history, dead letters made by a webhook that always
 * fails, then fixed and retried; 404 for an unknown rule or dead letter, 400 for a bad test event
 * or query, 409 for a disabled rule; and the answers of a daemon with no rules.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { waitFor } from '../helpers/in-process-daemon.js';
import { startFileDaemon, webhook } from '../helpers/rules-daemon.js';

const config = (hookUrl: string) => `rules:
  - name: big-order
    description: Orders over 1000.
    on: node.created
    match: { labels: Order }
    when: event.properties.total > 1000
    actions:
      - notify: { title: "Big order {{ event.properties.id }}", message: "total {{ event.properties.total }}" }
  - name: finance-hook
    on: node.created
    match: { labels: Order }
    actions:
      - webhook: { url: "${hookUrl}", body: { id: "{{ event.properties.id }}" } }
        retry: { maxAttempts: 2, initialDelayMs: 20, backoff: fixed }
  - name: off
    enabled: false
    on: node.created
    actions:
      - log: { message: never }
`;

test('show, pause, resume, test and history of a rule, and the 404, 400 and 409 answers', async () => {
  const hook = await webhook();
  const f = await startFileDaemon(config(hook.url));
  try {
    const show = await f.http('GET', '/v1/rules/big-order');
    assert.equal(show.status, 200);
    assert.equal(show.body.state, 'active');
    assert.equal(show.body.definition.when, 'event.properties.total > 1000');
    assert.equal(show.body.statistics.matched, 0);
    assert.match(show.body.message, /^The rule big-order is active; it matched 0 events and fired 0 times\.$/);

    const missing = await f.http('GET', '/v1/rules/nope');
    assert.equal(missing.status, 404);
    assert.equal(missing.body.error.code, 'HMD_ERR_NOT_FOUND');
    assert.equal(missing.body.error.message, 'There is no rule named nope; the rules are big-order, finance-hook, off.');
    for (const path of ['/v1/rules/nope/history', '/v1/rules/nope/pause', '/v1/rules/nope/test']) {
      const r = path.endsWith('history') ? await f.http('GET', path) : await f.http('POST', path, path.endsWith('test') ? { event: { type: 'node.created' } } : {});
      assert.equal(r.status, 404, path);
    }

    // dry run: says what would happen, runs and counts nothing
    const dry = await f.http('POST', '/v1/rules/big-order/test', { event: { type: 'node.created', nodeLabels: ['Order'], properties: { id: 'o-7', total: 2500 } } });
    assert.equal(dry.status, 200);
    assert.equal(dry.body.matched, true);
    assert.equal(dry.body.wouldFire, true);
    assert.deepEqual(dry.body.actions[0].input, { title: 'Big order o-7', message: 'total 2500' });
    const no = await f.http('POST', '/v1/rules/big-order/test', { event: { type: 'node.created', nodeLabels: ['Person'], properties: { total: 2500 } } });
    assert.equal(no.body.matched, false);
    assert.match(no.body.reasons[0], /label/);
    assert.equal((await f.http('GET', '/v1/rules/big-order')).body.statistics.matched, 0, 'the dry runs counted nothing');
    assert.equal(f.d.internals.bus.since(0).filter((m) => m.origin.plugin === 'rules').length, 0, 'and sent nothing');
    assert.equal(hook.hits.length, 0);

    const badEvent = await f.http('POST', '/v1/rules/big-order/test', { event: { type: 'node.exploded' } });
    assert.equal(badEvent.status, 400);
    assert.equal(badEvent.body.error.code, 'HMD_ERR_INVALID_EVENT');
    assert.match(badEvent.body.error.message, /^The test event is not a valid event: type must be one of the 17 event types/);
    const unknownField = await f.http('POST', '/v1/rules/big-order/test', { event: { type: 'node.created', colour: 'red' } });
    assert.equal(unknownField.status, 400);
    assert.match(unknownField.body.error.message, /unknown field "colour"/);
    const noEvent = await f.http('POST', '/v1/rules/big-order/test', { type: 'node.created' });
    assert.equal(noEvent.status, 400);
    assert.equal(noEvent.body.error.code, 'HMD_ERR_BAD_REQUEST');

    const paused = await f.http('POST', '/v1/rules/big-order/pause', {});
    assert.deepEqual([paused.status, paused.body.state, paused.body.changed, paused.body.message], [200, 'paused', true, 'The rule big-order is paused.']);
    assert.equal((await f.http('POST', '/v1/rules/big-order/pause')).body.changed, false);
    await f.http('POST', '/v1/events', { type: 'node.created', nodeLabels: ['Order'], properties: { id: 'o-8', total: 3000 } });
    await waitFor('the webhook of the other rule', () => hook.hits.length === 1);
    const resumed = await f.http('POST', '/v1/rules/big-order/resume', {});
    assert.deepEqual([resumed.body.state, resumed.body.changed], ['active', true]);
    const disabled = await f.http('POST', '/v1/rules/off/pause', {});
    assert.equal(disabled.status, 409);
    assert.equal(disabled.body.error.code, 'HMD_ERR_CONFLICT');
    assert.match(disabled.body.error.message, /disabled in its definition/);
    assert.equal((await f.http('POST', '/v1/rules/big-order/pause', [1])).status, 400);

    await f.http('POST', '/v1/events', { type: 'node.created', nodeLabels: ['Order'], properties: { id: 'o-9', total: 4000 } });
    await waitFor('a firing in the history', async () => (await f.http('GET', '/v1/rules/big-order/history')).body.firings.length === 1);
    const h = (await f.http('GET', '/v1/rules/big-order/history?limit=5')).body;
    assert.equal(h.firings[0].status, 'succeeded');
    assert.equal(h.firings[0].actions[0].input.title, 'Big order o-9');
    assert.equal((await f.http('GET', '/v1/rules/big-order')).body.statistics.matched, 1, 'the paused event was not matched');
    assert.equal((await f.http('GET', '/v1/rules/big-order/history?limit=zero')).status, 400);
    assert.equal((await f.http('GET', '/v1/rules/big-order/history?colour=red')).status, 400);
  } finally {
    await f.stop();
    await hook.close();
  }
});

test('a webhook that always fails is dead-lettered; listed, retried while still failing (it stays), then fixed and retried (it goes)', async () => {
  const hook = await webhook({ failing: true });
  const f = await startFileDaemon(config(hook.url));
  try {
    await f.http('POST', '/v1/events', { type: 'node.created', id: 'ev-1', nodeLabels: ['Order'], properties: { id: 'o-1', total: 5 } });
    await waitFor('the dead letter', async () => (await f.http('GET', '/v1/dead-letters')).body.count === 1);
    assert.equal(hook.hits.length, 2, 'two attempts');
    const listed = (await f.http('GET', '/v1/dead-letters?rule=finance-hook&limit=10')).body;
    const entry = listed.entries[0];
    assert.deepEqual([entry.rule, entry.eventId, entry.action, entry.attempts], ['finance-hook', 'ev-1', 'webhook', 2]);
    assert.match(entry.lastError, /answered HTTP 500: down for maintenance/);
    assert.equal((await f.http('GET', '/v1/dead-letters?rule=big-order')).body.entries.length, 0);

    const again = await f.http('POST', `/v1/dead-letters/${entry.id}/retry`, {});
    assert.equal(again.status, 200);
    assert.deepEqual([again.body.success, again.body.removed], [false, false]);
    assert.match(again.body.message, /failed again after 2 attempts: .* It stays in the dead-letter list\.$/);
    assert.equal((await f.http('GET', '/v1/dead-letters')).body.entries[0].attempts, 4);

    hook.failing = false;
    const fixed = await f.http('POST', `/v1/dead-letters/${entry.id}/retry`);
    assert.deepEqual([fixed.status, fixed.body.success, fixed.body.removed], [200, true, true]);
    assert.deepEqual(hook.hits.at(-1)!.body, { id: 'o-1' });
    assert.equal((await f.http('GET', '/v1/dead-letters')).body.count, 0);
    const gone = await f.http('POST', `/v1/dead-letters/${entry.id}/retry`, {});
    assert.equal(gone.status, 404);
    assert.match(gone.body.error.message, /^There is no dead letter with id /);
  } finally {
    await f.stop();
    await hook.close();
  }
});

test('a daemon without rules lists none, has no dead letters and answers 404 for a rule', async () => {
  const f = await startFileDaemon('plugins: []\n');
  try {
    const list = await f.http('GET', '/v1/rules');
    assert.deepEqual([list.status, list.body.configured, list.body.rules], [200, false, []]);
    assert.deepEqual((await f.http('GET', '/v1/dead-letters')).body.entries, []);
    const one = await f.http('GET', '/v1/rules/x');
    assert.equal(one.status, 404);
    assert.match(one.body.error.message, /no rules are configured/);
    assert.equal((await f.http('GET', '/v1/status')).body.rules.configured, false);
  } finally {
    await f.stop();
  }
});
