/**
 * ActionRegistry alone: params are validated against each action's schema (defaults applied to a
 * copy), unknown names get suggestions, plugin actions go to their runner with the short name and
 * their deadline, and a built-in past its deadline is aborted. Deadlines run on mocked timers.
 */
import assert from 'node:assert/strict';
import { describe, it, mock } from 'node:test';
import { ActionNotFoundError, ActionTimeoutError, InvalidParamsError, type ActionResult, type ActionTrigger } from '../../sdk/index.js';
import { ActionRegistry, type ActionRunner } from '../../daemon/invoker/action-registry.js';

const op: ActionTrigger = { kind: 'operator' };
const flush = () => new Promise<void>((r) => setImmediate(r));

class Runner implements ActionRunner {
  readonly calls: Array<{ action: string; params: Record<string, unknown>; invocationId: string; trigger: ActionTrigger; timeoutMs: number }> = [];
  constructor(readonly name: string, readonly remediation?: ActionRunner['remediation']) {}
  async invoke(action: string, params: Record<string, unknown>, invocationId: string, trigger: ActionTrigger, timeoutMs: number): Promise<ActionResult> {
    this.calls.push({ action, params, invocationId, trigger, timeoutMs });
    return { success: true, message: `${this.name}.${action} ran` };
  }
}

const searchSchema = {
  type: 'object',
  properties: { term: { type: 'string', minLength: 1 }, limit: { type: 'integer', minimum: 1, maximum: 10, default: 5 } },
  required: ['term'],
  additionalProperties: false,
};

describe('ActionRegistry', () => {
  it('validates params against the schema, applies defaults to a copy, and says which path failed', async () => {
    const r = new ActionRegistry(1000);
    const seen: Array<Record<string, unknown>> = [];
    r.registerBuiltin('heimdall.search', { description: 'Searches.', params: searchSchema, run: (p) => (seen.push(p), { success: true, message: 'ok' }) });
    const given = { term: 'alice' };
    const checked = r.check('heimdall.search', given);
    assert.deepEqual(checked.params, { term: 'alice', limit: 5 });
    assert.deepEqual(given, { term: 'alice' }, "the caller's object is not changed");
    assert.equal((await r.invoke('heimdall.search', { term: 'bob', limit: 2 }, { trigger: op })).success, true);
    assert.deepEqual(seen, [{ term: 'bob', limit: 2 }]);

    const bad = (params: Record<string, unknown> | undefined) => {
      try {
        r.check('heimdall.search', params);
      } catch (err) {
        assert.ok(err instanceof InvalidParamsError);
        return err as InvalidParamsError & { details: { errors: Array<{ path: string }> } };
      }
      assert.fail(`params ${JSON.stringify(params)} were accepted`);
    };
    const e1 = bad({ term: '', limit: 11, extra: true });
    assert.deepEqual(e1.details.errors.map((x) => x.path).sort(), ['/', '/limit', '/term']);
    assert.match(e1.message, /^The parameters of heimdall\.search are invalid: .*params\.limit must be <= 10/);
    assert.match(bad(undefined).message, /params must have required property 'term'/);
    await assert.rejects(r.invoke('heimdall.search', { limit: 1 }, { trigger: op }), InvalidParamsError);
    assert.deepEqual(seen.length, 1, 'an invalid call never runs');
  });

  it('answers an unknown name with the closest registered names', () => {
    const r = new ActionRegistry(1000);
    r.registerBuiltin('heimdall.help', { description: 'Help.', run: () => ({ success: true, message: '' }) });
    r.registerPlugin(new Runner('audit'), [{ name: 'remediate', description: 'Fixes.', params: { type: 'object' }, destructive: false }]);
    assert.throws(
      () => r.check('heimdall.audit.remediat', {}),
      (err: unknown) => err instanceof ActionNotFoundError && /Did you mean heimdall\.audit\.remediate\?/.test(err.message),
    );
    assert.deepEqual(r.suggest('heimdall.hepl'), ['heimdall.help']);
    assert.throws(() => r.check('nothing.like.it.at.all', {}), /Run `heimdall actions` to list them/);
  });

  it('sends plugin actions to their runner with the short name, the validated params and the deadline; replaces and withdraws registrations', async () => {
    const r = new ActionRegistry(750);
    const audit = new Runner('audit', { mode: 'approve' });
    r.registerPlugin(audit, [
      { name: 'remediate', description: 'Fixes.', params: searchSchema, destructive: true },
      { name: 'quick', description: 'Quick.', params: { type: 'object' }, destructive: false, timeoutMs: 50 },
    ]);
    assert.deepEqual(r.list().map((a) => [a.name, a.plugin, a.destructive, a.timeoutMs]), [
      ['heimdall.audit.quick', 'audit', false, 50],
      ['heimdall.audit.remediate', 'audit', true, 750],
    ]);
    const res = await r.invoke('heimdall.audit.remediate', { term: 'x' }, { trigger: op, invocationId: 'inv-7' });
    assert.equal(res.message, 'audit.remediate ran');
    assert.deepEqual(audit.calls, [{ action: 'remediate', params: { term: 'x', limit: 5 }, invocationId: 'inv-7', trigger: op, timeoutMs: 750 }]);
    assert.deepEqual(r.pluginRemediation('audit'), { mode: 'approve' });
    assert.equal(r.pluginRemediation('nobody'), undefined);

    r.registerPlugin(audit, [{ name: 'only', description: 'Only.', params: { type: 'object' }, destructive: false }]);
    assert.deepEqual(r.list().map((a) => a.name), ['heimdall.audit.only'], 'a new registration replaces the old one');
    r.unregisterPlugin('audit');
    assert.deepEqual(r.list(), []);
    assert.equal(r.pluginRemediation('audit'), undefined, 'no override once its actions are gone');
    assert.throws(
      () => r.registerPlugin(audit, [{ name: 'broken', description: 'x', params: { type: 'object', properties: { a: { type: 'no-such-type' } } }, destructive: false }]),
      (err: unknown) => err instanceof InvalidParamsError && /not a valid JSON Schema/.test(err.message),
    );
  });

  it('aborts a built-in at its deadline with ActionTimeoutError, and not a moment before', async () => {
    mock.timers.enable({ apis: ['setTimeout'] });
    try {
      const r = new ActionRegistry(1000);
      let signal: AbortSignal | undefined;
      r.registerBuiltin('heimdall.slow', { description: 'Never ends.', timeoutMs: 500, run: (_p, call) => ((signal = call.signal), new Promise<ActionResult>(() => undefined)) });
      const settled: { outcome?: unknown } = {};
      const p = r.invoke('heimdall.slow', {}, { trigger: op, invocationId: 'inv-1' }).then((v) => (settled.outcome = v), (e: unknown) => (settled.outcome = e));
      mock.timers.tick(499);
      await flush();
      assert.ok(!('outcome' in settled), 'still running 1 ms before its deadline');
      assert.equal(signal!.aborted, false);
      mock.timers.tick(1);
      await p;
      const outcome = settled.outcome;
      assert.ok(outcome instanceof ActionTimeoutError, `got ${String(outcome)}`);
      assert.match((outcome as Error).message, /heimdall\.slow did not finish within 500 ms/);
      assert.deepEqual((outcome as ActionTimeoutError).details, { invocationId: 'inv-1' });
      assert.ok(signal!.aborted, 'its AbortSignal is aborted');
      assert.equal(signal!.reason, outcome);

      r.registerBuiltin('heimdall.fast', { description: 'Answers.', run: async () => ({ success: true, message: 'in time' }) });
      assert.equal((await r.invoke('heimdall.fast', {}, { trigger: op })).message, 'in time');
    } finally {
      mock.timers.reset();
    }
  });
});
