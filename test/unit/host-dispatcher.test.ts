/**
 * The host-side dispatcher alone, with fake ports: every bad argument is refused with an error that
 * names the method and the argument; good calls reach the right port with the caller's identity,
 * trigger and origin; the handler table covers exactly the contract's methods.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HOST_METHODS, InvalidParamsError, type HeimdallError, type HostMethod } from '../../sdk/index.js';
import { ARG_CHECKS } from '../../daemon/workers/host-args.js';
import type { HostDependencies, PluginBifrostMessage, PluginIdentity } from '../../daemon/workers/host-ports.js';
import { hostHandlers, makeRpcHandler } from '../../daemon/workers/host-rpc.js';
import type { RpcRequest } from '../../daemon/workers/protocol.js';

type Seen = Array<{ port: string; args: unknown[] }>;

function fakes(clients = 0) {
  const seen: Seen = [];
  const record =
    <R>(port: string, result: R) =>
    (...args: unknown[]) => {
      seen.push({ port, args });
      return result;
    };
  const published: PluginBifrostMessage[] = [];
  const deps: HostDependencies = {
    invoker: {
      invokeAction: record('invokeAction', Promise.resolve({ success: true, message: 'ran' })),
      invokeActionAsync: record('invokeActionAsync', 'inv-async'),
      sendPrompt: record('sendPrompt', Promise.resolve({ success: true, message: 'answered' })),
      sendPromptAsync: record('sendPromptAsync', 'inv-prompt'),
      sendRawPrompt: record('sendRawPrompt', Promise.resolve({ success: true, message: 'raw' })),
    },
    bus: { publish: (m) => published.push(m), clients },
    database: () => ({ query: record('query', Promise.resolve([{ n: 1 }])) }),
    confirmations: {
      request: record('confirm', Promise.resolve(true)),
      requestAnswer: record('confirmAnswer', Promise.resolve({ approved: false, state: 'denied' as const, reason: 'not now', id: 'c1' })),
    },
  };
  return { deps, seen, published };
}

/** Sends one raw rpc message, as a worker would, for a plugin named `name`. */
function caller(deps: HostDependencies, identity: PluginIdentity = { name: 'probe', write: false }) {
  const handler = makeRpcHandler(deps)(() => identity);
  return (method: string, args: unknown, tag: { invocationId?: string; action?: string } = {}) =>
    handler({ type: 'rpc', id: 1, method, args, ...tag } as unknown as RpcRequest);
}

const BAD: Array<[method: HostMethod, args: unknown[], argument: string, position: number, must: RegExp]> = [
  ['heimdall.invokeAction', [42, {}], 'name', 1, /name = 42 \(argument 1\); it must be a string\./],
  ['heimdall.invokeAction', ['heimdall.x.y', 'params'], 'params', 2, /params = "params" \(argument 2\); it must be an object\./],
  ['heimdall.invokeActionAsync', ['heimdall.x.y', [1, 2]], 'params', 2, /params = \[1,2\] \(argument 2\); it must be an object\./],
  ['heimdall.sendPrompt', [undefined], 'prompt', 1, /prompt = undefined \(argument 1\); it must be a string\./],
  ['heimdall.sendPrompt', ['hello', 7], 'opts', 2, /opts = 7 \(argument 2\); it must be an object\./],
  ['heimdall.sendPromptAsync', [{ text: 'hi' }], 'prompt', 1, /prompt = \{"text":"hi"\} \(argument 1\); it must be a string\./],
  ['heimdall.sendRawPrompt', [null], 'prompt', 1, /prompt = null \(argument 1\); it must be a string\./],
  ['database.query', [], 'cypher', 1, /cypher = undefined \(argument 1\); it must be a string\./],
  ['database.query', ['RETURN 1', 'x'], 'params', 2, /params = "x" \(argument 2\); it must be an object\./],
  ['database.query', ['RETURN 1', {}, true], 'opts', 3, /opts = true \(argument 3\); it must be an object\./],
  ['bifrost.sendMessage', [10n], 'text', 1, /text = 10n \(argument 1\); it must be a string\./],
  ['bifrost.broadcast', [false], 'text', 1, /text = false \(argument 1\); it must be a string\./],
  ['bifrost.sendNotification', ['loud', 't', 'm'], 'level', 1, /level = "loud" \(argument 1\); use one of info, success, warning, error\./],
  ['bifrost.sendNotification', ['info', 1, 'm'], 'title', 2, /title = 1 \(argument 2\); it must be a string\./],
  ['bifrost.sendNotification', ['info', 't', undefined], 'message', 3, /message = undefined \(argument 3\); it must be a string\./],
  ['bifrost.sendNotification', ['info', 't', 'm', 'data'], 'data', 4, /data = "data" \(argument 4\); it must be an object\./],
  ['bifrost.requestConfirmation', [['drop']], 'action', 1, /action = \["drop"\] \(argument 1\); it must be a string\./],
  ['bifrost.requestConfirmation', ['drop', 30_000], 'opts', 2, /opts = 30000 \(argument 2\); it must be an object\./],
];

describe('host dispatcher: argument checks', () => {
  for (const [method, args, argument, position, must] of BAD) {
    it(`${method} refuses a bad ${argument}, naming the method and the argument`, async () => {
      const { deps, seen, published } = fakes();
      await assert.rejects(caller(deps)(method, args), (err: HeimdallError) => {
        assert.ok(err instanceof InvalidParamsError, `expected InvalidParamsError, got ${String(err)}`);
        assert.equal(err.code, 'HMD_ERR_INVALID_PARAMS');
        assert.ok(err.message.startsWith(`ctx.${method} was called with ${argument} = `), err.message);
        assert.match(err.message, must);
        assert.deepEqual(err.details, { method, argument, position });
        return true;
      });
      assert.deepEqual(seen, [], 'nothing reached a port');
      assert.deepEqual(published, []);
    });
  }

  it('reads arguments that are not an array as no arguments', async () => {
    const { deps } = fakes();
    await assert.rejects(caller(deps)('bifrost.sendMessage', 'hello'), /ctx\.bifrost\.sendMessage was called with text = undefined \(argument 1\)/);
  });

  it('refuses an unknown method with an internal error that names it', async () => {
    const { deps } = fakes();
    await assert.rejects(caller(deps)('bifrost.selfDestruct', []), (err: HeimdallError) => err.code === 'HMD_ERR_INTERNAL' && /unknown host method "bifrost\.selfDestruct"/.test(err.message));
    await assert.rejects(caller(deps)('toString', []), (err: HeimdallError) => err.code === 'HMD_ERR_INTERNAL');
  });
});

describe('host dispatcher: routing', () => {
  it('passes actions and prompts to the invoker with the plugin as trigger; absent params and opts become {}', async () => {
    const { deps, seen } = fakes();
    const call = caller(deps);
    assert.deepEqual(await call('heimdall.invokeAction', ['heimdall.other.go']), { success: true, message: 'ran' });
    assert.equal(await call('heimdall.invokeActionAsync', ['heimdall.other.go', { n: 1 }]), 'inv-async');
    await call('heimdall.sendPrompt', ['why?', null]);
    assert.equal(await call('heimdall.sendPromptAsync', ['why?', { maxSteps: 2 }]), 'inv-prompt');
    await call('heimdall.sendRawPrompt', ['raw']);
    const trigger = { kind: 'plugin', plugin: 'probe' };
    assert.deepEqual(seen, [
      { port: 'invokeAction', args: ['heimdall.other.go', {}, trigger] },
      { port: 'invokeActionAsync', args: ['heimdall.other.go', { n: 1 }, trigger] },
      { port: 'sendPrompt', args: ['why?', {}, trigger] },
      { port: 'sendPromptAsync', args: ['why?', { maxSteps: 2 }, trigger] },
      { port: 'sendRawPrompt', args: ['raw', trigger] },
    ]);
  });

  it('passes queries to the database port with the identity and where in the plugin the call was made', async () => {
    const { deps, seen } = fakes();
    const call = caller(deps, { name: 'writer', write: true });
    assert.deepEqual(await call('database.query', ['RETURN 1']), [{ n: 1 }]);
    await call('database.query', ['RETURN $x', { x: 1 }, { mode: 'write' }], { invocationId: 'inv-9', action: 'fix' });
    assert.deepEqual(seen, [
      { port: 'query', args: [{ name: 'writer', write: true }, 'RETURN 1', {}, {}, {}] },
      { port: 'query', args: [{ name: 'writer', write: true }, 'RETURN $x', { x: 1 }, { mode: 'write' }, { invocationId: 'inv-9', action: 'fix' }] },
    ]);
  });

  it('publishes Bifrost messages with the plugin as origin, answers connection questions from the bus, asks confirmations for the plugin', async () => {
    const { deps, seen, published } = fakes(3);
    const call = caller(deps);
    assert.equal(await call('bifrost.sendMessage', ['hello']), undefined);
    await call('bifrost.broadcast', ['to all'], { invocationId: 'inv-1', action: 'tell' });
    await call('bifrost.sendNotification', ['warning', 'Title', 'Body']);
    await call('bifrost.sendNotification', ['error', 'Title', 'Body', { x: 1 }]);
    assert.deepEqual(published, [
      { kind: 'message', message: 'hello', origin: { kind: 'plugin', plugin: 'probe' } },
      { kind: 'broadcast', message: 'to all', origin: { kind: 'plugin', plugin: 'probe', invocationId: 'inv-1' } },
      { kind: 'notification', level: 'warning', title: 'Title', message: 'Body', origin: { kind: 'plugin', plugin: 'probe' } },
      { kind: 'notification', level: 'error', title: 'Title', message: 'Body', data: { x: 1 }, origin: { kind: 'plugin', plugin: 'probe' } },
    ]);
    assert.equal(await call('bifrost.isConnected', []), true);
    assert.equal(await call('bifrost.connectionCount', []), 3);
    assert.equal(await call('bifrost.requestConfirmation', ['drop index', { timeoutMs: 100 }], { invocationId: 'inv-2', action: 'drop' }), true);
    assert.deepEqual(await call('bifrost.requestConfirmationAnswer', ['drop index', {}], { invocationId: 'inv-3' }), { approved: false, state: 'denied', reason: 'not now', id: 'c1' });
    assert.deepEqual(seen, [
      { port: 'confirm', args: ['probe', 'drop index', { timeoutMs: 100 }, 'inv-2'] },
      { port: 'confirmAnswer', args: ['probe', 'drop index', {}, 'inv-3'] },
    ]);
  });

  it('asks who is calling on every call, so a plugin that declares its own name is known by it', async () => {
    const { deps, published } = fakes();
    let identity: PluginIdentity = { name: 'folder-name', write: false };
    const handler = makeRpcHandler(deps)(() => identity);
    await handler({ type: 'rpc', id: 1, method: 'bifrost.sendMessage', args: ['before init'] });
    identity = { name: 'declared-name', write: false };
    await handler({ type: 'rpc', id: 2, method: 'bifrost.sendMessage', args: ['after init'] });
    assert.deepEqual(
      published.map((m) => m.origin.plugin),
      ['folder-name', 'declared-name'],
    );
  });

  it('has one handler and one argument check for each method of the contract, and no others', () => {
    const { deps } = fakes();
    assert.deepEqual(Object.keys(hostHandlers(deps)).sort(), [...HOST_METHODS].sort());
    assert.deepEqual(Object.keys(ARG_CHECKS).sort(), [...HOST_METHODS].sort());
  });
});
