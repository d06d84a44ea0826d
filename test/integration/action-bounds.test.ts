/**
 * Bounds on what actions can do to the daemon, on real worker threads and real HTTP: a chain of an
 * action calling itself ends at limits.actions.maxDepth with HMD_ERR_INVOCATION_DEPTH and the
 * chain named; a cycle between two plugins ends the same way and is called a loop; an action that
 * keeps its thread busy (`for (;;) {}`) is answered with ActionTimeoutError at its deadline, its
 * worker is terminated and the plugin restarts with fresh state; a result over
 * limits.actions.maxResultBytes is refused with a clear error and the plugin keeps running.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { RunningDaemon } from '../../daemon/daemon.js';
import { pluginYaml, startTestDaemon, waitFor } from '../helpers/in-process-daemon.js';
import { fixturePlugin } from '../helpers/paths.js';

interface ErrorBody {
  error: { code: string; message: string; details?: Record<string, unknown> };
}

const invoke = async (d: RunningDaemon, name: string, params: Record<string, unknown> = {}) => {
  const res = await fetch(`${d.url}/v1/actions/${name}/invoke`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ params }) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> & Partial<ErrorBody> };
};
const plugin = (d: RunningDaemon, name: string) => d.api.plugins().find((p) => p.name === name)!;

describe('action bounds', () => {
  let d: RunningDaemon;
  before(async () => {
    d = await startTestDaemon(
      [
        pluginYaml(fixturePlugin('chain.mjs')),
        pluginYaml(fixturePlugin('ping.mjs')),
        pluginYaml(fixturePlugin('pong.mjs')),
        pluginYaml(fixturePlugin('busy.mjs'), 'restart:\n  backoffMs: 20'),
      ],
      'limits:\n  actions:\n    maxResultBytes: 65536\n',
    );
  });
  after(async () => {
    await d?.stop();
  });

  it('runs a chain of 8 actions, and refuses the 9th with the chain named (limits.actions.maxDepth, default 8)', async () => {
    const ok = await invoke(d, 'heimdall.chain.down', { to: 8 });
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    assert.deepEqual(ok.body['data'], { level: 8 });
    const deep = await invoke(d, 'heimdall.chain.down', { to: 20 });
    assert.equal(deep.status, 508);
    assert.equal(deep.body.error!.code, 'HMD_ERR_INVOCATION_DEPTH');
    assert.match(deep.body.error!.message, /The action heimdall\.chain\.down was not run: it would be call number 9 in the chain heimdall\.chain\.down → .* and limits\.actions\.maxDepth allows 8/);
    assert.equal((deep.body.error!.details!['chain'] as string[]).length, 8);
    assert.equal(plugin(d, 'chain').state, 'running');
  });

  it('ends a cycle between two plugins with the same error, called a loop', async () => {
    const t0 = Date.now();
    const r = await invoke(d, 'heimdall.ping.ping');
    assert.equal(r.status, 508);
    assert.equal(r.body.error!.code, 'HMD_ERR_INVOCATION_DEPTH');
    assert.match(r.body.error!.message, /heimdall\.ping\.ping → heimdall\.pong\.pong → heimdall\.ping\.ping/);
    assert.match(r.body.error!.message, /The chain loops .* break the cycle/);
    assert.ok(Date.now() - t0 < 10_000, 'it ends at once, not at a deadline');
    assert.deepEqual([plugin(d, 'ping').state, plugin(d, 'pong').state], ['running', 'running']);
  });

  it('terminates an action that keeps its thread busy at its deadline: the caller gets ActionTimeoutError and the plugin restarts with fresh state', async () => {
    assert.deepEqual((await invoke(d, 'heimdall.busy.calls')).body['data'], { calls: 1 });
    assert.deepEqual((await invoke(d, 'heimdall.busy.calls')).body['data'], { calls: 2 });
    const t0 = Date.now();
    const r = await invoke(d, 'heimdall.busy.spin');
    const took = Date.now() - t0;
    assert.equal(r.status, 504);
    assert.equal(r.body.error!.code, 'HMD_ERR_ACTION_TIMEOUT');
    assert.match(r.body.error!.message, /heimdall\.busy\.spin did not finish within 300 ms/);
    assert.ok(took >= 300 && took < 5000, `answered after ${took} ms`);
    await waitFor('the busy plugin to restart', () => plugin(d, 'busy').restarts === 1 && plugin(d, 'busy').state === 'running', 10_000);
    assert.match(plugin(d, 'busy').reason ?? d.internals.bus.since(0).map((m) => m.message).join('\n'), /heimdall\.busy\.spin ran past its 300 ms deadline/);
    assert.deepEqual((await invoke(d, 'heimdall.busy.calls')).body['data'], { calls: 1 }, 'fresh state: the restarted worker counts from 1');
    assert.equal(plugin(d, 'busy').counters.failed, 0, 'no event was blamed for it');
  });

  it('refuses a result over limits.actions.maxResultBytes with a clear error; the plugin keeps running', async () => {
    const small = await invoke(d, 'heimdall.busy.big', { bytes: 1000 });
    assert.equal(small.status, 200);
    const r = await invoke(d, 'heimdall.busy.big', { bytes: 10 * 1024 * 1024 });
    assert.equal(r.status, 502);
    assert.equal(r.body.error!.code, 'HMD_ERR_RESULT_TOO_LARGE');
    assert.match(r.body.error!.message, /The action heimdall\.busy\.big returned 104858\d\d bytes of JSON, more than limits\.actions\.maxResultBytes \(65536\)/);
    const restarts = plugin(d, 'busy').restarts;
    assert.equal(plugin(d, 'busy').state, 'running');
    assert.equal((await invoke(d, 'heimdall.busy.calls')).status, 200);
    assert.equal(plugin(d, 'busy').restarts, restarts);
  });
});
