/**
 * Request/response matching over one MessagePort, used by both ends of a plugin's channel: the
 * host for its `invoke` calls of the plugin's actions, the worker for its `rpc` calls into the host.
 *
 * Each call gets the next id and a pending promise; the owner of the port hands every answer it
 * receives to `settle`. A call ends exactly once: answered, rejected with the error that crossed
 * (rebuilt into the SDK's classes), timed out (when the call asked for a deadline), or rejected
 * because the correlator closed. It closes when the owner calls `close` or when the port closes,
 * from either side (the other thread exited or closed its end); from then on new calls are
 * rejected at once.
 */
import type { MessagePort } from 'node:worker_threads';
import { deserializeError } from '../../sdk/index.js';
import type { CallOutcome } from './protocol.js';
import { PortBatcher } from './port-batcher.js';

export interface CorrelatorOptions {
  /**
   * The error a call is rejected with when the correlator is closed, or closes while it waits.
   * `call` names the call (as given to `request`), `reason` says why the channel closed.
   */
  closedError(call: string, reason: string): Error;
  /** The reason used when the port closes before `close` was called. */
  portClosedReason: string;
}

export interface CallOptions {
  /** Rejects the call with `timeoutError()` when no answer came within this many milliseconds. */
  timeoutMs?: number;
  /** The error of a call that timed out; required with `timeoutMs`. */
  timeoutError?: () => Error;
}

interface Pending {
  call: string;
  resolve(value: unknown): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout | undefined;
}

export class CallCorrelator {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private closedBecause: string | undefined;

  /**
   * @param sender what posts the calls on `port`: the end's PortBatcher, so that calls and the
   *   end's other messages keep one order. Default: postMessage at once.
   */
  constructor(
    port: MessagePort,
    private readonly opts: CorrelatorOptions,
    private readonly sender: PortBatcher = new PortBatcher(port, 'now'),
  ) {
    port.once('close', () => this.close(opts.portClosedReason));
  }

  /** Whether calls are refused (close was called or the port closed). */
  get closed(): boolean {
    return this.closedBecause !== undefined;
  }

  /** Calls waiting for an answer. */
  get waiting(): number {
    return this.pending.size;
  }

  /**
   * Posts the message `build(id)` and resolves with the answer to `id`. `call` names the call in
   * errors (for example `ctx.database.query` or `the action heimdall.audit.remediate`).
   */
  request<T>(call: string, build: (id: number) => unknown, opts: CallOptions = {}): Promise<T> {
    if (this.closedBecause !== undefined) return Promise.reject(this.opts.closedError(call, this.closedBecause));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const entry: Pending = { call, resolve: resolve as (v: unknown) => void, reject, timer: undefined };
      if (opts.timeoutMs !== undefined) {
        const timeoutError = opts.timeoutError ?? (() => new Error(`${call} got no answer within ${opts.timeoutMs} ms.`));
        entry.timer = setTimeout(() => {
          if (this.pending.delete(id)) reject(timeoutError());
        }, opts.timeoutMs);
      }
      this.pending.set(id, entry);
      // A message that cannot be cloned (a function or a class instance among the arguments) fails its call.
      this.sender.post(build(id), (err) => {
        this.forget(id);
        reject(err);
      });
    });
  }

  /** Ends the call `id` with the answer that crossed; an answer nobody waits for is ignored. */
  settle(id: number, outcome: CallOutcome<unknown>): void {
    const p = this.forget(id);
    if (!p) return;
    if (outcome.ok) p.resolve(outcome.value);
    else p.reject(deserializeError(outcome.error));
  }

  /** Rejects every pending call with `closedError(call, reason)` and refuses new ones. Idempotent. */
  close(reason: string): void {
    if (this.closedBecause !== undefined) return;
    this.closedBecause = reason;
    for (const id of [...this.pending.keys()]) {
      const p = this.forget(id)!;
      p.reject(this.opts.closedError(p.call, reason));
    }
  }

  private forget(id: number): Pending | undefined {
    const p = this.pending.get(id);
    if (!p) return undefined;
    this.pending.delete(id);
    clearTimeout(p.timer);
    return p;
  }
}
