/**
 * Confirmations: a plugin (or the remediation executor) asks an operator to approve an action.
 *
 * `request` publishes a `confirmation_request` on Bifrost (id, action, details, who asks, deadline)
 * and resolves with the operator's answer, or `false` at the deadline; a `confirmation_result` is
 * published either way. Answers come from POST /v1/confirmations/{id} (`heimdall approve|deny`).
 * Answering twice or after the deadline is a conflict (409) that says what happened; settled
 * requests are remembered (bounded) so that the conflict can say so.
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { ErrorCode, HeimdallError, type ConfirmationAnswer } from '../../sdk/index.js';
import type { BifrostBus } from './bus.js';
import type { Clock, ClockTimer } from './clock.js';

export type ConfirmationState = 'pending' | 'approved' | 'denied' | 'expired' | 'cancelled';

export interface ConfirmationInfo {
  id: string;
  action: string;
  /** The plugin (or component) that asks. */
  requestedBy: string;
  invocationId?: string;
  details: Record<string, unknown>;
  requestedAt: string;
  deadline: string;
  timeoutMs: number;
  state: ConfirmationState;
  answeredAt?: string;
  reason?: string;
  /** Bifrost id of the confirmation_request message. */
  messageId: number;
}

export interface ConfirmationOptions {
  defaultTimeoutMs: number;
  maxTimeoutMs: number;
  /** Settled confirmations remembered for conflict answers. Default 1000. */
  remember?: number;
  /** Deadlines and answer times run on it. Default: the bus's clock. */
  clock?: Clock;
}

/** The name the daemon's own components (the remediation executor) ask under. */
export const DAEMON_REQUESTER = 'heimdall';

function who(requestedBy: string): string {
  return requestedBy === DAEMON_REQUESTER ? 'Heimdall' : `The plugin ${requestedBy}`;
}

interface Pending {
  info: ConfirmationInfo;
  resolve(v: ConfirmationAnswer): void;
  timer: ClockTimer;
}

export class ConfirmationManager {
  private readonly pending = new Map<string, Pending>();
  private readonly settled = new Map<string, ConfirmationInfo>();
  counts = { requested: 0, approved: 0, denied: 0, expired: 0, cancelled: 0 };
  private readonly clock: Clock;

  constructor(private readonly bus: BifrostBus, private readonly opts: ConfirmationOptions, private readonly log: Logger) {
    this.clock = opts.clock ?? bus.clock;
  }

  private newId(): string {
    for (;;) {
      const id = randomBytes(4).toString('hex');
      if (!this.pending.has(id) && !this.settled.has(id)) return id;
    }
  }

  /** Checks a plugin's timeoutMs: a positive number, at most maxTimeoutMs; default when absent. */
  private timeoutOf(requestedBy: string, action: string, t: unknown): number {
    if (t === undefined || t === null) return this.opts.defaultTimeoutMs;
    if (typeof t !== 'number' || !Number.isFinite(t) || t <= 0) {
      throw new HeimdallError(ErrorCode.HMD_ERR_INVALID_PARAMS, `requestConfirmation("${action}") was called with timeoutMs = ${JSON.stringify(t)}; it must be a positive number of milliseconds.`);
    }
    if (t > this.opts.maxTimeoutMs) {
      this.log.warn(`${requestedBy} asked for a confirmation of "${action}" with a deadline of ${t} ms; it was shortened to bifrost.maxConfirmationTimeoutMs (${this.opts.maxTimeoutMs} ms).`);
      return this.opts.maxTimeoutMs;
    }
    return Math.ceil(t);
  }

  /** Asks; resolves with the answer as a boolean (false at the deadline). */
  request(plugin: string, action: string, opts: { timeoutMs?: number; details?: Record<string, unknown> } = {}, invocationId?: string): Promise<boolean> {
    return this.ask(plugin, action, opts, invocationId, (a) => a.approved);
  }

  /** Asks; resolves with the whole answer: approved or not, how it was settled, the operator's reason. */
  requestAnswer(plugin: string, action: string, opts: { timeoutMs?: number; details?: Record<string, unknown> } = {}, invocationId?: string): Promise<ConfirmationAnswer> {
    return this.ask(plugin, action, opts, invocationId, (a) => a);
  }

  /** Publishes the request; the promise resolves (in the same tick as the settlement) with `pick` of the answer. */
  private ask<T>(plugin: string, action: string, opts: { timeoutMs?: number; details?: Record<string, unknown> }, invocationId: string | undefined, pick: (a: ConfirmationAnswer) => T): Promise<T> {
    if (typeof action !== 'string' || action.trim() === '') {
      return Promise.reject(new HeimdallError(ErrorCode.HMD_ERR_INVALID_PARAMS, 'requestConfirmation was called without an action; pass a short description of what is to be approved.'));
    }
    let timeoutMs: number;
    try {
      timeoutMs = this.timeoutOf(plugin, action, opts.timeoutMs);
    } catch (err) {
      return Promise.reject(err);
    }
    const details = opts.details && typeof opts.details === 'object' && !Array.isArray(opts.details) ? opts.details : {};
    const id = this.newId();
    const now = this.clock.now();
    const deadline = new Date(now + timeoutMs).toISOString();
    this.counts.requested++;
    const m = this.bus.publish({
      kind: 'confirmation_request',
      level: 'warning',
      title: `Approval needed: ${action}`,
      message: `${who(plugin)} asks an operator to approve "${action}". Run \`heimdall approve ${id}\` or \`heimdall deny ${id}\` before ${deadline}; without an answer it is denied.`,
      data: { confirmationId: id, action, details, requestedBy: plugin, ...(invocationId ? { invocationId } : {}), deadline, timeoutMs },
      origin: plugin === DAEMON_REQUESTER ? { kind: 'daemon', ...(invocationId ? { invocationId } : {}) } : { kind: 'plugin', plugin, ...(invocationId ? { invocationId } : {}) },
    });
    const info: ConfirmationInfo = {
      id, action, requestedBy: plugin, ...(invocationId ? { invocationId } : {}), details,
      requestedAt: new Date(now).toISOString(), deadline, timeoutMs, state: 'pending', messageId: m.id,
    };
    return new Promise<T>((resolve) => {
      // Not unref'd: an answer (or the deadline) is owed to whoever waits; stop() cancels what is left.
      const timer = this.clock.setTimeout(() => this.settle(id, 'expired', undefined), timeoutMs);
      this.pending.set(id, { info, resolve: (a) => resolve(pick(a)), timer });
    });
  }

  private settle(id: string, state: Exclude<ConfirmationState, 'pending'>, reason: string | undefined): ConfirmationInfo {
    const p = this.pending.get(id)!;
    this.pending.delete(id);
    this.clock.clear(p.timer);
    const info: ConfirmationInfo = { ...p.info, state, answeredAt: new Date(this.clock.now()).toISOString(), ...(reason ? { reason } : {}) };
    this.remember(info);
    this.counts[state]++;
    const approved = state === 'approved';
    const what =
      state === 'approved' ? 'was approved by an operator'
        : state === 'denied' ? 'was denied by an operator'
          : state === 'expired' ? `was not answered within ${info.timeoutMs} ms and is denied`
            : `was cancelled (${reason ?? 'no reason given'}) and is denied`;
    this.bus.publish({
      kind: 'confirmation_result',
      level: approved ? 'success' : 'warning',
      title: `${approved ? 'Approved' : 'Denied'}: ${info.action}`,
      message: `The request of ${info.requestedBy === DAEMON_REQUESTER ? 'Heimdall' : `the plugin ${info.requestedBy}`} to "${info.action}" (${id}) ${what}${reason && state !== 'cancelled' ? `: ${reason}` : ''}.`,
      data: { confirmationId: id, action: info.action, approved, state, requestedBy: info.requestedBy, ...(reason ? { reason } : {}), ...(info.invocationId ? { invocationId: info.invocationId } : {}) },
      origin: state === 'approved' || state === 'denied' ? { kind: 'operator' } : { kind: 'daemon' },
    });
    p.resolve({ approved, state, id, ...(reason ? { reason } : {}) });
    return info;
  }

  private remember(info: ConfirmationInfo): void {
    this.settled.set(info.id, info);
    const max = this.opts.remember ?? 1000;
    while (this.settled.size > max) this.settled.delete(this.settled.keys().next().value!);
  }

  /** Pending requests, oldest first. */
  list(): ConfirmationInfo[] {
    return [...this.pending.values()].map((p) => ({ ...p.info }));
  }

  get(id: string): ConfirmationInfo | undefined {
    const p = this.pending.get(id);
    if (p) return { ...p.info };
    const s = this.settled.get(id);
    return s ? { ...s } : undefined;
  }

  /**
   * An operator's answer. Throws HMD_ERR_NOT_FOUND for an unknown id and HMD_ERR_CONFLICT when the
   * request was already answered, expired or cancelled.
   */
  answer(id: string, approve: boolean, reason?: string): ConfirmationInfo {
    if (this.pending.has(id)) return this.settle(id, approve ? 'approved' : 'denied', reason);
    const s = this.settled.get(id);
    if (!s) {
      throw new HeimdallError(ErrorCode.HMD_ERR_NOT_FOUND,
        `There is no confirmation request with id ${id}. \`heimdall confirmations\` (GET /v1/confirmations) lists the pending ones; ids do not survive a daemon restart.`,
        { id });
    }
    const when = s.answeredAt ?? s.deadline;
    const why =
      s.state === 'expired' ? `it expired at ${s.deadline} without an answer and was denied`
        : s.state === 'cancelled' ? `it was cancelled at ${when} (${s.reason ?? 'no reason given'}) and was denied`
          : `it was already ${s.state} at ${when}`;
    throw new HeimdallError(ErrorCode.HMD_ERR_CONFLICT,
      `The confirmation request ${id} ("${s.action}" from ${s.requestedBy}) cannot be ${approve ? 'approved' : 'denied'}: ${why}. Nothing was changed.`,
      { confirmation: s });
  }

  /** Denies the pending requests of one plugin (its worker crashed: nobody waits for the answer). */
  cancelFor(requestedBy: string, reason: string): number {
    const ids = [...this.pending.entries()].filter(([, p]) => p.info.requestedBy === requestedBy).map(([id]) => id);
    for (const id of ids) this.settle(id, 'cancelled', reason);
    return ids.length;
  }

  /** Denies every pending request (daemon stopping). */
  cancelAll(reason: string): number {
    const ids = [...this.pending.keys()];
    for (const id of ids) this.settle(id, 'cancelled', reason);
    return ids.length;
  }
}
