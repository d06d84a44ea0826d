/**
 * The host's end of one worker's MessagePort: answers the worker's `rpc` calls through a handler
 * (the host-side dispatcher), sends `invoke` calls of the plugin's actions and matches their results
 * through a CallCorrelator, and forwards log lines to the plugin's logger. `close()` rejects every
 * pending invocation and closes the port; so does the port closing because the worker exited.
 *
 * Deadlines: the caller of an action gets ActionTimeoutError at its deadline plus a short grace
 * (the worker answers at the deadline itself when its thread is free). When even a longer grace
 * passes without that answer, the worker's thread is busy (a `while (true) {}` in the action) and
 * `onOverdue` tells the host, which terminates the worker like a handler past handlerTimeoutMs.
 *
 * Log lines and Bifrost messages go through the plugin's OutputLimiter (output-limits.ts) when one
 * is given; what goes over is dropped and counted, and a dropped message is answered as sent.
 */
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import type { Logger } from 'pino';
import { ActionTimeoutError, PluginUnavailableError, serializeError, type ActionResult, type ActionTrigger } from '../../sdk/index.js';
import { CallCorrelator } from './call-correlator.js';
import { DEFAULT_ACTION_LIMITS } from '../invoker/invocation-chain.js';
import type { OutputLimiter } from './output-limits.js';
import type { HostToWorker, RpcRequest, WorkerToHost } from './protocol.js';
import { PortBatcher, unbatch, type BatchMessage } from './port-batcher.js';

/** Answers one `rpc` message from the worker; a rejection crosses back as the call's error. */
export type RpcHandler = (req: RpcRequest) => Promise<unknown>;

/** Extra time the host waits past an action's deadline for the worker's own timeout answer. */
const DEADLINE_GRACE_MS = 250;
/** How long past an action's deadline an unanswered worker is taken to be stuck, ms. */
export const OVERDUE_GRACE_MS = 1000;

const PUBLISHING = new Set<string>(['bifrost.sendMessage', 'bifrost.sendNotification', 'bifrost.broadcast']);

export interface WorkerChannelExtras {
  /** The plugin's output limits; without it nothing is limited. */
  limiter?: OutputLimiter;
  /** The worker did not answer an action within its deadline plus OVERDUE_GRACE_MS. */
  onOverdue?: (reason: string) => void;
}

export interface InvokeExtras {
  /** The chain of actions leading to this one, this one last. */
  chain?: string[];
  maxResultBytes?: number;
}

export class WorkerChannel {
  readonly workerPort: MessagePort;
  private readonly port: MessagePort;
  /** Everything the host posts to the worker, in order, a turn's worth per postMessage. */
  private readonly out: PortBatcher;
  private readonly invocations: CallCorrelator;
  private closed = false;
  /** Invocations whose caller has timed out, waiting for the worker's late answer. */
  private readonly overdue = new Map<number, NodeJS.Timeout>();

  /**
   * @param onWorkerGone called when the worker's end of the port closes without the host closing
   *   it first: the worker thread exited (for example process.exit inside an action).
   */
  constructor(
    private readonly plugin: string,
    private readonly log: Logger,
    private readonly onRpc: RpcHandler,
    private readonly onWorkerGone: () => void = () => undefined,
    private readonly extras: WorkerChannelExtras = {},
  ) {
    const { port1, port2 } = new MessageChannel();
    this.port = port1;
    this.workerPort = port2;
    this.out = new PortBatcher(port1, 'immediate');
    this.invocations = new CallCorrelator(port1, {
      closedError: (_call, reason) => new PluginUnavailableError(`The plugin ${this.plugin} stopped before answering: ${reason}`),
      portClosedReason: 'its worker thread exited',
    }, this.out);
    const handle = (msg: WorkerToHost) => this.onMessage(msg);
    this.port.on('message', (msg: WorkerToHost | BatchMessage<WorkerToHost>) => unbatch(msg, handle));
    this.port.on('close', () => {
      if (this.closed) return;
      this.close('its worker thread exited');
      this.onWorkerGone();
    });
  }

  private onMessage(msg: WorkerToHost): void {
    switch (msg.type) {
      case 'log':
        if (this.extras.limiter && !this.extras.limiter.allow('logLines')) return;
        if (typeof this.log[msg.level] !== 'function') return;
        this.log[msg.level](msg.data ?? {}, String(msg.msg));
        return;
      case 'output-dropped':
        this.extras.limiter?.countDropped('logLines', Number(msg.logLines));
        this.extras.limiter?.countDropped('notifications', Number(msg.notifications));
        return;
      case 'invoke-result': {
        const late = this.overdue.get(msg.id);
        if (late) {
          clearTimeout(late);
          this.overdue.delete(msg.id);
        }
        this.invocations.settle(msg.id, msg);
        return;
      }
      case 'rpc':
        if (this.extras.limiter && PUBLISHING.has(msg.method) && !this.extras.limiter.allow('notifications')) {
          this.send({ type: 'rpc-result', id: msg.id, ok: true, value: undefined });
          return;
        }
        this.onRpc(msg).then(
          (value) => this.answer(msg.id, value),
          (err) => this.send({ type: 'rpc-result', id: msg.id, ok: false, error: serializeError(err) }),
        );
        return;
    }
  }

  /** Answers the call `id` with `value`; a value that cannot cross the port fails the call instead. */
  private answer(id: number, value: unknown): void {
    this.send({ type: 'rpc-result', id, ok: true, value }, (err) =>
      this.send({ type: 'rpc-result', id, ok: false, error: serializeError(new Error(`The daemon's answer could not be passed to the worker: ${err.message}`)) }));
  }

  private send(msg: HostToWorker, onCloneError?: (err: Error) => void): void {
    if (this.closed) return;
    this.out.post(msg, onCloneError);
  }

  /** Runs the plugin's action `action` in the worker; rejects past `timeoutMs` (plus a short grace). */
  invoke(action: string, params: Record<string, unknown>, invocationId: string, trigger: ActionTrigger, timeoutMs: number, x: InvokeExtras = {}): Promise<ActionResult> {
    if (this.invocations.closed) return Promise.reject(new PluginUnavailableError(`The plugin ${this.plugin} is not running; its action ${action} cannot run now.`));
    const chain = x.chain ?? [];
    const maxResultBytes = x.maxResultBytes ?? DEFAULT_ACTION_LIMITS.maxResultBytes;
    let callId = 0;
    return this.invocations.request<ActionResult>(
      `the action heimdall.${this.plugin}.${action}`,
      (id) => {
        callId = id;
        return { type: 'invoke', id, action, params, invocationId, trigger, timeoutMs, chain, maxResultBytes } satisfies HostToWorker;
      },
      {
        timeoutMs: timeoutMs + DEADLINE_GRACE_MS,
        timeoutError: () => {
          this.watchOverdue(callId, action, timeoutMs);
          return new ActionTimeoutError(`The action heimdall.${this.plugin}.${action} did not finish within ${timeoutMs} ms.`, { invocationId });
        },
      },
    );
  }

  /** After a caller timed out: when the worker does not answer soon either, it is stuck. */
  private watchOverdue(id: number, action: string, timeoutMs: number): void {
    if (!this.extras.onOverdue || this.closed) return;
    const t = setTimeout(() => {
      this.overdue.delete(id);
      if (this.closed) return;
      this.extras.onOverdue?.(`its action heimdall.${this.plugin}.${action} ran past its ${timeoutMs} ms deadline and kept the worker thread busy`);
    }, OVERDUE_GRACE_MS - DEADLINE_GRACE_MS);
    t.unref();
    this.overdue.set(id, t);
  }

  /** Rejects every pending invocation and closes the port. */
  close(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    for (const t of this.overdue.values()) clearTimeout(t);
    this.overdue.clear();
    this.invocations.close(reason);
    this.out.flush();
    this.port.close();
  }
}
