/**
 * Builds ctx (PluginContext) and actx (ActionContext) inside the worker. Every method is a call
 * over the MessagePort to the host, answered or rejected (also when the worker's port closes).
 */
import type { MessagePort } from 'node:worker_threads';
import {
  deserializeError,
  type ActionContext,
  type ActionTrigger,
  type PluginContext,
  type PluginLogger,
} from '../../sdk/index.js';
import type { CallResult, RpcMethod, WorkerToHost } from './protocol.js';

interface Pending {
  resolve(v: unknown): void;
  reject(e: Error): void;
}

export class HostRpc {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  constructor(private readonly port: MessagePort) {}

  call(method: RpcMethod, args: unknown[], tag?: { invocationId: string; action: string }): Promise<unknown> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      const msg: WorkerToHost = { type: 'rpc', id, method, args, ...(tag ?? {}) };
      try {
        this.port.postMessage(msg);
      } catch (err) {
        this.pending.delete(id);
        reject(err as Error);
      }
    });
  }

  /** Settles a pending call with the host's answer. */
  settle(msg: CallResult): void {
    const p = this.pending.get(msg.id);
    if (!p) return;
    this.pending.delete(msg.id);
    if (msg.ok) p.resolve(msg.value);
    else p.reject(deserializeError(msg.error));
  }

  log(level: 'debug' | 'info' | 'warn' | 'error', msg: string, data?: Record<string, unknown>): void {
    const m: WorkerToHost = { type: 'log', level, msg: String(msg), ...(data === undefined ? {} : { data: toPlain(data) }) };
    this.port.postMessage(m);
  }
}

/** Makes data JSON-safe for the log channel (drops functions, cycles become strings). */
function toPlain(data: Record<string, unknown>): Record<string, unknown> {
  try {
    return JSON.parse(JSON.stringify(data)) as Record<string, unknown>;
  } catch {
    return { unserializable: String(data) };
  }
}

export function makeLogger(rpc: HostRpc): PluginLogger {
  return {
    debug: (m, d) => rpc.log('debug', m, d),
    info: (m, d) => rpc.log('info', m, d),
    warn: (m, d) => rpc.log('warn', m, d),
    error: (m, d) => rpc.log('error', m, d),
  };
}

/** The plugin context; `tag` marks calls made from inside an action. */
export function makePluginContext(
  name: string,
  config: Record<string, unknown>,
  rpc: HostRpc,
  log: PluginLogger,
  tag?: { invocationId: string; action: string },
): PluginContext {
  const call = <T>(method: RpcMethod, ...args: unknown[]) => rpc.call(method, args, tag) as Promise<T>;
  return Object.freeze({
    name,
    config,
    log,
    heimdall: Object.freeze({
      invokeAction: (action: string, params?: Record<string, unknown>) => call('heimdall.invokeAction', action, params ?? {}),
      invokeActionAsync: (action: string, params?: Record<string, unknown>) => call('heimdall.invokeActionAsync', action, params ?? {}),
      sendPrompt: (prompt: string, opts?: unknown) => call('heimdall.sendPrompt', prompt, opts ?? {}),
      sendPromptAsync: (prompt: string, opts?: unknown) => call('heimdall.sendPromptAsync', prompt, opts ?? {}),
      sendRawPrompt: (prompt: string) => call('heimdall.sendRawPrompt', prompt),
    }),
    database: Object.freeze({
      query: (cypher: string, params?: Record<string, unknown>, opts?: unknown) => call('database.query', cypher, params ?? {}, opts ?? {}),
    }),
    bifrost: Object.freeze({
      sendMessage: (text: string) => call('bifrost.sendMessage', text),
      sendNotification: (level: string, title: string, message: string, data?: Record<string, unknown>) =>
        call('bifrost.sendNotification', level, title, message, data),
      broadcast: (text: string) => call('bifrost.broadcast', text),
      requestConfirmation: (action: string, opts?: unknown) => call('bifrost.requestConfirmation', action, opts ?? {}),
      isConnected: () => call('bifrost.isConnected'),
      connectionCount: () => call('bifrost.connectionCount'),
    }),
  }) as PluginContext;
}

export function makeActionContext(
  base: { name: string; config: Record<string, unknown>; rpc: HostRpc; log: PluginLogger },
  action: string,
  params: Record<string, unknown>,
  invocationId: string,
  trigger: ActionTrigger,
  signal: AbortSignal,
): ActionContext {
  const ctx = makePluginContext(base.name, base.config, base.rpc, base.log, { invocationId, action });
  return Object.freeze({ ...ctx, params, invocationId, signal, trigger }) as ActionContext;
}
