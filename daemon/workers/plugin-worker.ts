/**
 * The plugin worker: the piscina task function that runs inside each plugin's thread, and the
 * handler of the host's `invoke` messages on the MessagePort (actions run there, not as tasks).
 * State (the plugin module, its ctx, the connection to the host) lives in module scope for the
 * worker's lifetime.
 */
import {
  ActionFailedError,
  ActionNotFoundError,
  ActionTimeoutError,
  PluginInitError,
  ResultTooLargeError,
  ErrorCode,
  serializeError,
  type ActionResult,
  type DatabaseEvent,
  type PluginContext,
  type PluginDefinition,
  type ActionDefinition,
} from '../../sdk/index.js';
import { collectActions } from '../../sdk/checks/definition.js';
import { actionResultJson } from '../../sdk/checks/params.js';
import { preparePluginConfig } from '../../sdk/checks/plugin-config.js';
import { checkPluginDefinition, importPluginModule } from './plugin-loader.js';
import { decodeBatch } from './event-wire.js';
import { HostConnection, makeActionContext, makeLogger, makePluginContext } from './worker-context.js';
import {
  PROGRESS,
  type ActionDescriptor,
  type EventFailure,
  type EventsResult,
  type HostToWorker,
  type InitResult,
  type InitAnswer,
  HANDLER_BUCKETS_MS,
  type InitTask,
  type InvokeRequest,
  type WorkerTask,
  type WorkerToHost,
} from './protocol.js';
import { currentThreadId } from './busy-thread.js';
import { unbatch, type BatchMessage } from './port-batcher.js';

interface WorkerState {
  plugin: PluginDefinition;
  ctx: PluginContext;
  host: HostConnection;
  progress: Float64Array;
  actions: Record<string, ActionDefinition>;
  config: Record<string, unknown>;
}

let state: WorkerState | undefined;
/** Batches and stop run strictly one after another even when the host sends the next one early. */
let chain: Promise<unknown> = Promise.resolve();

function serial<T>(f: () => Promise<T>): Promise<T> {
  const p = chain.then(f);
  chain = p.catch(() => undefined);
  return p;
}
const MAX_FAILURES_REPORTED = 5;

export default async function runTask(task: WorkerTask): Promise<unknown> {
  switch (task.type) {
    case 'init':
      try {
        return { ok: true, info: await init(task) } satisfies InitAnswer;
      } catch (err) {
        return { ok: false, error: serializeError(err) } satisfies InitAnswer;
      }
    case 'events':
      return serial(() => handleEvents(decodeBatch(task.wire), task.seq));
    case 'stop':
      return serial(() => stop());
  }
}

async function init(task: InitTask): Promise<InitResult> {
  const host = new HostConnection(task.port, task.limits);
  const handle = (msg: HostToWorker) => {
    if (msg.type === 'rpc-result') host.settle(msg);
    else if (msg.type === 'invoke') void runAction(msg);
  };
  task.port.on('message', (msg: HostToWorker | BatchMessage<HostToWorker>) => unbatch(msg, handle));
  const plugin = checkPluginDefinition(await importPluginModule(task.modulePath), task.modulePath);
  const config = preparePluginConfig(plugin, task.config) as Record<string, unknown>;
  const log = makeLogger(host);
  const ctx = makePluginContext(plugin.name, config, host, log);
  const actions: Record<string, ActionDefinition> = collectActions(plugin);
  state = { plugin, ctx, host, progress: new Float64Array(task.progress), actions, config };
  if (plugin.init) {
    try {
      await plugin.init.call(plugin, ctx);
    } catch (err) {
      const e = err as Error;
      throw new PluginInitError(`The plugin ${plugin.name} failed in init(): ${e?.message ?? String(err)}`, { cause: serializeError(err) });
    }
  }
  const threadId = currentThreadId();
  const descriptors: ActionDescriptor[] = Object.entries(actions).map(([name, a]) => ({
    name,
    description: a.description,
    params: (a.params as Record<string, unknown> | undefined) ?? { type: 'object' },
    destructive: a.destructive === true,
    ...(typeof a.timeoutMs === 'number' ? { timeoutMs: a.timeoutMs } : {}),
  }));
  return {
    name: plugin.name,
    version: plugin.version,
    ...(plugin.description ? { description: plugin.description } : {}),
    ...(plugin.events ? { events: [...plugin.events] } : {}),
    ...(plugin.configSchema ? { configSchema: plugin.configSchema } : {}),
    actions: descriptors,
    ...(threadId !== undefined ? { threadId } : {}),
  };
}

async function handleEvents(batch: DatabaseEvent[], seq: number): Promise<EventsResult> {
  const s = state;
  if (!s) throw new Error('The worker received events before init; this is a bug in the plugin host.');
  const p = s.progress;
  const handler = s.plugin.onDatabaseEvent;
  p[PROGRESS.BATCH_SEQ] = seq;
  p[PROGRESS.COMPLETED] = 0;
  p[PROGRESS.FAILED] = 0;
  let failed = 0;
  const failures: EventFailure[] = [];
  const buckets = new Array<number>(HANDLER_BUCKETS_MS.length + 1).fill(0);
  let sumMs = 0;
  // one clock read per event: a handler ends when the next begins (Date.now() is timeOrigin + performance.now())
  const origin = performance.timeOrigin;
  let t0 = performance.now();
  for (let i = 0; i < batch.length; i++) {
    const event = batch[i]!;
    if (handler) {
      p[PROGRESS.HANDLER_STARTED_AT] = origin + t0;
      try {
        const r = handler.call(s.plugin, event, s.ctx);
        if (r && typeof (r as Promise<void>).then === 'function') await r;
      } catch (err) {
        failed++;
        p[PROGRESS.FAILED] = failed;
        if (failures.length < MAX_FAILURES_REPORTED) failures.push({ index: i, id: event.id, error: serializeError(err) });
      }
      const t1 = performance.now();
      const d = t1 - t0;
      t0 = t1;
      sumMs += d;
      let b = 0;
      while (b < HANDLER_BUCKETS_MS.length && d > HANDLER_BUCKETS_MS[b]!) b++;
      buckets[b]!++;
      p[PROGRESS.HANDLER_STARTED_AT] = 0;
    }
    p[PROGRESS.COMPLETED] = i + 1;
  }
  return { handled: batch.length, failed, failures, buckets, sumMs };
}

async function stop(): Promise<{ stopped: boolean }> {
  const s = state;
  if (!s?.plugin.stop) return { stopped: true };
  await s.plugin.stop.call(s.plugin, s.ctx);
  return { stopped: true };
}

/** An error an action handler let through that crosses as it is (not wrapped in ActionFailedError). */
function passesThrough(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return err instanceof ActionFailedError || err instanceof ActionTimeoutError || code === ErrorCode.HMD_ERR_INVOCATION_DEPTH || code === ErrorCode.HMD_ERR_RESULT_TOO_LARGE;
}

/**
 * Runs one action and answers the host exactly once: with its result, with its error, or — when its
 * deadline passes first — with ActionTimeoutError at the deadline, whether or not the handler
 * honours its signal (a handler that keeps the thread busy cannot be answered for; the host then
 * terminates the worker). The result must be an ActionResult of at most req.maxResultBytes as JSON.
 */
async function runAction(req: InvokeRequest): Promise<void> {
  const s = state!;
  let answered = false;
  const reply = (m: WorkerToHost) => {
    if (answered) return;
    answered = true;
    s.host.post(m);
  };
  const def = s.actions[req.action];
  if (!def) {
    const err = new ActionNotFoundError(`The plugin ${s.plugin.name} has no action ${req.action}.`, { action: req.action, suggestions: Object.keys(s.actions) });
    reply({ type: 'invoke-result', id: req.id, ok: false, error: serializeError(err) });
    return;
  }
  const ac = new AbortController();
  const fullName = `heimdall.${s.plugin.name}.${req.action}`;
  const timer = setTimeout(() => {
    const err = new ActionTimeoutError(`The action ${fullName} did not finish within ${req.timeoutMs} ms.`, { invocationId: req.invocationId });
    ac.abort(err);
    reply({ type: 'invoke-result', id: req.id, ok: false, error: serializeError(err) });
  }, req.timeoutMs);
  try {
    const actx = makeActionContext({ name: s.plugin.name, config: s.config, host: s.host, log: s.ctx.log }, req.action, req.params, req.invocationId, req.trigger, ac.signal, req.chain ?? []);
    const value = await def.handler.call(def, actx);
    // a handler that returns after its deadline (even one that honoured the signal) timed out
    if (ac.signal.aborted) throw ac.signal.reason as Error;
    const text = actionResultJson(fullName, value);
    const bytes = Buffer.byteLength(text, 'utf8');
    if (bytes > req.maxResultBytes) {
      throw new ResultTooLargeError(
        `The action ${fullName} returned ${bytes} bytes of JSON, more than limits.actions.maxResultBytes (${req.maxResultBytes}); return less (page or summarise the data) or raise the limit.`,
        { action: fullName, maxBytes: req.maxResultBytes, bytes },
      );
    }
    reply({ type: 'invoke-result', id: req.id, ok: true, value: JSON.parse(text) as ActionResult });
  } catch (err) {
    const wrapped = passesThrough(err)
      ? err
      : ac.signal.aborted
        ? (ac.signal.reason as Error)
        : new ActionFailedError(`The action ${fullName} threw: ${(err as Error)?.message ?? String(err)}`, { cause: serializeError(err) });
    reply({ type: 'invoke-result', id: req.id, ok: false, error: serializeError(wrapped) });
  } finally {
    clearTimeout(timer);
  }
}
