/** Parts of the invoker that need no daemon: tool names, the token budget, rate limits, the async queue. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { estimateTokens, fitContext } from '../../daemon/invoker/context-budget.js';
import { InvocationQueue } from '../../daemon/invoker/invocation-queue.js';
import { PromptRateLimiter } from '../../daemon/invoker/rate-limit.js';
import { buildSystemPrompt, type SystemPromptInput } from '../../daemon/invoker/system-prompt.js';
import { TOOL_NAME_PATTERN, ToolNameMap } from '../../daemon/invoker/tool-names.js';

describe('ToolNameMap', () => {
  it('maps action names to valid, unique tool names and back', () => {
    const long = `heimdall.${'p'.repeat(40)}.${'a'.repeat(40)}`;
    const actions = ['heimdall.audit.remediate', 'heimdall.db.query', 'heimdall.help', 'heimdall.a-b.c d', 'heimdall.a-b.c_d', long];
    const m = new ToolNameMap(actions);
    const tools = actions.map((a) => m.tool(a)!);
    for (const t of tools) assert.match(t, TOOL_NAME_PATTERN);
    assert.equal(new Set(tools).size, tools.length, `tool names must be unique: ${tools.join(', ')}`);
    assert.equal(m.tool('heimdall.audit.remediate'), 'audit__remediate');
    for (const a of actions) assert.equal(m.action(m.tool(a)!), a);
    // models sometimes answer with the dotted name
    assert.equal(m.action('heimdall.db.query'), 'heimdall.db.query');
    assert.equal(m.action('db.query'), 'heimdall.db.query');
    assert.equal(m.action('nope'), undefined);
  });
});

describe('fitContext', () => {
  it('drops the oldest items first and keeps the newest', () => {
    const events = Array.from({ length: 400 }, (_, i) => ({ id: `e${i}`, error: 'Neo.ClientError.Statement.SyntaxError near line 1' }));
    const f = fitContext({ recentFailures: events, note: 'keep me' }, 500);
    assert.ok(f.tokens <= 500, `${f.tokens} tokens`);
    assert.ok(f.droppedItems > 0);
    assert.equal(f.truncated, false);
    const kept = JSON.parse(f.text) as { recentFailures: Array<{ id: string }>; note: string };
    assert.equal(kept.note, 'keep me');
    assert.equal(kept.recentFailures.at(-1)!.id, 'e399');
    assert.equal(kept.recentFailures[0]!.id, `e${f.droppedItems}`);
  });

  it('cuts a context without arrays as text', () => {
    const f = fitContext({ blob: 'x'.repeat(10_000) }, 100);
    assert.ok(f.truncated);
    assert.ok(f.tokens <= 100);
  });
});

describe('buildSystemPrompt', () => {
  const base: SystemPromptInput = {
    actions: [{ name: 'heimdall.audit.remediate', plugin: 'audit', description: 'Creates an AuditEvent node.', params: { type: 'object' }, destructive: false, timeoutMs: 1000 }],
    jsonMode: false,
    schema: {
      labels: Array.from({ length: 50 }, (_, i) => ({ label: `Label${i}`, count: i })),
      relationshipTypes: [{ type: 'KNOWS', count: 3 }],
      propertyKeys: Array.from({ length: 200 }, (_, i) => `property_key_${i}`),
      indexes: [],
      constraints: [],
      fetchedAt: '2025-01-01T00:00:00.000Z',
    },
    trigger: { kind: 'plugin', plugin: 'security' },
    context: { recentFailures: Array.from({ length: 1000 }, (_, i) => ({ id: `f${i}`, query: 'MATCH (n) RETURN n' })) },
    remediation: { mode: 'approve', allowSchema: false, autoApproveDestructive: false, executor: true },
    database: true,
    userPrompt: 'U'.repeat(2000),
    toolTokens: 300,
    budget: 3000,
  };

  it('stays inside the budget by trimming the oldest context, never the user prompt', () => {
    const p = buildSystemPrompt(base);
    assert.equal(p.overBudget, false, `${p.tokens} tokens for a budget of 3000`);
    assert.ok(p.tokens <= 3000);
    assert.ok(p.trimmed.contextItems > 0);
    assert.match(p.text, /oldest items dropped/);
    assert.ok(p.text.includes('"f999"'), 'the newest event is kept');
    assert.ok(!p.text.includes('"f0"'), 'the oldest event is dropped');
    assert.match(p.text, /plugin "security"/);
    assert.match(p.text, /Remediation policy: approve/);
    assert.match(p.text, /heimdall\.audit\.remediate \(tool audit__remediate\)|heimdall\.audit\.remediate:/);
    assert.match(p.text, /Label49\(49\)/);
  });

  it('shrinks the schema before dropping every bit of context when the budget is tight', () => {
    const p = buildSystemPrompt({ ...base, budget: 1700 });
    assert.notEqual(p.trimmed.schema, 'full');
    assert.ok(p.text.includes('"f999"'));
  });

  it('reports when even the trimmed prompt is over budget', () => {
    const p = buildSystemPrompt({ ...base, userPrompt: 'U'.repeat(20_000) });
    assert.equal(p.overBudget, true);
    assert.equal(estimateTokens('U'.repeat(20_000)) > 3000, true);
  });
});

describe('PromptRateLimiter', () => {
  const limits = { promptsPerMinute: 3, promptsPerHour: 5, identicalPromptCooldownMs: 10_000 };

  it('refuses identical prompts within the cooldown, then allows them again', () => {
    const l = new PromptRateLimiter(limits);
    assert.equal(l.take('p', 'same', 0).ok, true);
    const r = l.take('p', 'same', 5_000);
    assert.equal(r.ok, false);
    assert.equal(!r.ok && r.reason, 'identical_prompt');
    assert.equal(!r.ok && r.retryAfterMs, 5_000);
    assert.equal(l.take('p', 'same', 10_001).ok, true);
  });

  it('enforces per minute and per hour, per plugin, with overrides', () => {
    const l = new PromptRateLimiter(limits, { vip: { promptsPerMinute: 0 } });
    let t = 0;
    for (let i = 0; i < 3; i++) assert.equal(l.take('p', `m${i}`, t).ok, true);
    const m = l.take('p', 'm3', t + 1000);
    assert.equal(!m.ok && m.reason, 'per_minute');
    assert.match(!m.ok ? m.message : '', /promptsPerMinute = 3/);
    assert.equal(l.take('other', 'x', t).ok, true, 'another plugin has its own budget');
    t = 61_000;
    assert.equal(l.take('p', 'h1', t).ok, true);
    assert.equal(l.take('p', 'h2', t).ok, true);
    const h = l.take('p', 'h3', t + 60_001 + 1);
    assert.equal(!h.ok && h.reason, 'per_hour');
    assert.equal(l.take('p', 'h4', 3_600_001).ok, true, 'the hour window slides');
    for (let i = 0; i < 5; i++) assert.equal(l.take('vip', `v${i}`, 0).ok, true, 'promptsPerMinute 0 means no per-minute limit');
    assert.equal(l.take('vip', 'v5', 0).ok, false);
  });
});

describe('InvocationQueue', () => {
  it('runs at most `concurrency` jobs at once and refuses offers beyond `capacity` waiting', async () => {
    const q = new InvocationQueue(3, 2);
    let active = 0;
    let max = 0;
    const done: number[] = [];
    const job = (i: number) => ({
      run: async () => {
        active++;
        max = Math.max(max, active);
        await new Promise((r) => setTimeout(r, 30));
        active--;
        done.push(i);
      },
      cancel: () => assert.fail('nothing is cancelled'),
    });
    const accepted = Array.from({ length: 7 }, (_, i) => q.offer(job(i)));
    // 2 run, 3 wait, 2 are refused
    assert.deepEqual(accepted, [true, true, true, true, true, false, false]);
    while (done.length < 5) await new Promise((r) => setTimeout(r, 10));
    assert.equal(max, 2);
    assert.equal(q.maxRunning, 2);
  });

  it('cancels waiting jobs on close', async () => {
    const q = new InvocationQueue(10, 1);
    const cancelled: string[] = [];
    let release!: () => void;
    q.offer({ run: () => new Promise<void>((r) => (release = r)), cancel: () => cancelled.push('first') });
    q.offer({ run: async () => assert.fail('must not run'), cancel: (why) => cancelled.push(why) });
    await new Promise((r) => setTimeout(r, 5));
    q.close();
    await new Promise((r) => setTimeout(r, 5));
    release();
    assert.deepEqual(cancelled, ['shutdown']);
    assert.equal(q.offer({ run: async () => undefined, cancel: () => undefined }), false);
  });
});
