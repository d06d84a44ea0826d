/**
 * The port batcher over a real MessageChannel: what one end posts within a moment crosses as one
 * message, in order; a lone message crosses as it is; a long synchronous run crosses every
 * MAX_BATCH messages; a message that cannot be cloned fails alone; and both ends of a plugin's
 * channel batch (256 calls from the worker's end cross in one message each way).
 */
import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import { MessageChannel, receiveMessageOnPort, type MessagePort } from 'node:worker_threads';
import { pino } from 'pino';
import { MAX_BATCH, PortBatcher, unbatch, type BatchMessage, type FlushMoment } from '../../daemon/workers/port-batcher.js';
import type { HostToWorker } from '../../daemon/workers/protocol.js';
import { WorkerChannel } from '../../daemon/workers/worker-channel.js';
import { HostConnection } from '../../daemon/workers/worker-context.js';

interface Note {
  type: 'note';
  n: number;
}

/** A batcher on one end and what arrives at the other: every postMessage, and the messages in them. */
function channel(t: TestContext, moment: FlushMoment) {
  const { port1, port2 } = new MessageChannel();
  t.after(() => {
    port1.close();
    port2.close();
  });
  const posts: Array<Note | BatchMessage<Note>> = [];
  const received: Note[] = [];
  let wake: (() => void) | undefined;
  port2.on('message', (m: Note | BatchMessage<Note>) => {
    posts.push(m);
    unbatch(m, (x) => received.push(x));
    wake?.();
  });
  const until = async (n: number) => {
    while (received.length < n) await new Promise<void>((r) => (wake = r));
  };
  return { batcher: new PortBatcher(port1, moment), posts, received, until };
}

const note = (n: number): Note => ({ type: 'note', n });

describe('PortBatcher', () => {
  for (const moment of ['microtask', 'immediate'] as const) {
    it(`(${moment}) sends what is posted in one synchronous run as one message, in order`, async (t) => {
      const c = channel(t, moment);
      for (let i = 0; i < 10; i++) c.batcher.post(note(i));
      await c.until(10);
      assert.equal(c.posts.length, 1, 'one postMessage');
      assert.equal(c.posts[0]!.type, 'batch');
      assert.deepEqual(c.received.map((m) => m.n), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    });
  }

  it('sends a lone message as it is, not wrapped', async (t) => {
    const c = channel(t, 'microtask');
    c.batcher.post(note(7));
    await c.until(1);
    assert.deepEqual(c.posts, [note(7)]);
  });

  it(`sends every ${MAX_BATCH} messages of a long synchronous run at once, so no more wait`, async (t) => {
    const c = channel(t, 'microtask');
    const n = MAX_BATCH * 2 + 3;
    for (let i = 0; i < n; i++) c.batcher.post(note(i));
    await c.until(n);
    assert.deepEqual(c.posts.map((p) => (p.type === 'batch' ? p.messages.length : 1)), [MAX_BATCH, MAX_BATCH, 3]);
    assert.deepEqual(c.received.map((m) => m.n), Array.from({ length: n }, (_, i) => i));
  });

  it('fails only the message that cannot be cloned; the others of its batch cross, in order', async (t) => {
    const c = channel(t, 'microtask');
    const failed: string[] = [];
    c.batcher.post(note(1), () => failed.push('1'));
    c.batcher.post({ type: 'note', n: 2, fn: () => 2 }, (err) => failed.push(`2: ${err.name}`));
    c.batcher.post(note(3), () => failed.push('3'));
    await c.until(2);
    assert.deepEqual(failed, ['2: DataCloneError']);
    assert.deepEqual(c.received.map((m) => m.n), [1, 3]);
  });

  it('flush() sends what waits at once', (t) => {
    const { port1, port2 } = new MessageChannel();
    t.after(() => {
      port1.close();
      port2.close();
    });
    const b = new PortBatcher(port1, 'immediate');
    b.post(note(1));
    b.post(note(2));
    b.flush();
    assert.deepEqual(receiveMessageOnPort(port2)?.message, { type: 'batch', messages: [note(1), note(2)] });
  });

  it("a worker's 256 calls cross to the host in one message and their 256 answers come back in one", async (t) => {
    const answered: number[] = [];
    const host = new WorkerChannel('batching', pino({ level: 'silent' }), async (req) => {
      answered.push(req.id);
      return (req.args as unknown[])[0];
    });
    const worker = new HostConnection(host.workerPort);
    let toHost = 0;
    let toWorker = 0;
    host.workerPort.on('message', (m: HostToWorker | BatchMessage<HostToWorker>) => {
      toWorker++;
      unbatch(m, (x) => (x.type === 'rpc-result' ? worker.settle(x) : undefined));
    });
    const hostPort = (host as unknown as { port: MessagePort }).port;
    hostPort.on('message', () => toHost++);
    t.after(() => {
      host.close('the test ended');
      host.workerPort.close();
    });
    const calls = Array.from({ length: 256 }, (_, i) => worker.call('bifrost.sendMessage', [`message ${i}`]));
    const values = await Promise.all(calls);
    assert.deepEqual(values, Array.from({ length: 256 }, (_, i) => `message ${i}`));
    assert.equal(answered.length, 256);
    assert.equal(toHost, 1, 'the calls crossed in one message');
    assert.equal(toWorker, 1, 'the answers crossed in one message');
  });

  it("keeps the worker's order: a notification sent and not awaited reaches the host before the action's answer", async (t) => {
    const seen: string[] = [];
    const host = new WorkerChannel('ordering', pino({ level: 'silent' }), async (req) => {
      seen.push(`rpc ${(req.args as unknown[])[0]}`);
      return undefined;
    });
    const worker = new HostConnection(host.workerPort);
    let notified: Promise<unknown> | undefined;
    host.workerPort.on('message', (m: HostToWorker | BatchMessage<HostToWorker>) =>
      unbatch(m, (x) => {
        if (x.type === 'rpc-result') worker.settle(x);
        else if (x.type === 'invoke') {
          // The action: send a notification without awaiting it, then answer.
          notified = worker.call('bifrost.sendMessage', ['sent before the answer']);
          worker.post({ type: 'invoke-result', id: x.id, ok: true, value: { success: true, message: 'done' } });
        }
      }));
    t.after(() => {
      host.close('the test ended');
      host.workerPort.close();
    });
    const result = await host.invoke('act', {}, 'inv-1', { kind: 'operator' }, 5000);
    seen.push(`answer ${result.message}`);
    assert.deepEqual(seen, ['rpc sent before the answer', 'answer done']);
    await notified;
  });
});
