/**
 * Operators: POST /v1/prompt, POST/GET /v1/invocations, `heimdall prompt [--async]`,
 * `heimdall invocations`, and the invoker metrics on /metrics.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { RunningDaemon } from '../../daemon/daemon.js';
import type { InvocationRecord } from '../../daemon/invoker/invocation-store.js';
import type { ActionResult } from '../../sdk/index.js';
import { runCli, type CliResult } from '../helpers/daemon-process.js';
import { pluginYaml, startTestDaemon, waitFor } from '../helpers/in-process-daemon.js';
import { fixturePlugin } from '../helpers/paths.js';
import { llmYaml, startTestLlm, tmpAuditYaml, type TestLlm } from '../llm/server.js';

interface ErrorBody {
  error: { code: string; message: string; details?: Record<string, unknown> };
}

describe('invocations over HTTP and the CLI', () => {
  let llm: TestLlm;
  let d: RunningDaemon;
  const api = async <T>(method: string, path: string, body?: unknown): Promise<{ status: number; json: T }> => {
    const res = await fetch(`${d.url}${path}`, { method, ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }) });
    return { status: res.status, json: (await res.json()) as T };
  };
  const cli = (...args: string[]): Promise<CliResult> => runCli([...args, '--url', d.url]);
  const done = (id: string) => waitFor(`invocation ${id} to finish`, () => ['succeeded', 'failed'].includes(d.api.invocations!.get(id)?.status ?? ''));

  before(async () => {
    llm = await startTestLlm();
    d = await startTestDaemon([pluginYaml(fixturePlugin('invoker-tools.mjs'))], `${tmpAuditYaml()}\n${llmYaml(llm)}`);
  });
  after(async () => {
    await d.stop();
    await llm.close();
  });

  it('POST /v1/prompt runs the tool loop and answers with the ActionResult', async () => {
    llm.reset();
    llm.script({ toolCalls: [{ name: 'invoker-tools__lookup', arguments: { key: 'h' } }] }, { content: 'h is v-h.' });
    const r = await api<ActionResult>('POST', '/v1/prompt', { prompt: 'What is h?' });
    assert.equal(r.status, 200);
    assert.equal(r.json.success, true);
    assert.equal(r.json.message, 'h is v-h.');
    const rec = d.api.invocations!.get(r.json.data!['invocationId'] as string)!;
    assert.equal(rec.kind, 'prompt');
    assert.equal(rec.mode, 'sync');
    assert.equal(rec.trigger.kind, 'operator');
    assert.equal(rec.status, 'succeeded');
  });

  it('POST /v1/invocations queues an action and GET /v1/invocations/{id} shows its result', async () => {
    const r = await api<{ invocationId: string; status: string; url: string }>('POST', '/v1/invocations', { kind: 'action', name: 'heimdall.invoker-tools.lookup', params: { key: 'z' } });
    assert.equal(r.status, 202);
    assert.equal(r.json.url, `/v1/invocations/${r.json.invocationId}`);
    await done(r.json.invocationId);
    const g = await api<InvocationRecord>('GET', r.json.url);
    assert.equal(g.status, 200);
    assert.equal(g.json.status, 'succeeded');
    assert.equal(g.json.result!.message, 'The value of z is v-z.');
    assert.deepEqual(g.json.params, { key: 'z' });
    const list = await api<{ invocations: InvocationRecord[] }>('GET', '/v1/invocations?kind=action&limit=1');
    assert.equal(list.json.invocations.length, 1);
    assert.equal(list.json.invocations[0]!.id, r.json.invocationId);
  });

  it('refuses what cannot succeed at once, with the error envelope', async () => {
    const unknown = await api<ErrorBody>('POST', '/v1/invocations', { kind: 'action', name: 'heimdall.invoker-tools.lookpu' });
    assert.equal(unknown.status, 404);
    assert.equal(unknown.json.error.code, 'HMD_ERR_ACTION_NOT_FOUND');
    assert.match(unknown.json.error.message, /Did you mean heimdall\.invoker-tools\.lookup/);
    const invalid = await api<ErrorBody>('POST', '/v1/invocations', { kind: 'action', name: 'heimdall.invoker-tools.lookup', params: {} });
    assert.equal(invalid.status, 400);
    assert.equal(invalid.json.error.code, 'HMD_ERR_INVALID_PARAMS');
    const badKind = await api<ErrorBody>('POST', '/v1/invocations', { kind: 'dance' });
    assert.equal(badKind.status, 400);
    assert.match(badKind.json.error.message, /"kind" must be one of action, prompt, raw_prompt/);
    const extra = await api<ErrorBody>('POST', '/v1/invocations', { kind: 'prompt', prompt: 'x', params: {} });
    assert.equal(extra.status, 400);
    assert.match(extra.json.error.message, /does not take "params"/);
    const missing = await api<ErrorBody>('GET', '/v1/invocations/does-not-exist');
    assert.equal(missing.status, 404);
    assert.equal(missing.json.error.code, 'HMD_ERR_NOT_FOUND');
    const badQuery = await api<ErrorBody>('GET', '/v1/invocations?status=great');
    assert.equal(badQuery.status, 400);
    assert.match(badQuery.json.error.message, /status=great is not a status/);
  });

  it('heimdall prompt --async prints the id, and heimdall invocations shows the answer', async () => {
    llm.reset();
    llm.script({ content: 'Async answer from the model.' });
    const q = await cli('prompt', 'Summarise the day.', '--async');
    assert.equal(q.code, 0, q.stderr);
    const id = /invocation ([0-9a-f-]{36})/.exec(q.stdout)?.[1];
    assert.ok(id, q.stdout);
    await done(id!);
    const one = await cli('invocations', id!, '--json');
    assert.equal(one.code, 0, one.stderr);
    const rec = JSON.parse(one.stdout) as InvocationRecord;
    assert.equal(rec.status, 'succeeded');
    assert.equal(rec.mode, 'async');
    assert.equal(rec.result!.message, 'Async answer from the model.');
    const human = await cli('invocations', id!);
    assert.match(human.stdout, /is succeeded/);
    assert.match(human.stdout, /OK: Async answer from the model\./);
    const table = await cli('invocations', '--kind', 'prompt');
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /^ID\s+KIND\s+NAME/m);
    assert.ok(table.stdout.includes(id!));
    const bad = await cli('invocations', '--kind', 'dance');
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--kind dance is not a kind/);
    const missing = await cli('invocations', 'nope');
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /No invocation with id nope/);
  });

  it('heimdall prompt without --async still waits for the answer', async () => {
    llm.reset();
    llm.script({ content: 'Sync answer.' });
    const r = await cli('prompt', 'Hello?');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /OK: Sync answer\./);
  });

  it('exposes invocation metrics on /metrics', async () => {
    const res = await fetch(`${d.url}/metrics`);
    const text = await res.text();
    const value = (re: RegExp): number => Number(text.split('\n').find((l) => re.test(l))?.split(' ').pop() ?? 'NaN');
    assert.ok(value(/^heimdall_invocations_total\{kind="prompt",mode="sync",outcome="success"\}/) >= 2);
    assert.ok(value(/^heimdall_invocations_total\{kind="action",mode="async",outcome="success"\}/) >= 1);
    assert.ok(value(/^heimdall_model_request_duration_seconds_count\{outcome="success"\}/) >= 4);
    assert.ok(value(/^heimdall_model_tokens_total\{direction="in"\}/) > 0);
    assert.ok(value(/^heimdall_model_tokens_total\{direction="out"\}/) > 0);
    assert.ok(value(/^heimdall_prompt_tool_calls_bucket\{le="1"\}/) >= 1);
    assert.match(text, /^heimdall_invocation_queue_depth 0$/m);
    assert.match(text, /^# HELP heimdall_invocations_rejected_total /m);
  });
});
