/** Rule actions through the SDK test kit with a manual clock: retries and backoff, dead letters, timing, continueOnError, dry runs. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { retryDelay } from '../../plugins/rules/retry.js';
import { deferred, startRules, tick } from '../../plugins/rules/testing.js';
import type { DeadLetter } from '../../plugins/rules/dead-letters.js';
import type { FiringRecord } from '../../plugins/rules/stats.js';
import type { DryRunResult } from '../../plugins/rules/dry-run.js';

/** A fetch that answers `statuses` in turn (then 200) and records the clock time of each call. */
function scriptedFetch(clock: { now(): number }, statuses: number[]) {
  const calls: Array<{ at: number; url: string; init: RequestInit }> = [];
  const f = (async (url: string | URL, init: RequestInit = {}) => {
    calls.push({ at: clock.now(), url: String(url), init });
    const status = statuses[calls.length - 1] ?? 200;
    return new Response(status === 200 ? 'ok' : `failure ${calls.length}`, { status });
  }) as typeof fetch;
  return { f, calls };
}

const hook = (retry: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
  name: 'hook',
  on: 'node.created',
  actions: [{ webhook: { url: 'http://127.0.0.1:1/hook', headers: { authorization: 'Bearer s3cret', 'x-rule': '{{ rule.name }}' }, body: { id: '{{ event.properties.id }}', n: '{{ window.count }}' } }, retry, ...extra }],
});

test('retry delays: fixed, exponential and capped by maxDelayMs', () => {
  const p = (backoff: 'fixed' | 'exponential', maxDelayMs = 30_000) => ({ maxAttempts: 5, initialDelayMs: 1000, backoff, maxDelayMs });
  assert.deepEqual([1, 2, 3, 4].map((n) => retryDelay(p('fixed'), n)), [1000, 1000, 1000, 1000]);
  assert.deepEqual([1, 2, 3, 4].map((n) => retryDelay(p('exponential'), n)), [1000, 2000, 4000, 8000]);
  assert.deepEqual([1, 2, 3, 4].map((n) => retryDelay(p('exponential', 2500), n)), [1000, 2000, 2500, 2500]);
});

test('a webhook that fails twice is retried with exponential backoff on the clock and succeeds on the third attempt', async () => {
  let h!: Awaited<ReturnType<typeof startRules>>;
  const clock = new (await import('../../plugins/rules/clock.js')).ManualClock();
  const { f, calls } = scriptedFetch(clock, [500, 503]);
  h = await startRules([hook({ maxAttempts: 3, initialDelayMs: 1000, backoff: 'exponential' })], { clock, fetch: f });
  const t0 = clock.now();
  await h.kit.emit({ type: 'node.created', properties: { id: 'o1' } });
  await tick(h, 999);
  assert.equal(calls.length, 1, 'no retry before the first delay');
  await tick(h, 1);
  assert.equal(calls.length, 2);
  await tick(h, 10_000);
  assert.deepEqual(calls.map((c) => c.at - t0), [0, 1000, 3000]);
  assert.equal(calls[0]!.init.method, 'POST');
  assert.deepEqual(JSON.parse(String(calls[0]!.init.body)), { id: 'o1', n: 1 });
  assert.equal((calls[0]!.init.headers as Record<string, string>)['x-rule'], 'hook');
  const s = h.engine.get('hook')!.stats;
  assert.deepEqual(s.actions, { succeeded: 1, failed: 0, retries: 2, deadLettered: 0 });
  const hist = (await h.kit.invoke('history', { name: 'hook' })).data!.firings as FiringRecord[];
  assert.equal(hist[0]!.status, 'succeeded');
  assert.equal(hist[0]!.actions[0]!.attempts, 3);
  assert.equal(hist[0]!.durationMs, 3000);
  assert.deepEqual((hist[0]!.actions[0]!.input as { headers: unknown }).headers, { authorization: '[redacted]', 'x-rule': 'hook' }, 'credentials are not shown');
});

test('fixed backoff waits the same delay each time', async () => {
  const clock = new (await import('../../plugins/rules/clock.js')).ManualClock();
  const { f, calls } = scriptedFetch(clock, [500, 500, 500]);
  const h = await startRules([hook({ maxAttempts: 4, initialDelayMs: 250, backoff: 'fixed' })], { clock, fetch: f });
  const t0 = clock.now();
  await h.kit.emit({ type: 'node.created', properties: { id: 'o1' } });
  await tick(h, 5000);
  assert.deepEqual(calls.map((c) => c.at - t0), [0, 250, 500, 750]);
});

test('an action that fails after its retries is dead-lettered on disk, survives a restart and can be retried', async () => {
  const clock = new (await import('../../plugins/rules/clock.js')).ManualClock();
  const { f } = scriptedFetch(clock, [500, 500, 500, 500, 500]);
  const rules = [hook({ maxAttempts: 2, initialDelayMs: 100 }, { continueOnError: false }), { name: 'other', on: 'node.deleted', actions: [{ log: { message: 'x' } }] }];
  (rules[0]!.actions as unknown[]).push({ log: { message: 'after the webhook' } });
  const h = await startRules(rules, { clock, fetch: f });
  await h.kit.emit({ type: 'node.created', id: 'ev-1', properties: { id: 'o1' } });
  await tick(h, 1000);
  const s = h.engine.get('hook')!.stats;
  assert.deepEqual(s.actions, { succeeded: 0, failed: 1, retries: 1, deadLettered: 1 });
  const firing = ((await h.kit.invoke('history', { name: 'hook' })).data!.firings as FiringRecord[])[0]!;
  assert.equal(firing.status, 'failed');
  assert.deepEqual(firing.actions.map((a) => a.status), ['failed', 'skipped'], 'a failure without continueOnError stops the actions after it');
  assert.ok(h.kit.calls.logs.some((l) => l.level === 'warn' && /^The webhook action 0 of rule hook failed after 2 attempts and was dead-lettered as [0-9a-f-]{36}: The webhook POST http:\/\/127.0.0.1:1\/hook answered HTTP 500: failure 2\.$/.test(l.msg)));
  const dl = (await h.kit.invoke('deadLetters')).data!;
  assert.equal(dl.count, 1);
  const entry = (dl.entries as DeadLetter[])[0]!;
  assert.deepEqual({ rule: entry.rule, eventId: entry.eventId, action: entry.action, actionIndex: entry.actionIndex, attempts: entry.attempts }, { rule: 'hook', eventId: 'ev-1', action: 'webhook', actionIndex: 0, attempts: 2 });
  assert.match(entry.lastError, /answered HTTP 500: failure 2/);
  assert.equal((entry.input as { headers: Record<string, string> }).headers.authorization, '[redacted]');
  assert.equal(entry.event.id, 'ev-1');
  const file = join(h.dir, '.heimdall/rules-dead-letters.jsonl');
  assert.equal(readFileSync(file, 'utf8').trim().split('\n').length, 1);

  // a restart: a new plugin instance reads the file; the retry fails again (attempts add up), then succeeds
  const { f: f2, calls: calls2 } = scriptedFetch(clock, [502, 502]);
  const again = await startRules(rules, { clock, fetch: f2, dir: h.dir });
  const listed = (await again.kit.invoke('deadLetters')).data!.entries as DeadLetter[];
  assert.deepEqual(listed.map((e) => e.id), [entry.id]);
  const retry1Promise = again.kit.invoke('retryDeadLetter', { id: entry.id });
  await again.clock.advance(1000);
  const retry1 = await retry1Promise;
  assert.equal(retry1.success, false);
  assert.match(retry1.message, /^The webhook action of rule hook failed again after 2 attempts: .* It stays in the dead-letter list\.$/);
  assert.equal(calls2.length, 2, 'the retry uses the stored retry policy: two attempts');
  assert.equal((await again.kit.invoke('deadLetters')).data!.entries && ((await again.kit.invoke('deadLetters')).data!.entries as DeadLetter[])[0]!.attempts, 4, 'attempts add up');
  const refused = await again.kit.invoke('retryDeadLetter', { id: entry.id }, { kind: 'prompt' });
  assert.equal(refused.success, false);
  const retry2 = await again.kit.invoke('retryDeadLetter', { id: entry.id });
  assert.equal(retry2.success, true, retry2.message);
  assert.equal(retry2.data!.removed, true);
  assert.equal(calls2.at(-1)!.init.headers && (calls2.at(-1)!.init.headers as Record<string, string>).authorization, 'Bearer s3cret', 'the stored input keeps the real header');
  assert.equal((await again.kit.invoke('deadLetters')).data!.count, 0);
  // a third start finds nothing left
  const third = await startRules(rules, { clock, fetch: f2, dir: h.dir });
  assert.equal((await third.kit.invoke('deadLetters')).data!.count, 0);
  const missing = await third.kit.invoke('retryDeadLetter', { id: 'nope' });
  assert.match(missing.message, /There is no dead letter with id nope/);
});

test('the dead-letter list is bounded: past max the oldest is evicted and counted, also after a restart', async () => {
  const clock = new (await import('../../plugins/rules/clock.js')).ManualClock();
  const { f } = scriptedFetch(clock, Array(20).fill(500));
  const rules = [hook({ maxAttempts: 1 })];
  const h = await startRules(rules, { clock, fetch: f, config: { deadLetters: { max: 3 } } });
  for (let i = 0; i < 5; i++) await h.kit.emit({ type: 'node.created', id: `ev-${i}`, properties: { id: i } });
  await h.engine.settled();
  const dl = (await h.kit.invoke('deadLetters')).data!;
  assert.deepEqual({ count: dl.count, max: dl.max, added: dl.added, evicted: dl.evicted }, { count: 3, max: 3, added: 5, evicted: 2 });
  assert.deepEqual((dl.entries as DeadLetter[]).map((e) => e.eventId), ['ev-4', 'ev-3', 'ev-2'], 'newest first');
  const lost = h.kit.calls.logs.filter((l) => l.level === 'error');
  assert.equal(lost.length, 1, 'an eviction loses data: one error line, throttled');
  assert.match(lost[0]!.msg, /^The dead-letter list is full \(3 entries\), so its oldest entry, the webhook action of rule hook for event ev-0, was evicted and cannot be retried\. Retry or raise deadLetters\.max\.$/);
  const again = await startRules(rules, { clock, fetch: f, dir: h.dir, config: { deadLetters: { max: 3 } } });
  assert.deepEqual(((await again.kit.invoke('deadLetters')).data!.entries as DeadLetter[]).map((e) => e.eventId), ['ev-4', 'ev-3', 'ev-2']);
});

test('continueOnError lets the next action run after a failure; the firing is then partial', async () => {
  const h = await startRules(
    [{ name: 'c', on: 'node.created', actions: [{ invoke: { action: 'heimdall.x.fails' }, continueOnError: true }, { log: { message: 'still ran' } }] }],
    { config: { deadLetters: { path: null } }, invokeAction: () => ({ success: false, message: 'nope' }) },
  );
  await h.kit.emit({ type: 'node.created' });
  await h.engine.settled();
  assert.ok(h.kit.calls.logs.some((l) => l.msg === 'still ran'));
  const f = ((await h.kit.invoke('history')).data!.firings as FiringRecord[])[0]!;
  assert.equal(f.status, 'partial');
  assert.match(f.actions[0]!.error!, /The action heimdall.x.fails did not succeed: nope/);
});

test('timing async starts an action and goes on; the firing is recorded when it settles', async () => {
  const gate = deferred();
  const h = await startRules(
    [{ name: 'a', on: 'node.created', actions: [{ invoke: { action: 'heimdall.x.slow' }, timing: 'async' }, { log: { message: 'next' } }] }],
    {
      invokeAction: async () => {
        await gate.promise;
        return { success: true, message: 'slow done' };
      },
    },
  );
  await h.kit.emit({ type: 'node.created' });
  await h.clock.advance(0);
  assert.ok(h.kit.calls.logs.some((l) => l.msg === 'next'), 'the log action ran while the async one was still running');
  assert.equal(((await h.kit.invoke('history')).data!.firings as unknown[]).length, 0);
  gate.resolve();
  await h.engine.settled();
  const f = ((await h.kit.invoke('history')).data!.firings as FiringRecord[])[0]!;
  assert.deepEqual(f.actions.map((a) => [a.timing, a.status]), [['async', 'succeeded'], ['sync', 'succeeded']]);
});

test('notify, invoke, prompt, cypher and log go through the plugin context with rendered inputs; prompts carry the event', async () => {
  const h = await startRules(
    [
      {
        name: 'all',
        on: 'node.updated',
        actions: [
          { notify: { level: 'error', title: 'T {{ event.properties.a }}', message: 'M {{ event.oldProperties.a }}', data: { a: '{{ event.properties.a }}' } } },
          { invoke: { action: 'heimdall.x.y', params: { a: '{{ event.properties.a }}', labels: '{{ event.nodeLabels }}' } } },
          { invoke: { action: 'heimdall.x.z', async: true } },
          { prompt: { text: 'Why {{ event.type }}?' } },
          { prompt: { text: 'Later', async: true } },
          { cypher: { statement: 'MATCH (n) WHERE elementId(n) = $id SET n.seen = true', params: { id: '{{ event.nodeId }}' } } },
          { log: { level: 'warn', message: 'L {{ rule.name }} {{ now }}' } },
        ],
      },
    ],
    { invokeAction: () => ({ success: true, message: 'ok' }), prompt: () => ({ success: true, message: 'because' }) },
  );
  const e = await h.kit.emit({ type: 'node.updated', nodeId: '4:a:7', nodeLabels: ['A'], properties: { a: 2 }, oldProperties: { a: 1 } });
  await h.engine.settled();
  const c = h.kit.calls;
  assert.deepEqual(c.notifications, [{ level: 'error', title: 'T 2', message: 'M 1', data: { a: 2, rule: 'all', eventId: e.id } }]);
  assert.deepEqual(c.invokeAction, [{ name: 'heimdall.x.y', params: { a: 2, labels: ['A'] } }]);
  assert.deepEqual(c.invokeActionAsync, [{ name: 'heimdall.x.z', params: {} }]);
  assert.equal(c.sendPrompt[0]!.prompt, 'Why node.updated?');
  const context = (c.sendPrompt[0]!.opts as { context: { rule: string; event: { id: string }; window: { count: number } } }).context;
  assert.equal(context.rule, 'all');
  assert.equal(context.event.id, e.id);
  assert.equal(context.window.count, 1);
  assert.equal(c.sendPromptAsync[0]!.prompt, 'Later');
  assert.deepEqual(c.query, [{ cypher: 'MATCH (n) WHERE elementId(n) = $id SET n.seen = true', params: { id: '4:a:7' }, opts: { mode: 'write' } }]);
  assert.deepEqual(c.logs.filter((l) => l.level === 'warn').map((l) => l.msg), [`L all ${new Date(h.clock.now()).toISOString()}`]);
});

test('a webhook that does not answer within its timeoutMs fails with a sentence', async () => {
  const never = (async (_u: string | URL, init: RequestInit = {}) =>
    new Promise<Response>((_res, rej) => init.signal!.addEventListener('abort', () => rej(Object.assign(new Error('aborted'), { name: 'TimeoutError' }))))) as typeof fetch;
  const h = await startRules([{ name: 'slow-hook', on: 'node.created', actions: [{ webhook: { url: 'http://127.0.0.1:1/x', timeoutMs: 50 } }] }], { fetch: never, config: { deadLetters: { path: null } } });
  await h.kit.emit({ type: 'node.created' });
  await new Promise((r) => setTimeout(r, 120));
  await h.engine.settled();
  const f = ((await h.kit.invoke('history')).data!.firings as FiringRecord[])[0]!;
  assert.equal(f.actions[0]!.error, 'The webhook POST http://127.0.0.1:1/x failed: no answer within 50 ms.');
});

test('dry run: says why an event does not match, previews the gates and renders the actions, touching nothing', async () => {
  const h = await startRules([
    { name: 'w', on: 'query.failed', match: { database: 'neo4j' }, window: { count: 3, within: '1m', by: 'event.userId' }, cooldown: '10m', actions: [{ notify: { title: '{{ window.count }} failures of {{ window.key }}', message: '{{ event.error }}' } }, { webhook: { url: 'http://127.0.0.1:1/x', headers: { 'x-api-key': 'k' } } }] },
  ]);
  for (let i = 0; i < 2; i++) await h.kit.emit({ type: 'query.failed', userId: 'u1', error: `e${i}` });
  const statsBefore = structuredClone(h.engine.get('w')!.stats);
  const callsBefore = JSON.stringify({ ...h.kit.calls, logs: [] });

  const no = (await h.kit.invoke('test', { name: 'w', event: { type: 'node.created', database: 'other' } })).data as unknown as DryRunResult;
  assert.equal(no.matched, false);
  assert.deepEqual(no.reasons, [
    'The event type node.created is not one of on: "query.failed".',
    'The database other is not one of match.database: "neo4j".',
    'The window key window.by (event.userId) raised an error: No such key: userId.',
  ]);
  const yes = await h.kit.invoke('test', { name: 'w', event: { type: 'query.failed', userId: 'u1', error: 'boom' } });
  const r = yes.data as unknown as DryRunResult;
  assert.equal(r.matched, true);
  assert.equal(r.wouldFire, true);
  assert.equal(r.key, 'u1');
  assert.deepEqual(r.gates.window, { count: 3, withinMs: 60_000, inWindow: 3, completes: true });
  assert.deepEqual(r.gates.cooldown, { ms: 600_000, active: false, remainingMs: 0 });
  assert.equal(yes.message, 'The event matches and the rule would fire, running 2 actions.');
  assert.deepEqual(r.actions[0]!.input, { title: '3 failures of u1', message: 'boom' });
  assert.deepEqual((r.actions[1]!.input as { headers: unknown }).headers, { 'x-api-key': '[redacted]' });
  const other = (await h.kit.invoke('test', { name: 'w', event: { type: 'query.failed', userId: 'u2' } })).data as unknown as DryRunResult;
  assert.equal(other.wouldFire, false);
  assert.deepEqual(other.gates.window, { count: 3, withinMs: 60_000, inWindow: 1, completes: false });

  assert.deepEqual(h.engine.get('w')!.stats, statsBefore, 'no statistic moved');
  assert.equal(JSON.stringify({ ...h.kit.calls, logs: [] }), callsBefore, 'no action ran');
  // the window was not touched: the real third event is the one that fires
  await h.kit.emit({ type: 'query.failed', userId: 'u1', error: 'real' });
  await h.engine.settled();
  assert.deepEqual(h.kit.calls.notifications.map((n) => n.title), ['3 failures of u1']);
  // now the cooldown shows
  const cooling = await h.kit.invoke('test', { name: 'w', event: { type: 'query.failed', userId: 'u1' } });
  assert.equal((cooling.data as unknown as DryRunResult).gates.cooldown!.active, true);
  const bad = await h.kit.invoke('test', { name: 'w', event: { type: 'nope' } });
  assert.equal(bad.success, false);
  assert.match(bad.message, /^The test event needs a type, one of node.created/);
});

test('dead-letter log lines are throttled per rule, and the next line says how many were held back', async () => {
  const clock = new (await import('../../plugins/rules/clock.js')).ManualClock();
  const { f } = scriptedFetch(clock, Array(50).fill(500));
  const h = await startRules([hook({ maxAttempts: 1 })], { clock, fetch: f, config: { deadLetters: { max: 2 } } });
  for (let i = 0; i < 4; i++) await h.kit.emit({ type: 'node.created', properties: { id: i } });
  await h.engine.settled();
  const warns = () => h.kit.calls.logs.filter((l) => l.level === 'warn').map((l) => l.msg);
  assert.equal(warns().length, 1, 'one line for four failures within ten seconds');
  await tick(h, 10_000);
  await h.kit.emit({ type: 'node.created', properties: { id: 9 } });
  await h.engine.settled();
  assert.equal(warns().length, 2);
  assert.match(warns()[1]!, / 3 more of this rule's actions were dead-lettered since the last such line\.$/);
  // the file is compacted once it holds more than twice max lines (plus a margin)
  for (let i = 0; i < 30; i++) await h.kit.emit({ type: 'node.created', properties: { id: 100 + i } });
  await h.engine.settled();
  const lines = readFileSync(join(h.dir, '.heimdall/rules-dead-letters.jsonl'), 'utf8').trim().split('\n');
  assert.ok(lines.length <= 2 * 2 + 16 + 1, `${lines.length} lines`);
  const again = await startRules([hook({ maxAttempts: 1 })], { clock, fetch: f, dir: h.dir, config: { deadLetters: { max: 2 } } });
  assert.deepEqual(((await again.kit.invoke('deadLetters')).data!.entries as DeadLetter[]).map((e) => (e.event.properties as { id: number }).id), [129, 128]);
});
