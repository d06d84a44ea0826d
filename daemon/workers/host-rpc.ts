/**
 * The host-side dispatcher: answers a plugin worker's `rpc` calls (ctx.heimdall, ctx.database,
 * ctx.bifrost) in the host. It is a table with one handler per method of the host contract, typed
 * by it: a handler receives the contract's arguments (after host-args.ts has checked them) and
 * must return the contract's result, and the compiler asks for a handler for every method.
 *
 * The handlers reach the rest of the daemon only through the ports in host-ports.ts, and see the
 * calling plugin only as a PluginIdentity. A call made from inside an action runs in that action's
 * chain (invoker/invocation-chain.ts), so what it invokes counts against limits.actions.maxDepth.
 */
import { HeimdallError, isHostMethod, type ActionTrigger, type HostArgs, type HostMethod, type HostResult, ErrorCode } from '../../sdk/index.js';
import { runInChain, sanitizeChain } from '../invoker/invocation-chain.js';
import { checkArgs } from './host-args.js';
import type { CallOrigin, HostDependencies, PluginIdentity } from './host-ports.js';
import type { RpcRequest } from './protocol.js';
import type { RpcHandler } from './worker-channel.js';

/** One call as a handler sees it: who made it and from where. */
export interface HostCall {
  plugin: PluginIdentity;
  origin: CallOrigin;
  /** The trigger of actions and prompts the call starts. */
  trigger: ActionTrigger;
}

/** One handler per host method: the contract's arguments in, the contract's result out. */
export type HostHandlers = {
  readonly [K in HostMethod]: (args: HostArgs<K>, call: HostCall) => Promise<HostResult<K>> | HostResult<K>;
};

export function hostHandlers(deps: HostDependencies): HostHandlers {
  const { invoker, bus, confirmations } = deps;
  const bifrostOrigin = (c: HostCall) => ({ kind: 'plugin' as const, plugin: c.plugin.name, ...(c.origin.invocationId ? { invocationId: c.origin.invocationId } : {}) });
  return {
    'heimdall.invokeAction': ([name, params = {}], c) => invoker.invokeAction(name, params, c.trigger),
    'heimdall.invokeActionAsync': ([name, params = {}], c) => invoker.invokeActionAsync(name, params, c.trigger),
    'heimdall.sendPrompt': ([prompt, opts = {}], c) => invoker.sendPrompt(prompt, opts, c.trigger),
    'heimdall.sendPromptAsync': ([prompt, opts = {}], c) => invoker.sendPromptAsync(prompt, opts, c.trigger),
    'heimdall.sendRawPrompt': ([prompt], c) => invoker.sendRawPrompt(prompt, c.trigger),
    'database.query': ([cypher, params = {}, opts = {}], c) => deps.database().query(c.plugin, cypher, params, opts, c.origin),
    'bifrost.sendMessage': ([text], c) => void bus.publish({ kind: 'message', message: text, origin: bifrostOrigin(c) }),
    'bifrost.broadcast': ([text], c) => void bus.publish({ kind: 'broadcast', message: text, origin: bifrostOrigin(c) }),
    'bifrost.sendNotification': ([level, title, message, data], c) =>
      void bus.publish({ kind: 'notification', level, title, message, ...(data ? { data } : {}), origin: bifrostOrigin(c) }),
    'bifrost.requestConfirmation': ([action, opts = {}], c) => confirmations.request(c.plugin.name, action, opts, c.origin.invocationId),
    'bifrost.requestConfirmationAnswer': ([action, opts = {}], c) => confirmations.requestAnswer(c.plugin.name, action, opts, c.origin.invocationId),
    'bifrost.isConnected': () => bus.clients > 0,
    'bifrost.connectionCount': () => bus.clients,
  };
}

/** Checks the arguments of one call and runs its handler. */
function dispatch<K extends HostMethod>(handlers: HostHandlers, method: K, rawArgs: unknown, call: HostCall): Promise<HostResult<K>> | HostResult<K> {
  return handlers[method](checkArgs(method, rawArgs), call);
}

/**
 * The rpc handler of each plugin's channel. `plugin` is asked on every call, because a plugin's
 * name is the one its module declares, known only once it has started.
 */
export function makeRpcHandler(deps: HostDependencies): (plugin: () => PluginIdentity) => RpcHandler {
  const handlers = hostHandlers(deps);
  return (plugin) =>
    async (req: RpcRequest): Promise<unknown> => {
      const method: unknown = req.method;
      if (!isHostMethod(method)) {
        throw new HeimdallError(ErrorCode.HMD_ERR_INTERNAL, `The worker called an unknown host method ${JSON.stringify(method)}; the plugin SDK and the daemon are out of step.`);
      }
      const who = plugin();
      const origin: CallOrigin = { ...(req.invocationId ? { invocationId: req.invocationId } : {}), ...(req.action ? { action: req.action } : {}) };
      // The longest chain the registry lets through is limits.actions.maxDepth (at most 100).
      const chain = sanitizeChain(req.chain, 100);
      return runInChain(chain, () => dispatch(handlers, method, req.args, { plugin: who, origin, trigger: { kind: 'plugin', plugin: who.name } }));
    };
}
