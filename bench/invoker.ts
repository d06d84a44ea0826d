/**
 * Invoker benchmark (issue 4):
 *   (a) invokeAction round trip host → plugin worker → host, p50/p99 (target p99 < 2 ms);
 *   (b) sendPrompt overhead per step, excluding the model's own time, against the test LLM server
 *       answering at once (target < 5 ms per step): one-step prompts and two-step prompts
 *       (tool call + answer); "model time" is the openai client's HTTP exchange on loopback;
 *   (c) async invocations: throughput through the bounded queue and the concurrency limit.
 *
 *   node dist/bench/invoker.js            (prints a table)
 *   runInvokerBench()                     (bench/run.ts; returns the figures)
 */
import { resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { pino } from 'pino';
import { parseConfig } from '../config/loader.js';
import { startDaemon, type RunningDaemon } from '../daemon/daemon.js';
import { llmYaml, startTestLlm, tmpAuditYaml } from '../test/llm/server.js';
import { fmt, percentile, printTable } from './stats.js';

const ROOT = resolve(fileURLToPath(new URL('../../', import.meta.url)));
const TOOLS = resolve(ROOT, 'test/fixtures/plugins/invoker-tools.mjs');
const quick = process.env['HEIMDALL_BENCH_QUICK'] === '1';

interface Dist {
  n: number;
  p50Ms: number;
  p99Ms: number;
  meanMs: number;
}

function dist(samples: number[]): Dist {
  const s = [...samples].sort((a, b) => a - b);
  return { n: s.length, p50Ms: percentile(s, 50), p99Ms: percentile(s, 99), meanMs: s.reduce((a, b) => a + b, 0) / Math.max(1, s.length) };
}

async function invokeActionRoundTrip(d: RunningDaemon, n: number): Promise<Dist & { perS: number }> {
  const inv = d.internals.invoker;
  const trigger = { kind: 'plugin' as const, plugin: 'bench' };
  for (let i = 0; i < 500; i++) await inv.invokeAction('heimdall.invoker-tools.lookup', { key: 'warm' }, trigger);
  const samples: number[] = [];
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    const s = performance.now();
    const r = await inv.invokeAction('heimdall.invoker-tools.lookup', { key: `k${i}` }, trigger);
    samples.push(performance.now() - s);
    if (!r.success) throw new Error(`The benchmark action failed: ${r.message}`);
  }
  const total = performance.now() - t0;
  return { ...dist(samples), perS: (n / total) * 1000 };
}

interface PromptFigures {
  steps: number;
  overheadPerStep: Dist;
  modelHttpPerStep: Dist;
  total: Dist;
}

async function promptOverhead(d: RunningDaemon, n: number, twoStep: boolean): Promise<PromptFigures> {
  const perStep: number[] = [];
  const modelPerStep: number[] = [];
  const totals: number[] = [];
  for (let i = 0; i < n + 20; i++) {
    const r = await d.api.prompt(twoStep ? `Look up key ${i}.` : `Say hello ${i}.`);
    if (!r.success) throw new Error(`The benchmark prompt failed: ${r.message}`);
    const timing = r.data!['timing'] as { totalMs: number; modelMs: number; overheadMs: number };
    const steps = r.data!['steps'] as number;
    if (steps !== (twoStep ? 2 : 1)) throw new Error(`Expected ${twoStep ? 2 : 1} steps, got ${steps}.`);
    if (i < 20) continue; // warm-up
    perStep.push(timing.overheadMs / steps);
    modelPerStep.push(timing.modelMs / steps);
    totals.push(timing.totalMs);
  }
  return { steps: twoStep ? 2 : 1, overheadPerStep: dist(perStep), modelHttpPerStep: dist(modelPerStep), total: dist(totals) };
}

async function asyncThroughput(d: RunningDaemon, n: number): Promise<{ n: number; concurrency: number; perS: number; maxRunning: number }> {
  const inv = d.internals.invoker;
  const trigger = { kind: 'plugin' as const, plugin: 'bench' };
  const t0 = performance.now();
  const ids: string[] = [];
  for (let i = 0; i < n; i++) ids.push(inv.invokeActionAsync('heimdall.invoker-tools.lookup', { key: `a${i}` }, trigger));
  for (;;) {
    if (ids.every((id) => inv.getInvocation(id)?.status === 'succeeded')) break;
    if (ids.some((id) => ['failed', 'rejected'].includes(inv.getInvocation(id)?.status ?? ''))) throw new Error('An async benchmark invocation failed or was refused.');
    await new Promise((r) => setTimeout(r, 2));
  }
  const total = performance.now() - t0;
  return { n, concurrency: inv.queue.concurrency, perS: (n / total) * 1000, maxRunning: inv.queue.maxRunning };
}

export async function runInvokerBench(): Promise<Record<string, unknown>> {
  const llm = await startTestLlm();
  let turn = 0;
  llm.respond((body) => {
    const last = body.messages[body.messages.length - 1]!;
    const user = body.messages.find((m) => m.role === 'user')?.content ?? '';
    turn++;
    if (user.startsWith('Look up') && last.role === 'user') return { toolCalls: [{ name: 'invoker-tools__lookup', arguments: { key: `t${turn}` } }] };
    return { content: 'Done.' };
  });
  const asyncN = quick ? 2000 : 10_000;
  const yaml = [
    'server:\n  port: 0',
    tmpAuditYaml(),
    `${llmYaml(llm, { maxRetries: 0, timeoutMs: 10_000 })}`,
    `invoker:\n  queueCapacity: ${asyncN}\n  concurrency: 8\n  historySize: ${asyncN + 1000}`,
    `plugins:\n  - path: ${JSON.stringify(TOOLS)}`,
  ].join('\n');
  const config = parseConfig(yaml, { file: resolve(ROOT, 'bench-invoker.yaml'), env: {} });
  const d = await startDaemon({ config, logger: pino({ level: 'silent' }), listen: false });
  try {
    const action = await invokeActionRoundTrip(d, quick ? 3000 : 20_000);
    const oneStep = await promptOverhead(d, quick ? 200 : 1000, false);
    const twoStep = await promptOverhead(d, quick ? 200 : 1000, true);
    const asyncRun = await asyncThroughput(d, asyncN);
    const results = { invokeAction: action, promptOneStep: oneStep, promptTwoStep: twoStep, async: asyncRun, modelRequests: llm.requests.length };
    printTable('Invoker (issue 4): invoker-tools plugin in a worker, OpenAI-compatible test server on loopback answering at once', [
      [`(a) invokeAction round trip p50, ms (n=${fmt(action.n)})`, fmt(action.p50Ms, 3)],
      ['(a) invokeAction round trip p99, ms', fmt(action.p99Ms, 3), '< 2'],
      ['(a) invokeAction sequential calls/s', fmt(action.perS)],
      [`(b) 1-step prompt: invoker overhead p50, ms (n=${fmt(oneStep.total.n)})`, fmt(oneStep.overheadPerStep.p50Ms, 3)],
      ['(b) 1-step prompt: invoker overhead p99, ms', fmt(oneStep.overheadPerStep.p99Ms, 3), '< 5 per step'],
      ['(b) 1-step prompt: model HTTP exchange p50, ms', fmt(oneStep.modelHttpPerStep.p50Ms, 3)],
      ['(b) 2-step prompt (tool call + answer): overhead per step p50, ms', fmt(twoStep.overheadPerStep.p50Ms, 3)],
      ['(b) 2-step prompt: overhead per step p99, ms', fmt(twoStep.overheadPerStep.p99Ms, 3), '< 5 per step'],
      ['(b) 2-step prompt: model HTTP exchange per step p50, ms', fmt(twoStep.modelHttpPerStep.p50Ms, 3)],
      ['(b) 2-step prompt: total p50 / p99, ms', `${fmt(twoStep.total.p50Ms, 2)} / ${fmt(twoStep.total.p99Ms, 2)}`],
      [`(c) async invokeActionAsync throughput, invocations/s (n=${fmt(asyncRun.n)}, concurrency ${asyncRun.concurrency})`, fmt(asyncRun.perS)],
      ['(c) most async invocations running at once', String(asyncRun.maxRunning), `<= ${asyncRun.concurrency}`],
    ]);
    return results;
  } finally {
    await d.stop();
    await llm.close();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  runInvokerBench().then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(`The invoker benchmark failed: ${(err as Error).stack ?? String(err)}`);
      process.exit(1);
    },
  );
}
