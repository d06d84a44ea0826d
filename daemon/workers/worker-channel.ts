/**
 * The host's end of one worker's MessagePort: answers the worker's rpc calls through a handler,
 * sends action invocations and matches their results, forwards log lines. `close()` rejects every
 * pending invocation (the worker exited).
 */
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import type { Logger } from 'pino';
import {
  ActionTimeoutError,
  PluginUnavailableError,
  deserializeError,
  serializeError,
  type ActionResult,
  type ActionTrigger,
} from '../../sdk/index.js';
import type { HostToWorker, RpcRequest, WorkerToHost } from './protocol.js';

export type RpcHandler = (req: RpcRequest) => Promise<unknown>;

interface PendingInvoke {
  resolve(v: ActionResult): void;
  reject(e: Error): void;
  timer: NodeJS.Timeout;
}

/** Extra time the host waits past an action's deadline for the worker's own timeout answer. */
const DEADLINE_GRACE_MS = 250;

export class WorkerChannel {
  readonly workerPort: MessagePort;
  private readonly port: MessagePort;
  private nextId = 1;
  private readonly pending = new Map<number, PendingInvoke>();
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
      case 'invoke-result': {
        const p = this.pending.get(msg.id);
        if (!p) return;
        this.pending.delete(msg.id);
        clearTimeout(p.timer);
        if (msg.ok) p.resolve(msg.value);
        else p.reject(deserializeError(msg.error));
        return;
      }
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

  invoke(action: string, params: Record<string, unknown>, invocationId: string, trigger: ActionTrigger, timeoutMs: number): Promise<ActionResult> {
    if (this.closed) return Promise.reject(new PluginUnavailableError(`The plugin ${this.plugin} is not running; its action ${action} cannot run now.`));
    const id = this.nextId++;
    return new Promise<ActionResult>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new ActionTimeoutError(`The action heimdall.${this.plugin}.${action} did not finish within ${timeoutMs} ms.`, { invocationId }));
      }, timeoutMs + DEADLINE_GRACE_MS);
      this.pending.set(id, { resolve, reject, timer });
      this.send({ type: 'invoke', id, action, params, invocationId, trigger, timeoutMs });
    });
  }

  /** Rejects every pending invocation and closes the port. */
  close(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(new PluginUnavailableError(`The plugin ${this.plugin} stopped before answering: ${reason}`));
      this.pending.delete(id);
    }
    this.port.close();
  }
}
