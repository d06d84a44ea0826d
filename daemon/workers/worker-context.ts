/**
 * The worker's side of the host contract: the connection to the host over the MessagePort, and
 * ctx (PluginContext) and actx (ActionContext) built on it.
 *
 * ctx.heimdall, ctx.database and ctx.bifrost are not written out method by method: they are built
 * from the contract's method list (sdk/host-contract.ts), each method posting an `rpc` message
 * with its wire name and arguments as the plugin passed them. The host's dispatcher checks the
 * arguments. Every call is answered or rejected, also when the port closes while it waits or is
 * already closed (the host stopped or restarted the plugin).
 *
 * Log lines and Bifrost messages (sendMessage, sendNotification, broadcast) go through the plugin's
 * output limits (output-limits.ts) here, before they cross the port: what goes over is dropped and
 * counted (a dropped message resolves like a sent one), and the counts are reported to the host at
 * most every 250 ms. A plugin that keeps going over them is slowed down: after every 1000 drops its
 * thread sleeps 2 ms, so a loop that logs or notifies millions of times does not spin a core the
 * daemon needs. Calls made from inside an action carry the action's chain, so the host can
 * bound how deep actions call actions (limits.actions.maxDepth).
 */
import type { MessagePort } from 'node:worker_threads';
import {
  HOST_NAMESPACES,
  PluginUnavailableError,
  hostMethodNames,
  type ActionContext,
  type ActionTrigger,
  type HostArgs,
  type HostMethod,
  type HostResult,
  type HostServices,
  type PluginContext,
  type PluginLogger,
} from '../../sdk/index.js';
import { CallCorrelator } from './call-correlator.js';
import { TokenBucket, type OutputLimits } from './output-limits.js';
import type { RpcRequest, RpcResult, WorkerToHost } from './protocol.js';
import { PortBatcher } from './port-batcher.js';

/** Marks the calls made from inside an action handler. */
export interface CallTag {
  invocationId: string;
  action: string;
  /** The chain of actions that led to this one, outermost first, this one last. */
  chain?: string[];
}

/** Host methods that publish on Bifrost: they count against the plugin's notification limit. */
const PUBLISHING = new Set<HostMethod>(['bifrost.sendMessage', 'bifrost.sendNotification', 'bifrost.broadcast']);

/** How often the worker reports what it dropped, ms. */
const DROP_REPORT_MS = 250;

/**
 * Back-pressure on a plugin that keeps going over its limits: after every THROTTLE_EVERY drops its
 * thread sleeps THROTTLE_MS. A loop that logs or notifies millions of times is slowed to a fraction
 * of a core instead of spinning, so the daemon's own thread keeps its share of the CPU.
 */
const THROTTLE_EVERY = 1000;
const THROTTLE_MS = 2;
const sleeper = new Int32Array(new SharedArrayBuffer(4));

/** What a dropped Bifrost message resolves with (one promise for all, so a flood allocates nothing). */
const DROPPED: Promise<undefined> = Promise.resolve(undefined);

export class HostConnection {
  private readonly calls: CallCorrelator;
  private readonly logBucket: TokenBucket | undefined;
  private readonly notifyBucket: TokenBucket | undefined;
  private dropped = { logLines: 0, notifications: 0 };
  private sinceThrottle = 0;
  private reportTimer: NodeJS.Timeout | undefined;

  /** Everything the worker posts to the host, in order, a synchronous run's worth per postMessage. */
  private readonly out: PortBatcher;

  constructor(port: MessagePort, limits?: OutputLimits) {
    this.out = new PortBatcher(port, 'microtask');
    this.calls = new CallCorrelator(port, {
      closedError: (call, reason) => new PluginUnavailableError(`${call} got no answer from Heimdall: ${reason}.`),
      portClosedReason: 'the daemon closed the channel of this worker (the plugin is stopping or restarting)',
    }, this.out);
    if (limits) {
      this.logBucket = new TokenBucket(limits.logLinesPerSecond, limits.logLinesBurst, Date.now);
      this.notifyBucket = new TokenBucket(limits.notificationsPerSecond, limits.notificationsBurst, Date.now);
    }
  }

  /** Calls the host method `method`; resolves with its result or rejects with its error. */
  call<K extends HostMethod>(method: K, args: HostArgs<K>, tag?: CallTag): Promise<HostResult<K>> {
    if (this.notifyBucket && PUBLISHING.has(method) && !this.notifyBucket.take()) {
      this.countDrop('notifications');
      return DROPPED as Promise<HostResult<K>>;
    }
    return this.calls.request<HostResult<K>>(`ctx.${method}`, (id) => ({ type: 'rpc', id, method, args, ...tag }) as RpcRequest);
  }

  /** Settles a pending call with the host's answer. */
  settle(msg: RpcResult): void {
    this.calls.settle(msg.id, msg);
  }

  log(level: 'debug' | 'info' | 'warn' | 'error', msg: string, data?: Record<string, unknown>): void {
    if (this.logBucket && !this.logBucket.take()) {
      this.countDrop('logLines');
      return;
    }
    this.post({ type: 'log', level, msg: String(msg), ...(data === undefined ? {} : { data: toPlain(data) }) });
  }

  /** Posts a message to the host after what this worker posted before it. */
  post(m: WorkerToHost): void {
    this.out.post(m);
  }

  private countDrop(kind: 'logLines' | 'notifications'): void {
    this.dropped[kind]++;
    if (++this.sinceThrottle >= THROTTLE_EVERY) {
      this.sinceThrottle = 0;
      Atomics.wait(sleeper, 0, 0, THROTTLE_MS);
    }
    if (this.reportTimer !== undefined) return;
    this.reportTimer = setTimeout(() => {
      this.reportTimer = undefined;
      const d = this.dropped;
      this.dropped = { logLines: 0, notifications: 0 };
      if (this.calls.closed) return;
      // When the port is closing, the counts are lost with the worker.
      this.post({ type: 'output-dropped', ...d });
    }, DROP_REPORT_MS);
    this.reportTimer.unref();
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

export function makeLogger(host: HostConnection): PluginLogger {
  return {
    debug: (m, d) => host.log('debug', m, d),
    info: (m, d) => host.log('info', m, d),
    warn: (m, d) => host.log('warn', m, d),
    error: (m, d) => host.log('error', m, d),
  };
}

/**
 * ctx.heimdall, ctx.database and ctx.bifrost: for every method of the contract, a function that
 * calls it on the host. The contract's method list is complete by construction (the compiler
 * checks it against the SDK interfaces), which is what makes the cast at the end sound.
 */
export function makeHostServices(host: HostConnection, tag?: CallTag): HostServices {
  const services: Record<string, Readonly<Record<string, (...args: unknown[]) => Promise<unknown>>>> = {};
  for (const namespace of HOST_NAMESPACES) {
    const methods: Record<string, (...args: unknown[]) => Promise<unknown>> = {};
    for (const name of hostMethodNames(namespace)) {
      const method = `${namespace}.${name}` as HostMethod;
      methods[name] = (...args) => host.call(method, args as HostArgs<typeof method>, tag);
    }
    services[namespace] = Object.freeze(methods);
  }
  return services as unknown as HostServices;
}

/** The plugin context; `tag` marks calls made from inside an action. */
export function makePluginContext(name: string, config: Record<string, unknown>, host: HostConnection, log: PluginLogger, tag?: CallTag): PluginContext {
  return Object.freeze({ name, config, log, ...makeHostServices(host, tag) });
}

export function makeActionContext(
  base: { name: string; config: Record<string, unknown>; host: HostConnection; log: PluginLogger },
  action: string,
  params: Record<string, unknown>,
  invocationId: string,
  trigger: ActionTrigger,
  signal: AbortSignal,
  chain: string[] = [],
): ActionContext {
  const ctx = makePluginContext(base.name, base.config, base.host, base.log, { invocationId, action, chain });
  return Object.freeze({ ...ctx, params, invocationId, signal, trigger });
}
