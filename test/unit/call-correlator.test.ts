/**
 * The call correlator over a paired in-memory transport (a MessageChannel): answered, rejected,
 * timed out, every pending call rejected when the port closes from either side; and both ends of a
 * plugin's channel (the host's WorkerChannel, the worker's HostConnection) using it at once.
 */
import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { pino } from 'pino';
import { InvalidParamsError, PluginUnavailableError, serializeError, type HeimdallError } from '../../sdk/index.js';
import { CallCorrelator } from '../../daemon/workers/call-correlator.js';
import type { CallOutcome, HostToWorker, WorkerToHost } from '../../daemon/workers/protocol.js';
import { WorkerChannel } from '../../daemon/workers/worker-channel.js';
import { unbatch, type BatchMessage } from '../../daemon/workers/port-batcher.js';
import { HostConnection } from '../../daemon/workers/worker-context.js';

interface Ask {
  id: number;
  question: string;
}
type Answer = { id: number } & CallOutcome<unknown>;

class ClosedError extends Error {}

/**
 * A correlator on `local`, and the far end `remote` (which answers through `answer`). The ports
 * are closed when the test ends, so the test process can exit.
 */
function pair(t: TestContext) {
  const { port1: local, port2: remote } = new MessageChannel();
  const asked: Ask[] = [];
  const correlator = new CallCorrelator(local, {
    closedError: (call, reason) => new ClosedError(`${call} was cut off: ${reason}`),
    portClosedReason: 'the port closed',
  });
  local.on('message', (m: Answer) => correlator.settle(m.id, m));
  const arrived: Array<() => void> = [];
  remote.on('message', (m: Ask) => {
    asked.push(m);
    arrived.splice(0).forEach((f) => f());
  });
  /** Resolves once the remote end has received `n` requests. */
  const received = (n: number) =>
    new Promise<void>((resolve) => {
      const check = () => (asked.length >= n ? resolve() : arrived.push(check));
      check();
    });
  const answer = (a: Answer) => remote.postMessage(a);
  t.after(() => {
    local.close();
    remote.close();
  });
  const ask = <T>(question: string, opts?: { timeoutMs?: number; timeoutError?: () => Error }) =>
    correlator.request<T>(`the question ${question}`, (id) => ({ id, question }) satisfies Ask, opts);
  return { local, remote, correlator, asked, received, answer, ask };
}

describe('CallCorrelator', () => {
  it('resolves a call with the answer that carries its id, also when answers come back out of order', async (t) => {
    const { ask, answer, asked, received, correlator } = pair(t);
    const first = ask<string>('one');
    const second = ask<string>('two');
    await received(2);
    assert.equal(correlator.waiting, 2);
    const [a, b] = asked;
    answer({ id: b!.id, ok: true, value: `answer to ${b!.question}` });
    answer({ id: a!.id, ok: true, value: `answer to ${a!.question}` });
    assert.equal(await first, 'answer to one');
    assert.equal(await second, 'answer to two');
    assert.equal(correlator.waiting, 0);
  });

  it('rejects a call with the error that crossed, rebuilt into its SDK class with code, message and details', async (t) => {
    const { ask, answer, asked, received } = pair(t);
    const call = ask('bad');
    await received(1);
    answer({ id: asked[0]!.id, ok: false, error: serializeError(new InvalidParamsError('The params are wrong.', { errors: ['n'] })) });
    await assert.rejects(call, (err: HeimdallError) => {
      assert.ok(err instanceof InvalidParamsError);
      assert.equal(err.code, 'HMD_ERR_INVALID_PARAMS');
      assert.equal(err.message, 'The params are wrong.');
      assert.deepEqual(err.details, { errors: ['n'] });
      return true;
    });
  });

  it('rejects a call that asked for a deadline with its timeout error, and ignores the late answer', async (t) => {
    const { ask, answer, asked, received, correlator } = pair(t);
    const call = ask('slow', { timeoutMs: 20, timeoutError: () => new Error('The question slow timed out.') });
    await received(1);
    await assert.rejects(call, /The question slow timed out\./);
    assert.equal(correlator.waiting, 0);
    answer({ id: asked[0]!.id, ok: true, value: 'too late' });
    // the late answer finds nobody waiting; a fresh call still works
    const next = ask<string>('next');
    await received(2);
    answer({ id: asked[1]!.id, ok: true, value: 'in time' });
    assert.equal(await next, 'in time');
  });

  it('without a deadline, a call waits for its answer however long it takes', async (t) => {
    const { ask, answer, asked, received } = pair(t);
    const call = ask<number>('patient');
    await received(1);
    await new Promise((r) => setTimeout(r, 30));
    answer({ id: asked[0]!.id, ok: true, value: 42 });
    assert.equal(await call, 42);
  });

  for (const side of ['local', 'remote'] as const) {
    it(`rejects every pending call when the ${side} end of the port closes, and refuses new calls`, async (t) => {
      const p = pair(t);
      const calls = [p.ask('a'), p.ask('b'), p.ask('c', { timeoutMs: 60_000 })];
      await p.received(3);
      (side === 'local' ? p.local : p.remote).close();
      for (const [i, c] of calls.entries()) {
        await assert.rejects(c, (err: Error) => err instanceof ClosedError && err.message === `the question ${'abc'[i]} was cut off: the port closed`);
      }
      assert.equal(p.correlator.closed, true);
      assert.equal(p.correlator.waiting, 0);
      await assert.rejects(p.ask('after'), /the question after was cut off: the port closed/);
    });
  }

  it('close(reason) rejects every pending call with that reason; closing again changes nothing', async (t) => {
    const p = pair(t);
    const call = p.ask('pending');
    await p.received(1);
    p.correlator.close('the plugin is restarting');
    p.correlator.close('a second reason');
    await assert.rejects(call, /the question pending was cut off: the plugin is restarting/);
    await assert.rejects(p.ask('later'), /cut off: the plugin is restarting/);
  });

  it('rejects at once a call whose message cannot be cloned, leaving nothing pending', async (t) => {
    const { correlator } = pair(t);
    await assert.rejects(correlator.request('the call with a function', (id) => ({ id, fn: () => 1 })), (err: Error) => err.name === 'DataCloneError');
    assert.equal(correlator.waiting, 0);
  });
});

describe('both ends of a plugin channel share the correlator', () => {
  const silent = pino({ level: 'silent' });

  /** The host's WorkerChannel and, in this thread, the worker's end of its port. */
  function channel(t: TestContext, onRpc: (method: string, args: unknown[]) => Promise<unknown>) {
    let gone = 0;
    const ch = new WorkerChannel('probe', silent, (req) => onRpc(req.method, req.args), () => gone++);
    const workerPort: MessagePort = ch.workerPort;
    const host = new HostConnection(workerPort);
    const invokes: Array<Extract<HostToWorker, { type: 'invoke' }>> = [];
    workerPort.on('message', (msg: HostToWorker | BatchMessage<HostToWorker>) =>
      unbatch(msg, (m) => {
        if (m.type === 'rpc-result') host.settle(m);
        else invokes.push(m);
      }));
    const reply = (m: WorkerToHost) => workerPort.postMessage(m);
    t.after(() => {
      ch.close('the test ended');
      workerPort.close();
    });
    return { ch, host, invokes, reply, workerPort, gone: () => gone };
  }

  const until = async (cond: () => boolean) => {
    while (!cond()) await new Promise((r) => setImmediate(r));
  };

  it('a worker call is answered by the host handler, and a host invoke by the worker', async (t) => {
    const c = channel(t, async (method, args) => ({ method, args }));
    assert.deepEqual(await c.host.call('heimdall.invokeActionAsync', ['heimdall.x.y', { n: 1 }]), { method: 'heimdall.invokeActionAsync', args: ['heimdall.x.y', { n: 1 }] });
    const result = c.ch.invoke('act', { a: 1 }, 'inv-1', { kind: 'operator' }, 5000);
    await until(() => c.invokes.length === 1);
    const inv = c.invokes[0]!;
    assert.deepEqual({ action: inv.action, params: inv.params, invocationId: inv.invocationId, timeoutMs: inv.timeoutMs }, { action: 'act', params: { a: 1 }, invocationId: 'inv-1', timeoutMs: 5000 });
    c.reply({ type: 'invoke-result', id: inv.id, ok: true, value: { success: true, message: 'done' } });
    assert.deepEqual(await result, { success: true, message: 'done' });
  });

  it('when the host closes the channel, its pending invokes and the pending calls of the worker are all rejected', async (t) => {
    const c = channel(t, () => new Promise(() => undefined));
    const invoke = c.ch.invoke('act', {}, 'inv-2', { kind: 'operator' }, 60_000);
    const rpc = c.host.call('database.query', ['RETURN 1']);
    await until(() => c.invokes.length === 1);
    c.ch.close('the daemon is shutting down');
    await assert.rejects(invoke, (e: Error) => e instanceof PluginUnavailableError && /The plugin probe stopped before answering: the daemon is shutting down/.test(e.message));
    await assert.rejects(rpc, (e: Error) => e instanceof PluginUnavailableError && /ctx\.database\.query got no answer from Heimdall: the daemon closed the channel/.test(e.message));
    await assert.rejects(c.host.call('bifrost.isConnected', []), PluginUnavailableError);
    await assert.rejects(c.ch.invoke('act', {}, 'inv-3', { kind: 'operator' }, 1000), /The plugin probe is not running; its action act cannot run now\./);
    assert.equal(c.gone(), 0, 'closing the channel itself is not the worker going away');
  });

  it('when the worker end closes (the thread exited), pending invokes are rejected and the host hears that the worker is gone', async (t) => {
    const c = channel(t, async () => 1);
    const invoke = c.ch.invoke('act', {}, 'inv-4', { kind: 'operator' }, 60_000);
    await until(() => c.invokes.length === 1);
    c.workerPort.close();
    await assert.rejects(invoke, /The plugin probe stopped before answering: its worker thread exited/);
    await until(() => c.gone() === 1);
  });

  it('an invoke past its deadline (plus grace) is rejected with ActionTimeoutError', async (t) => {
    const c = channel(t, async () => 1);
    await assert.rejects(c.ch.invoke('slow', {}, 'inv-5', { kind: 'operator' }, 10), (e: HeimdallError) => e.code === 'HMD_ERR_ACTION_TIMEOUT' && /heimdall\.probe\.slow did not finish within 10 ms/.test(e.message));
  });
});
