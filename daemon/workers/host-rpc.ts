/**
 * Answers a plugin worker's calls (ctx.heimdall, ctx.database, ctx.bifrost) in the host.
 * Arguments come from plugin code: each is checked here before use.
 */
import {
  DatabaseNotConfiguredError,
  HeimdallError,
  NOTIFICATION_LEVELS,
  type ActionTrigger,
  type NotificationLevel,
  type PromptOptions,
  type Row,
} from '../../sdk/index.js';
import type { BifrostBus } from '../bifrost/bus.js';
import type { Invoker } from '../invoker/invoker.js';
import type { RpcRequest } from './protocol.js';
import type { PluginHost } from './plugin-host.js';

/** What ctx.database.query calls; the database issue provides the real one. */
export interface PluginDatabase {
  query(plugin: PluginHost, cypher: string, params: Record<string, unknown>, opts: Record<string, unknown>, origin: { invocationId?: string; action?: string }): Promise<Row[]>;
}

/** ctx.database without a `database:` section. */
export const NO_DATABASE: PluginDatabase = {
  query: () =>
    Promise.reject(
      new DatabaseNotConfiguredError(
        'No database is configured, so ctx.database.query cannot run. Add a database: section (uri, user, password) to heimdall.config.yaml and restart the daemon.',
      ),
    ),
};

/** Asks an operator; the Bifrost issue makes this real. Until then every request is denied. */
export interface Confirmations {
  request(plugin: string, action: string, opts: { timeoutMs?: number; details?: Record<string, unknown> }, invocationId?: string): Promise<boolean>;
}

function badArg(method: string, what: string): never {
  throw new HeimdallError('HMD_ERR_INVALID_PARAMS', `${method} was called with ${what}.`);
}

function str(method: string, name: string, v: unknown): string {
  if (typeof v !== 'string') badArg(method, `${name} = ${JSON.stringify(v)}; it must be a string`);
  return v;
}

function obj(method: string, name: string, v: unknown): Record<string, unknown> {
  if (v === undefined || v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v)) badArg(method, `${name} = ${JSON.stringify(v)}; it must be an object`);
  return v as Record<string, unknown>;
}

export function makeRpcHandler(deps: { invoker: Invoker; bus: BifrostBus; database: () => PluginDatabase; confirmations: Confirmations }) {
  return (host: PluginHost) =>
    async (req: RpcRequest): Promise<unknown> => {
      const a = req.args;
      const m = req.method;
      const trigger: ActionTrigger = { kind: 'plugin', plugin: host.name };
      const origin = { kind: 'plugin' as const, plugin: host.name, ...(req.invocationId ? { invocationId: req.invocationId } : {}) };
      switch (m) {
        case 'heimdall.invokeAction':
          return deps.invoker.invokeAction(str(m, 'name', a[0]), obj(m, 'params', a[1]), trigger);
        case 'heimdall.invokeActionAsync':
          return deps.invoker.invokeActionAsync(str(m, 'name', a[0]), obj(m, 'params', a[1]), trigger);
        case 'heimdall.sendPrompt':
          return deps.invoker.sendPrompt(str(m, 'prompt', a[0]), obj(m, 'opts', a[1]) as PromptOptions, trigger);
        case 'heimdall.sendPromptAsync':
          return deps.invoker.sendPromptAsync(str(m, 'prompt', a[0]), obj(m, 'opts', a[1]) as PromptOptions, trigger);
        case 'heimdall.sendRawPrompt':
          return deps.invoker.sendRawPrompt(str(m, 'prompt', a[0]), trigger);
        case 'database.query':
          return deps.database().query(host, str(m, 'cypher', a[0]), obj(m, 'params', a[1]), obj(m, 'opts', a[2]), {
            ...(req.invocationId ? { invocationId: req.invocationId } : {}),
            ...(req.action ? { action: req.action } : {}),
          });
        case 'bifrost.sendMessage':
          deps.bus.publish({ kind: 'message', message: str(m, 'text', a[0]), origin });
          return undefined;
        case 'bifrost.broadcast':
          deps.bus.publish({ kind: 'broadcast', message: str(m, 'text', a[0]), origin });
          return undefined;
        case 'bifrost.sendNotification': {
          const level = a[0] as NotificationLevel;
          if (!NOTIFICATION_LEVELS.includes(level)) badArg(m, `level = ${JSON.stringify(a[0])}; use one of ${NOTIFICATION_LEVELS.join(', ')}`);
          const data = a[3] === undefined ? undefined : obj(m, 'data', a[3]);
          deps.bus.publish({ kind: 'notification', level, title: str(m, 'title', a[1]), message: str(m, 'message', a[2]), ...(data ? { data } : {}), origin });
          return undefined;
        }
        case 'bifrost.requestConfirmation': {
          const opts = obj(m, 'opts', a[1]) as { timeoutMs?: number; details?: Record<string, unknown> };
          return deps.confirmations.request(host.name, str(m, 'action', a[0]), opts, req.invocationId);
        }
        case 'bifrost.isConnected':
          return deps.bus.clients > 0;
        case 'bifrost.connectionCount':
          return deps.bus.clients;
        default:
          throw new HeimdallError('HMD_ERR_INTERNAL', `The worker called an unknown host method ${JSON.stringify(m)}; the plugin SDK and the daemon are out of step.`);
      }
    };
}
