/**
 * The host contract and what is derived from it: the method list, the worker-side proxy behind
 * ctx.heimdall / ctx.database / ctx.bifrost, and the testing kit's context expose exactly the
 * contract's methods, and each proxy method sends its own wire name with the arguments as given.
 */
import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import { MessageChannel } from 'node:worker_threads';
import { HOST_METHODS, HOST_NAMESPACES, hostMethodNames, isHostMethod, type ConfirmationAnswer, type HostArgs, type HostResult, type HostServices, type PluginContext } from '../../sdk/index.js';
import { createTestKit } from '../../sdk/testing.js';
import type { RpcRequest, RpcResult } from '../../daemon/workers/protocol.js';
import { HostConnection, makeActionContext, makeLogger, makePluginContext } from '../../daemon/workers/worker-context.js';

// Compile-time: the wire contract keeps the SDK's signatures.
type Same<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
const signatures: [
  Same<HostArgs<'heimdall.invokeAction'>, [name: string, params?: Record<string, unknown>]>,
  Same<HostResult<'heimdall.invokeActionAsync'>, string>,
  Same<HostResult<'bifrost.requestConfirmation'>, boolean>,
  Same<HostResult<'bifrost.requestConfirmationAnswer'>, ConfirmationAnswer>,
  Same<HostResult<'bifrost.sendMessage'>, void>,
] = [true, true, true, true, true];
void signatures;

/** The method names a context offers, as `namespace.method`, read from the object itself. */
function offered(ctx: HostServices): string[] {
  const out: string[] = [];
  for (const namespace of Object.keys(ctx).filter((k) => (HOST_NAMESPACES as readonly string[]).includes(k))) {
    const service = ctx[namespace as keyof HostServices] as unknown as Record<string, unknown>;
    for (const [name, fn] of Object.entries(service)) {
      assert.equal(typeof fn, 'function', `${namespace}.${name} is a function`);
      out.push(`${namespace}.${name}`);
    }
  }
  return out.sort();
}

/** A worker-side context whose host end records every rpc and answers with the method's name. */
function workerSide(t: TestContext) {
  const { port1: worker, port2: host } = new MessageChannel();
  const connection = new HostConnection(worker);
  worker.on('message', (m: RpcResult) => connection.settle(m));
  const rpcs: RpcRequest[] = [];
  host.on('message', (m: RpcRequest | { type: 'log' }) => {
    if (m.type !== 'rpc') return;
    rpcs.push(m);
    host.postMessage({ type: 'rpc-result', id: m.id, ok: true, value: `answered ${m.method}` } satisfies RpcResult);
  });
  t.after(() => {
    worker.close();
    host.close();
  });
  const log = makeLogger(connection);
  return { connection, log, rpcs };
}

describe('the host contract', () => {
  it('lists thirteen methods, each once, as namespace.method over heimdall, database and bifrost', () => {
    assert.deepEqual(HOST_NAMESPACES, ['heimdall', 'database', 'bifrost']);
    assert.equal(HOST_METHODS.length, 13);
    assert.equal(new Set(HOST_METHODS).size, 13);
    assert.deepEqual(hostMethodNames('database'), ['query']);
    for (const m of HOST_METHODS) assert.ok(isHostMethod(m));
    for (const m of ['heimdall', 'database.drop', 'bifrost.toString', 'constructor', 42]) assert.equal(isHostMethod(m), false);
  });

  it('the worker proxy offers exactly the contract methods, frozen', (t) => {
    const { connection, log } = workerSide(t);
    const ctx = makePluginContext('probe', {}, connection, log);
    assert.deepEqual(offered(ctx), [...HOST_METHODS].sort());
    assert.ok(Object.isFrozen(ctx) && Object.isFrozen(ctx.heimdall) && Object.isFrozen(ctx.database) && Object.isFrozen(ctx.bifrost));
    assert.deepEqual(Object.keys(ctx), ['name', 'config', 'log', 'heimdall', 'database', 'bifrost']);
  });

  it('each proxy method sends its own wire name with the arguments as the plugin passed them', async (t) => {
    const { connection, log, rpcs } = workerSide(t);
    const ctx: PluginContext = makePluginContext('probe', {}, connection, log);
    for (const method of HOST_METHODS) {
      const [namespace, name] = method.split('.') as [keyof HostServices, string];
      const fn = (ctx[namespace] as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>)[name]!;
      assert.equal(await fn('first', { second: 2 }), `answered ${method}`);
    }
    assert.deepEqual(
      rpcs.map((r) => [r.method, r.args]),
      HOST_METHODS.map((m) => [m, ['first', { second: 2 }]]),
    );
    assert.ok(rpcs.every((r) => r.invocationId === undefined && r.action === undefined));
  });

  it('calls from an action context carry its invocation id and action name', async (t) => {
    const { connection, log, rpcs } = workerSide(t);
    const actx = makeActionContext({ name: 'probe', config: {}, host: connection, log }, 'fix', { n: 1 }, 'inv-7', { kind: 'operator' }, new AbortController().signal);
    assert.deepEqual(offered(actx), [...HOST_METHODS].sort());
    await actx.database.query('RETURN 1');
    assert.deepEqual({ method: rpcs[0]!.method, invocationId: rpcs[0]!.invocationId, action: rpcs[0]!.action }, { method: 'database.query', invocationId: 'inv-7', action: 'fix' });
  });

  it('the testing kit context offers exactly the same methods as the worker proxy', () => {
    const kit = createTestKit({ name: 'probe', version: '1.0.0' });
    const services: HostServices = kit.ctx;
    assert.deepEqual(offered(services), [...HOST_METHODS].sort());
  });
});
