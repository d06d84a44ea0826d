/**
 * The host's end of one worker's MessagePort: answers the worker's `rpc` calls through a handler
 * (the host-side dispatcher), sends `invoke` calls of the plugin's actions and matches their results
 * through a CallCorrelator, and forwards log lines to the plugin's logger. `close()` rejects every
 * pending invocation and closes the port; so does the port closing because the worker exited.
 */
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import type { Logger } from 'pino';
import { ActionTimeoutError, PluginUnavailableError, serializeError, type ActionResult, type ActionTrigger } from '../../sdk/index.js';
import { CallCorrelator } from './call-correlator.js';
import type { HostToWorker, RpcRequest, WorkerToHost } from './protocol.js';

/** Answers one `rpc` message from the worker; a rejection crosses back as the call's error. */
export type RpcHandler = (req: RpcRequest) => Promise<unknown>;

/** Extra time the host waits past an action's deadline for the worker's own timeout answer. */
const DEADLINE_GRACE_MS = 250;

export class WorkerChannel {
  readonly workerPort: MessagePort;
  private readonly port: MessagePort;
  private readonly invocations: CallCorrelator;
  private closed = false;

  /**
   * @param onWorkerGone called when the worker's end of the port closes without the host closing
   *   it first: the worker thread exited (for example process.exit inside an action).
   */
  constructor(
    private readonly plugin: string,
    private readonly log: Logger,
    private readonly onRpc: RpcHandler,
    private readonly onWorkerGone: () => void = () => undefined,
  ) {
    const { port1, port2 } = new MessageChannel();
    this.port = port1;
    this.workerPort = port2;
    this.invocations = new CallCorrelator(port1, {
      closedError: (_call, reason) => new PluginUnavailableError(`The plugin ${this.plugin} stopped before answering: ${reason}`),
      portClosedReason: 'its worker thread exited',
    });
    this.port.on('message', (msg: WorkerToHost) => this.onMessage(msg));
    this.port.on('close', () => {
      if (this.closed) return;
      this.close('its worker thread exited');
      this.onWorkerGone();
    });
  }

  private onMessage(msg: WorkerToHost): void {
    switch (msg.type) {
      case 'log':
        this.log[msg.level](msg.data ?? {}, msg.msg);
        return;
      case 'invoke-result':
        this.invocations.settle(msg.id, msg);
        return;
      case 'rpc':
        this.onRpc(msg).then(
          (value) => this.send({ type: 'rpc-result', id: msg.id, ok: true, value }),
          (err) => this.send({ type: 'rpc-result', id: msg.id, ok: false, error: serializeError(err) }),
        );
        return;
    }
  }

  private send(msg: HostToWorker): void {
    if (this.closed) return;
    this.port.postMessage(msg);
  }

  /** Runs the plugin's action `action` in the worker; rejects past `timeoutMs` (plus a short grace). */
  invoke(action: string, params: Record<string, unknown>, invocationId: string, trigger: ActionTrigger, timeoutMs: number): Promise<ActionResult> {
    if (this.invocations.closed) return Promise.reject(new PluginUnavailableError(`The plugin ${this.plugin} is not running; its action ${action} cannot run now.`));
    return this.invocations.request<ActionResult>(
      `the action heimdall.${this.plugin}.${action}`,
      (id) => ({ type: 'invoke', id, action, params, invocationId, trigger, timeoutMs }) satisfies HostToWorker,
      {
        timeoutMs: timeoutMs + DEADLINE_GRACE_MS,
        timeoutError: () => new ActionTimeoutError(`The action heimdall.${this.plugin}.${action} did not finish within ${timeoutMs} ms.`, { invocationId }),
      },
    );
  }

  /** Rejects every pending invocation and closes the port. */
  close(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.invocations.close(reason);
    this.port.close();
  }
}
