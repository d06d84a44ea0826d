/**
 * The tool loop against the OpenAI-compatible test server (real HTTP, the real `openai` client):
 * plain answers, single, parallel and multi-step tool calls, the step limit, invalid and unknown
 * tool calls, retries on 429/500, timeouts, JSON mode and the auto fallback, raw prompts, the
 * system prompt, and the no-model case.
 */
import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { parseConfig } from '../../config/loader.js';
import { startDaemon, type RunningDaemon } from '../../daemon/daemon.js';
import type { ToolCallRecord } from '../../daemon/invoker/prompt-runner.js';
import type { ActionResult } from '../../sdk/index.js';
import { pluginYaml, startTestDaemon, waitFor } from '../helpers/in-process-daemon.js';
import { REPO_ROOT, fixturePlugin } from '../helpers/paths.js';
import { bifrostMessages } from '../helpers/public-api.js';
import { llmYaml, startTestLlm, tmpAuditYaml, type TestLlm } from '../llm/server.js';

const op = { kind: 'operator' as const };
const NO_LIMITS = 'invoker:\n  rateLimit:\n    promptsPerMinute: 0\n    promptsPerHour: 0\n    identicalPromptCooldownMs: 0';
const plugins = () => [pluginYaml(fixturePlugin('invoker-tools.mjs')), pluginYaml(fixturePlugin('invoker-trigger.mjs'))];

async function stats(d: RunningDaemon): Promise<{ calls: Record<string, number>; maxActive: number; wiped: string[] }> {
  const r = await d.api.invokeAction('heimdall.invoker-tools.stats', {}, op);
  return r.data as never;
}

const calls = (r: ActionResult) => r.data!['toolCalls'] as ToolCallRecord[];
const toolMessages = (llm: TestLlm, i: number) => llm.requests[i]!.body.messages.filter((m) => m.role === 'tool');

describe('sendPrompt with native tools', () => {
  let llm: TestLlm;
  let d: RunningDaemon;
  before(async () => {
    llm = await startTestLlm();
    d = await startTestDaemon(plugins(), `${tmpAuditYaml()}\n${llmYaml(llm, { toolMode: 'native', maxRetries: 2 })}\n${NO_LIMITS}`);
  });
  after(async () => {
    await d.stop();
    await llm.close();
  });
  beforeEach(async () => {
    llm.reset();
    await d.api.invokeAction('heimdall.invoker-tools.reset', {}, op);
  });

  it('returns a plain answer, with the catalogue as tools and a system prompt', async () => {
    llm.script({ content: 'Everything looks healthy.' });
    const r = await d.api.prompt('How is the database?');
    assert.equal(r.success, true, r.message);
    assert.equal(r.message, 'Everything looks healthy.');
    assert.equal(r.data!['steps'], 1);
    assert.equal(llm.requests.length, 1);
    const body = llm.requests[0]!.body;
    assert.equal(body.model, 'test-model');
    assert.equal(llm.requests[0]!.headers['authorization'], 'Bearer test-key');
    const names = body.tools!.map((t) => t.function.name);
    assert.ok(names.includes('invoker-tools__lookup'), names.join(', '));
    assert.ok(names.every((n) => /^[a-zA-Z0-9_-]{1,64}$/.test(n)));
    assert.ok(!names.includes('help'), 'heimdall.help is in the system prompt, not a tool');
    const lookup = body.tools!.find((t) => t.function.name === 'invoker-tools__lookup')!;
    assert.deepEqual(lookup.function.parameters!['required'], ['key']);
    assert.equal(body.messages[0]!.role, 'system');
    assert.match(body.messages[0]!.content!, /## Actions/);
    assert.match(body.messages[0]!.content!, /heimdall\.invoker-tools\.wipe \(tool invoker-tools__wipe\) \[destructive\]/);
    assert.match(body.messages[0]!.content!, /An operator sent this prompt/);
    assert.match(body.messages[0]!.content!, /No database is configured/);
    assert.deepEqual(body.messages[1], { role: 'user', content: 'How is the database?' });
    const usage = r.data!['usage'] as { promptTokens: number; completionTokens: number };
    assert.ok(usage.promptTokens > 0 && usage.completionTokens > 0);
  });

  it('runs a tool call, feeds the result back, and returns the final answer', async () => {
    llm.script({ toolCalls: [{ name: 'invoker-tools__lookup', arguments: { key: 'alpha' } }] }, { content: 'alpha is v-alpha.' });
    const r = await d.api.prompt('What is alpha?');
    assert.equal(r.success, true, r.message);
    assert.equal(r.message, 'alpha is v-alpha.');
    assert.equal(r.data!['steps'], 2);
    assert.deepEqual(calls(r).map((c) => [c.action, c.status]), [['heimdall.invoker-tools.lookup', 'ok']]);
    const tm = toolMessages(llm, 1);
    assert.equal(tm.length, 1);
    assert.equal(tm[0]!.tool_call_id, llm.requests[1]!.body.messages.find((m) => m.role === 'assistant')!.tool_calls![0]!.id);
    const fed = JSON.parse(tm[0]!.content!) as ActionResult;
    assert.equal(fed.success, true);
    assert.equal(fed.data!['value'], 'v-alpha');
    assert.deepEqual(fed.data!['trigger'], { kind: 'prompt' }, 'the action sees that the model called it');
    assert.equal(fed.data!['invocationId'], r.data!['invocationId']);
    assert.equal((await stats(d)).calls['lookup'], 1);
  });

  it('runs parallel tool calls at the same time', async () => {
    llm.script(
      {
        toolCalls: [
          { name: 'invoker-tools__slow', arguments: { ms: 300 } },
          { name: 'invoker-tools__slow', arguments: { ms: 300 } },
          { name: 'invoker-tools__lookup', arguments: { key: 'b' } },
        ],
      },
      { content: 'Done.' },
    );
    const r = await d.api.prompt('Do three things.');
    assert.equal(r.success, true, r.message);
    const s = await stats(d);
    assert.equal(s.calls['slow'], 2);
    assert.equal(s.maxActive, 2, 'both slow calls ran at once');
    // Between the model's tool calls and its next request, the two slow calls ran; one after the
    // other that would take at least the sum of their own durations. (Measured against their
    // durations, not a fixed budget: on a loaded machine every step is slower, the sum too.)
    const slowMs = calls(r).filter((c) => c.tool === 'invoker-tools__slow').map((c) => c.durationMs);
    assert.ok(slowMs.every((ms) => ms >= 290), `slow calls of ${slowMs.join(', ')} ms`);
    const between = llm.requests[1]!.receivedAt - llm.requests[0]!.receivedAt;
    const sequential = slowMs[0]! + slowMs[1]!;
    assert.ok(between < sequential, `the tool step took ${between} ms; in sequence it would take at least ${sequential} ms`);
    assert.equal(toolMessages(llm, 1).length, 3);
    assert.deepEqual(calls(r).map((c) => c.tool), ['invoker-tools__slow', 'invoker-tools__slow', 'invoker-tools__lookup'], 'records keep the order of the calls');
  });

  it('runs a multi-step loop', async () => {
    llm.script(
      { toolCalls: [{ name: 'invoker-tools__lookup', arguments: { key: 'a' } }] },
      { toolCalls: [{ name: 'invoker-tools__lookup', arguments: { key: 'b' } }] },
      { content: 'a and b looked up.' },
    );
    const r = await d.api.prompt('Look up a, then b.');
    assert.equal(r.success, true, r.message);
    assert.equal(r.data!['steps'], 3);
    assert.deepEqual(calls(r).map((c) => [c.step, c.params?.['key']]), [[1, 'a'], [2, 'b']]);
    assert.equal(llm.requests[2]!.body.messages.filter((m) => m.role === 'tool').length, 2, 'the whole conversation is sent each step');
  });

  it('stops at the step limit with a clear message', async () => {
    llm.respond(() => ({ toolCalls: [{ name: 'invoker-tools__lookup', arguments: { key: 'again' } }] }));
    const r = await d.api.prompt('Loop forever.', { maxSteps: 3 });
    assert.equal(r.success, false);
    assert.equal(r.data!['reason'], 'step_limit');
    assert.match(r.message, /did not finish within 3 steps/);
    assert.equal(llm.requests.length, 3);
    assert.equal((await stats(d)).calls['lookup'], 3);
  });

  it('feeds invalid arguments back as errors without running the action', async () => {
    llm.script(
      {
        toolCalls: [
          { name: 'invoker-tools__lookup', arguments: '{"key": ' },
          { name: 'invoker-tools__lookup', arguments: { key: 5 } },
          { name: 'invoker-tools__lookup', arguments: { key: 'ok', extra: true } },
        ],
      },
      { toolCalls: [{ name: 'invoker-tools__lookup', arguments: { key: 'fixed' } }] },
      { content: 'Fixed my arguments.' },
    );
    const r = await d.api.prompt('Try hard.');
    assert.equal(r.success, true, r.message);
    assert.deepEqual(calls(r).map((c) => c.status), ['invalid', 'invalid', 'invalid', 'ok']);
    const fed = toolMessages(llm, 1).map((m) => JSON.parse(m.content!) as ActionResult);
    assert.match(fed[0]!.message, /not valid JSON.*was not run/);
    assert.match(fed[1]!.message, /params\.key must be string.*was not run/);
    assert.match(fed[2]!.message, /must NOT have additional properties/);
    assert.ok(fed.every((f) => f.success === false && f.data!['code'] === 'HMD_ERR_INVALID_PARAMS'));
    assert.equal((await stats(d)).calls['lookup'], 1, 'only the valid call ran');
  });

  it('answers an unknown tool name with the closest names, and runs nothing', async () => {
    llm.script({ toolCalls: [{ name: 'invoker-tools__lookpu', arguments: { key: 'a' } }] }, { content: 'Sorry.' });
    const r = await d.api.prompt('Misspell a tool.');
    assert.equal(r.success, true);
    assert.equal(calls(r)[0]!.status, 'unknown');
    const fed = JSON.parse(toolMessages(llm, 1)[0]!.content!) as ActionResult;
    assert.match(fed.message, /There is no tool named "invoker-tools__lookpu"\. Did you mean invoker-tools__lookup/);
    assert.equal((await stats(d)).calls['lookup'], 0);
  });

  it('reports an action that overruns its deadline as timed out', async () => {
    llm.script({ toolCalls: [{ name: 'invoker-tools__sleepy', arguments: {} }] }, { content: 'It timed out.' });
    const r = await d.api.prompt('Call the sleepy one.');
    assert.equal(calls(r)[0]!.status, 'failed');
    const fed = JSON.parse(toolMessages(llm, 1)[0]!.content!) as ActionResult;
    assert.equal(fed.data!['code'], 'HMD_ERR_ACTION_TIMEOUT');
    assert.match(fed.message, /did not finish within 100 ms/);
  });

  it('retries 429 and 500 answers and then succeeds', async () => {
    llm.script({ status: 429, headers: { 'retry-after-ms': '20' } }, { status: 500, headers: { 'retry-after-ms': '20' } }, { content: 'Third time lucky.' });
    const r = await d.api.prompt('Retry please.');
    assert.equal(r.success, true, r.message);
    assert.equal(r.message, 'Third time lucky.');
    assert.equal(llm.requests.length, 3);
  });

  it('gives up after the configured retries with a message that names the status', async () => {
    llm.script(...[0, 1, 2].map(() => ({ status: 500, error: 'model crashed', headers: { 'retry-after-ms': '10' } })));
    const r = await d.api.prompt('This fails.');
    assert.equal(r.success, false);
    assert.equal(r.data!['reason'], 'model_http');
    assert.match(r.message, /answered HTTP 500 after 3 attempts: .*model crashed/);
    assert.equal(llm.requests.length, 3);
  });

  it('offers no tool that needs a missing database or executor, and sends raw prompts without catalogue', async () => {
    llm.script({ content: 'raw answer' });
    const r = await d.api.invokeAction('heimdall.invoker-trigger.prompt', { text: 'Just say hi.', mode: 'raw' }, op);
    const raw = (r.data!['results'] as ActionResult[])[0]!;
    assert.equal(raw.success, true, raw.message);
    assert.equal(raw.message, 'raw answer');
    assert.deepEqual(llm.requests[0]!.body.messages, [{ role: 'user', content: 'Just say hi.' }]);
    assert.equal(llm.requests[0]!.body.tools, undefined);
    llm.script({ content: 'ok' });
    await d.api.prompt('List tools.');
    const names = llm.requests[1]!.body.tools!.map((t) => t.function.name);
    for (const hidden of ['db__query', 'db__schema', 'remediate__cypher']) assert.ok(!names.includes(hidden), `${hidden} needs a database`);
  });

  it("puts the calling plugin and its context in the system prompt", async () => {
    llm.script({ content: 'Seen.' });
    const r = await d.api.invokeAction('heimdall.invoker-trigger.prompt', { text: 'Why do queries fail?', mode: 'sync', context: { recentFailures: [{ id: 'ev-1', error: 'SyntaxError' }] } }, op);
    assert.equal((r.data!['results'] as ActionResult[])[0]!.success, true);
    const system = llm.requests[0]!.body.messages[0]!.content!;
    assert.match(system, /The plugin "invoker-trigger" sent this prompt/);
    assert.match(system, /"ev-1"/);
  });
});

describe('sendPrompt timeouts', () => {
  it('reports a model that does not answer in time, after retrying', async () => {
    const llm = await startTestLlm();
    const d = await startTestDaemon([], `${tmpAuditYaml()}\n${llmYaml(llm, { timeoutMs: 300, maxRetries: 1 })}`);
    try {
      llm.respond(() => ({ content: 'too late', delayMs: 3000 }));
      const t0 = Date.now();
      const r = await d.api.prompt('Are you there?');
      assert.equal(r.success, false);
      assert.equal(r.data!['reason'], 'model_timeout');
      assert.match(r.message, /did not answer within 300 ms after 2 attempts.*llm\.timeoutMs/);
      assert.equal(llm.requests.length, 2);
      assert.ok(Date.now() - t0 < 2500, 'the client gave up at the timeout, not when the server answered');
    } finally {
      await d.stop();
      await llm.close();
    }
  });
});

describe('JSON mode', () => {
  let llm: TestLlm;
  let d: RunningDaemon;
  before(async () => {
    llm = await startTestLlm();
    d = await startTestDaemon(plugins(), `${tmpAuditYaml()}\n${llmYaml(llm, { toolMode: 'json' })}\n${NO_LIMITS}`);
  });
  after(async () => {
    await d.stop();
    await llm.close();
  });
  beforeEach(async () => {
    llm.reset();
    await d.api.invokeAction('heimdall.invoker-tools.reset', {}, op);
  });

  it('runs actions the model names in JSON, recovers from malformed JSON, and finishes on plain text', async () => {
    llm.script(
      { content: 'I will look it up: {"action": "heimdall.invoker-tools.lookup", "params": {"key": "x"' },
      { content: '```json\n{"action": "heimdall.invoker-tools.lookup", "params": {"key": "a{b}c"}}\n```' },
      { content: '[{"action": "heimdall.invoker-tools.lookup", "params": {"key": 7}}, {"action": "heimdall.invoker-tools.lookup", "params": {"key": "y"}}]' },
      { content: 'The value is v-a{b}c.' },
    );
    const r = await d.api.prompt('What is a{b}c?');
    assert.equal(r.success, true, r.message);
    assert.equal(r.message, 'The value is v-a{b}c.');
    assert.equal(r.data!['mode'], 'json');
    assert.deepEqual(calls(r).map((c) => c.status), ['invalid', 'ok', 'invalid', 'ok']);
    for (const req of llm.requests) assert.equal(req.body.tools, undefined, 'no tools are sent in JSON mode');
    const system = llm.requests[0]!.body.messages[0]!.content!;
    assert.match(system, /Reply protocol/);
    assert.match(system, /heimdall\.invoker-tools\.lookup: Looks up the value stored under a key\. params: \{"type":"object"/);
    const second = llm.requests[1]!.body.messages.at(-1)!;
    assert.equal(second.role, 'user');
    assert.match(second.content!, /^Error: .*no valid JSON object/);
    const third = llm.requests[2]!.body.messages.at(-1)!.content!;
    assert.match(third, /Results of your actions:\n1\. heimdall\.invoker-tools\.lookup → .*v-a\{b\}c/);
    const fourth = llm.requests[3]!.body.messages.at(-1)!.content!;
    assert.match(fourth, /1\. heimdall\.invoker-tools\.lookup → .*params\.key must be string/);
    assert.match(fourth, /2\. heimdall\.invoker-tools\.lookup → .*v-y/);
    assert.equal((await stats(d)).calls['lookup'], 2);
  });
});

describe('toolMode auto', () => {
  it('falls back to JSON mode when the server refuses tools, and remembers it', async () => {
    const llm = await startTestLlm();
    const d = await startTestDaemon(plugins(), `${tmpAuditYaml()}\n${llmYaml(llm, { toolMode: 'auto' })}\n${NO_LIMITS}`);
    try {
      llm.refuseTools = true;
      llm.script({ content: '{"action": "heimdall.invoker-tools.lookup", "params": {"key": "q"}}' }, { content: 'q is v-q.' });
      const r = await d.api.prompt('What is q?');
      assert.equal(r.success, true, r.message);
      assert.equal(r.data!['mode'], 'json');
      assert.equal(llm.requests.length, 3);
      assert.ok(llm.requests[0]!.body.tools, 'the first try offers native tools');
      assert.equal(llm.requests[1]!.body.tools, undefined);
      assert.match(llm.requests[1]!.body.messages[0]!.content!, /Reply protocol/);
      llm.script({ content: 'Still JSON.' });
      await d.api.prompt('Again.');
      assert.equal(llm.requests.length, 4);
      assert.equal(llm.requests[3]!.body.tools, undefined, 'the fallback is remembered for this model');
    } finally {
      await d.stop();
      await llm.close();
    }
  });
});

describe('no model configured', () => {
  it('answers every prompt with success:false and how to configure one, and logs it once', async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, cb) {
        lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
        cb();
      },
    });
    const config = parseConfig(`server:\n  port: 0\nplugins:\n${[pluginYaml(fixturePlugin('invoker-trigger.mjs'))].join('\n')}\n`, { file: `${REPO_ROOT}/test-inline.yaml`, env: {} });
    const d = await startDaemon({ config, logger: pino({ level: 'info' }, sink) });
    try {
      const a = await d.api.prompt('Hello?');
      assert.equal(a.success, false);
      assert.equal(a.data!['code'], 'HMD_ERR_NO_MODEL');
      assert.match(a.message, /No language model is configured.*Add an llm: section/);
      const viaPlugin = await d.api.invokeAction('heimdall.invoker-trigger.prompt', { text: 'x', mode: 'sync' }, op);
      assert.equal((viaPlugin.data!['results'] as ActionResult[])[0]!.data!['code'], 'HMD_ERR_NO_MODEL');
      const raw = await d.api.invokeAction('heimdall.invoker-trigger.prompt', { text: 'y', mode: 'raw' }, op);
      assert.equal((raw.data!['results'] as ActionResult[])[0]!.success, false);
      const asyncRun = await d.api.invokeAction('heimdall.invoker-trigger.prompt', { text: 'z', mode: 'async' }, op);
      const id = (asyncRun.data!['results'] as string[])[0]!;
      await waitFor('the async prompt result on Bifrost', async () => (await bifrostMessages(d)).some((m) => m.data?.['invocationId'] === id));
      const m = (await bifrostMessages(d)).find((x) => x.data?.['invocationId'] === id)!;
      assert.equal(m.level, 'error');
      assert.match(m.message, /No language model is configured/);
      const fromInvoker = lines.filter((l) => l.includes('"component":"invoker"') && l.includes('No language model is configured'));
      assert.equal(fromInvoker.length, 1, fromInvoker.join('\n'));
    } finally {
      await d.stop();
    }
  });
});
