/**
 * Async invocations: ids at once, results on Bifrost, the bounded queue, the measured concurrency
 * limit, per-plugin rate limits and the identical-prompt cooldown, and the reference trigger
 * pattern (query failures → invokeActionAsync + sendPromptAsync with context).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { RunningDaemon } from '../../daemon/daemon.js';
import type { BifrostMessage } from '../../daemon/bifrost/bus.js';
import type { InvocationRecord } from '../../daemon/invoker/invocation-store.js';
import type { ActionResult } from '../../sdk/index.js';
import { pluginYaml, startTestDaemon, waitFor } from '../helpers/in-process-daemon.js';
import { fixturePlugin } from '../helpers/paths.js';
import { bifrostMessages } from '../helpers/public-api.js';
import { llmYaml, startTestLlm, tmpAuditYaml, type TestLlm } from '../llm/server.js';

const op = { kind: 'operator' as const };
const plugins = () => [pluginYaml(fixturePlugin('invoker-tools.mjs')), pluginYaml(fixturePlugin('invoker-trigger.mjs'), 'config:\n  threshold: 5')];
const NO_LIMITS = '  rateLimit:\n    promptsPerMinute: 0\n    promptsPerHour: 0\n    identicalPromptCooldownMs: 0';

const resultOnBifrost = async (d: RunningDaemon, id: string): Promise<BifrostMessage | undefined> =>
  (await bifrostMessages(d)).find((m) => m.data?.['invocationId'] === id && m.title !== undefined && !m.title.startsWith('Invocation refused'));

async function settled(d: RunningDaemon, ids: string[]): Promise<InvocationRecord[]> {
  await waitFor(`${ids.length} invocations to finish`, () => ids.every((id) => ['succeeded', 'failed', 'rejected'].includes(d.api.invocations!.get(id)?.status ?? '')));
  return ids.map((id) => d.api.invocations!.get(id)!);
}

async function metric(d: RunningDaemon, line: RegExp): Promise<number> {
  const { body } = await d.api.metrics();
  const m = body.split('\n').find((l) => line.test(l));
  return m ? Number(m.split(' ').pop()) : 0;
}

describe('async invocations', () => {
  let llm: TestLlm;
  let d: RunningDaemon;
  before(async () => {
    llm = await startTestLlm();
    d = await startTestDaemon(plugins(), `${tmpAuditYaml()}\n${llmYaml(llm)}\ninvoker:\n  concurrency: 3\n  queueCapacity: 50\n${NO_LIMITS}`);
  });
  after(async () => {
    await d.stop();
    await llm.close();
  });

  it('invokeActionAsync returns an id at once and publishes the result on Bifrost with it', async () => {
    // The call a plugin's ctx.heimdall.invokeActionAsync lands on, made directly: through a worker
    // the round trip would hide whether it waits for the action. "At once" is shown by what the
    // invocation is when the id comes back (not finished, the 200 ms action still ahead), not by
    // a wall-clock budget, which a loaded machine can blow for a call that does not wait at all.
    const id = d.internals.invoker.invokeActionAsync('heimdall.invoker-tools.slow', { ms: 200 }, { kind: 'plugin', plugin: 'invoker-trigger' });
    const returnedAt = Date.now();
    assert.equal(typeof id, 'string', 'the id itself, not a promise of one');
    assert.match(id, /^[0-9a-f-]{36}$/);
    const atReturn = d.api.invocations!.get(id)!;
    assert.equal(atReturn.mode, 'async');
    assert.ok(atReturn.status === 'queued' || atReturn.status === 'running', `the invocation was ${atReturn.status} when its id came back`);
    assert.equal(atReturn.finishedAt, undefined);
    const [rec] = await settled(d, [id]);
    assert.equal(rec!.status, 'succeeded');
    assert.ok(rec!.durationMs! >= 190, `ran for ${rec!.durationMs} ms`);
    assert.ok(Date.parse(rec!.finishedAt!) >= returnedAt, 'the action finished after the id came back');
    const m = (await resultOnBifrost(d, id))!;
    assert.ok(m, 'the result is on Bifrost');
    assert.equal(m.level, 'success');
    assert.equal(m.title, 'Action heimdall.invoker-tools.slow succeeded (plugin invoker-trigger)');
    assert.deepEqual({ ...m.data, durationMs: undefined, queuedMs: undefined, result: undefined }, {
      invocationId: id, kind: 'action', name: 'heimdall.invoker-tools.slow', plugin: 'invoker-trigger', trigger: 'plugin', success: true, durationMs: undefined, queuedMs: undefined, result: undefined,
    });
    assert.ok((m.data!['durationMs'] as number) >= 190);
    assert.deepEqual(m.origin, { kind: 'plugin', plugin: 'invoker-trigger', invocationId: id });
  });

  it('a failed async action is published as an error', async () => {
    const r = await d.api.invokeAction('heimdall.invoker-trigger.invokeAsync', { name: 'heimdall.invoker-tools.nope' }, op);
    const [id] = r.data!['ids'] as string[];
    await settled(d, [id!]);
    const m = (await resultOnBifrost(d, id!))!;
    assert.equal(m.level, 'error');
    assert.match(m.message, /No action is registered as "heimdall.invoker-tools.nope"/);
  });

  it('never runs more async invocations at once than invoker.concurrency (measured in the worker)', async () => {
    await d.api.invokeAction('heimdall.invoker-tools.reset', {}, op);
    const t0 = Date.now();
    const r = await d.api.invokeAction('heimdall.invoker-trigger.invokeAsync', { name: 'heimdall.invoker-tools.slow', params: { ms: 150 }, times: 12 }, op);
    const ids = r.data!['ids'] as string[];
    assert.equal(ids.length, 12);
    const recs = await settled(d, ids);
    const took = Date.now() - t0;
    assert.ok(recs.every((x) => x.status === 'succeeded'));
    const s = (await d.api.invokeAction('heimdall.invoker-tools.stats', {}, op)).data as { maxActive: number; calls: Record<string, number> };
    assert.equal(s.calls['slow'], 12);
    assert.equal(s.maxActive, 3, 'exactly the concurrency limit ran at once');
    // The queue's own high-water mark: the metrics show how many run now, not the most that ran.
    assert.equal(d.internals.invoker.queue.maxRunning, 3);
    assert.ok(took >= 4 * 150 - 20, `12 calls of 150 ms with 3 slots take at least 600 ms, took ${took}`);
    assert.ok(recs.filter((x) => (x.queuedMs ?? 0) >= 100).length >= 6, 'later calls waited for a slot');
  });

  it('the reference pattern: five query.failed events trigger an async action and an async prompt with context', async () => {
    llm.reset();
    llm.script({ toolCalls: [{ name: 'invoker-tools__lookup', arguments: { key: 'failures' } }] }, { content: 'Five syntax errors from one client; fix the client query.' });
    const events = Array.from({ length: 5 }, (_, i) => ({ id: `qf-${i}`, type: 'query.failed', query: `MATCH (n:User {id: ${i}) RETURN n`, error: 'Neo.ClientError.Statement.SyntaxError' }));
    assert.equal(d.api.ingest(events, 'http').accepted, 5);
    let launched: Array<{ actionId: string; promptId: string }> = [];
    await waitFor('the plugin to launch', async () => {
      launched = (await d.api.invokeAction('heimdall.invoker-trigger.launched', {}, op)).data!['launched'] as typeof launched;
      return launched.length === 1;
    });
    const { actionId, promptId } = launched[0]!;
    const [a, p] = await settled(d, [actionId, promptId]);
    assert.equal(a!.status, 'succeeded');
    assert.equal(p!.status, 'succeeded', JSON.stringify(p!.result));
    assert.equal(p!.result!.message, 'Five syntax errors from one client; fix the client query.');
    const system = llm.requests[0]!.body.messages[0]!.content!;
    assert.match(system, /The plugin "invoker-trigger" sent this prompt/);
    for (let i = 0; i < 5; i++) assert.ok(system.includes(`"qf-${i}"`), `context carries event qf-${i}`);
    const pm = (await resultOnBifrost(d, promptId))!;
    assert.equal(pm.level, 'success');
    assert.equal(pm.title, 'Prompt answered (plugin invoker-trigger)');
    assert.equal(pm.data!['kind'], 'prompt');
    assert.equal(pm.data!['plugin'], 'invoker-trigger');
    assert.equal(typeof pm.data!['durationMs'], 'number');
    assert.equal((pm.data!['result'] as { toolCalls: unknown[] }).toolCalls.length, 1);
    assert.equal((await resultOnBifrost(d, actionId))!.level, 'success');
  });

  it('an async prompt the model fails is published as an error with its id', async () => {
    llm.reset();
    llm.script({ status: 400, error: 'context length exceeded' });
    const r = await d.api.invokeAction('heimdall.invoker-trigger.prompt', { text: 'too long', mode: 'async' }, op);
    const id = (r.data!['results'] as string[])[0]!;
    await settled(d, [id]);
    const m = (await resultOnBifrost(d, id))!;
    assert.equal(m.level, 'error');
    assert.match(m.message, /answered HTTP 400: .*context length exceeded/);
    assert.equal(m.data!['success'], false);
  });
});

describe('the bounded invocation queue', () => {
  it('refuses async invocations beyond its capacity, counts them, and reports them', async () => {
    const llm = await startTestLlm();
    const d = await startTestDaemon(plugins(), `${tmpAuditYaml()}\n${llmYaml(llm)}\ninvoker:\n  concurrency: 1\n  queueCapacity: 2\n${NO_LIMITS}`);
    try {
      const r = await d.api.invokeAction('heimdall.invoker-trigger.invokeAsync', { name: 'heimdall.invoker-tools.slow', params: { ms: 300 }, times: 5 }, op);
      const ids = r.data!['ids'] as string[];
      assert.equal(ids.length, 5, 'every call gets an id, refused ones included');
      const statuses = ids.map((id) => d.api.invocations!.get(id)!.status);
      assert.deepEqual(statuses.slice(3), ['rejected', 'rejected']);
      for (const id of ids.slice(3)) {
        const rec = d.api.invocations!.get(id)!;
        assert.equal(rec.rejectedBecause, 'queue_full');
        assert.equal(rec.result!.data!['code'], 'HMD_ERR_QUEUE_FULL');
        assert.match(rec.result!.message, /queue is full \(\d+ waiting for 1 slots, capacity 2\).*invoker\.queueCapacity/);
      }
      // An operator is told at once: HTTP 503 with the error envelope.
      const res = await fetch(`${d.url}/v1/invocations`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ kind: 'action', name: 'heimdall.invoker-tools.lookup', params: { key: 'x' } }) });
      assert.equal(res.status, 503);
      assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'HMD_ERR_QUEUE_FULL');
      // The first refusal is on Bifrost at once (later ones are summarised).
      const refused = (await bifrostMessages(d)).filter((m) => m.title === 'Invocation refused (queue_full)');
      assert.equal(refused.length, 1);
      assert.equal(refused[0]!.data!['plugin'], 'invoker-trigger');
      assert.equal(await metric(d, /^heimdall_invocations_rejected_total\{reason="queue_full"\}/), 3);
      const recs = await settled(d, ids.slice(0, 3));
      assert.ok(recs.every((x) => x.status === 'succeeded'));
    } finally {
      await d.stop();
      await llm.close();
    }
  });
});

describe('per-plugin rate limits', () => {
  it('refuses prompts over the per-minute limit and identical prompts within the cooldown; operators are not limited', async () => {
    const llm = await startTestLlm();
    const d = await startTestDaemon(plugins(), `${tmpAuditYaml()}\n${llmYaml(llm)}\ninvoker:\n  pluginRateLimits:\n    invoker-trigger:\n      promptsPerMinute: 3\n      identicalPromptCooldownMs: 60000`);
    try {
      llm.respond(() => ({ content: 'ok' }));
      const same = await d.api.invokeAction('heimdall.invoker-trigger.prompt', { text: 'Same text', times: 2 }, op);
      const [first, second] = same.data!['results'] as string[];
      const rejected = d.api.invocations!.get(second!)!;
      assert.equal(rejected.status, 'rejected');
      assert.equal(rejected.rejectedBecause, 'rate_limited');
      assert.equal(rejected.result!.data!['code'], 'HMD_ERR_RATE_LIMITED');
      assert.equal(rejected.result!.data!['reason'], 'identical_prompt');
      assert.match(rejected.result!.message, /sent the same prompt 0 s ago; identical prompts are refused for 60 s/);
      const varied = await d.api.invokeAction('heimdall.invoker-trigger.prompt', { text: 'Varied', times: 4, vary: true }, op);
      const vids = varied.data!['results'] as string[];
      const vstatus = vids.map((id) => d.api.invocations!.get(id)!.status);
      assert.deepEqual(vstatus.map((s) => s === 'rejected'), [false, false, true, true]);
      assert.equal(d.api.invocations!.get(vids[3]!)!.result!.data!['reason'], 'per_minute');
      const sync = await d.api.invokeAction('heimdall.invoker-trigger.prompt', { text: 'Sync one', mode: 'sync' }, op);
      const sr = (sync.data!['results'] as ActionResult[])[0]!;
      assert.equal(sr.success, false);
      assert.equal(sr.data!['code'], 'HMD_ERR_RATE_LIMITED');
      assert.match(sr.message, /3 prompts in the last minute, its limit \(invoker\.rateLimit\.promptsPerMinute = 3\)/);
      const operator = await d.api.prompt('Operators are not limited.');
      assert.equal(operator.success, true);
      await settled(d, [first!, vids[0]!, vids[1]!]);
      assert.equal(llm.requests.length, 4, 'only the 3 accepted plugin prompts and the operator prompt reached the model');
      assert.equal(await metric(d, /^heimdall_invocations_rate_limited_total\{plugin="invoker-trigger",reason="identical_prompt"\}/), 1);
      assert.equal(await metric(d, /^heimdall_invocations_rate_limited_total\{plugin="invoker-trigger",reason="per_minute"\}/), 3);
      assert.equal(await metric(d, /^heimdall_invocations_total\{kind="prompt",mode="sync",outcome="rate_limited"\}/), 1);
    } finally {
      await d.stop();
      await llm.close();
    }
  });
});
