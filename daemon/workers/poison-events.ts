/**
 * Which event took a worker down, decided from what the crash left in flight, so that one event
 * can never crash a plugin over and over (and so mark it failed):
 *
 * - A handler was running: its event did it. It is not delivered again; it goes to quarantine.
 * - No handler was running and exactly one event was next in line (or the task of a batch that
 *   never started failed, and that batch held one event): that event is suspect. It is delivered
 *   once more; if the worker goes down with it again ("twice in a row") it goes to quarantine.
 * - No handler was running and several events were next in line: each of them is suspect, and the
 *   restarted worker gets them one at a time ("careful" dispatch), so the next crash names one.
 * - The worker was terminated because an action kept it busy past its deadline: no event is
 *   blamed; what was in flight is delivered again.
 *
 * Each crash also gets a cause for the crash window (restart.maxRestarts counts distinct causes):
 * the culprit event when one is known, else a token, which is re-attributed to the culprit once a
 * careful dispatch finds it. So one poison event counts as one cause, however many crashes it took.
 */

/** What a crash left in flight (crash-accounting.ts) and why the worker went. */
export interface CrashFacts<T> {
  running: T | undefined;
  unrun: T[];
  failedBatch: T[] | undefined;
  /** The worker was terminated for an action that ran past its deadline. */
  actionTimeout: boolean;
}

export interface Verdict<T> {
  /** The event to quarantine (counted delivered and failed), with the crashes it was blamed for. */
  quarantine?: { event: T; attempts: number };
  /** Suspect events delivered again, with their attempts so far (for the log). */
  suspects: Array<{ event: T; attempts: number }>;
  /** Everything else that was in flight, in order, to put back at the head of the queue. */
  requeue: T[];
  /** The cause of this crash for the crash window. */
  cause: object;
  /** When set, earlier crashes with this cause are now known to be `cause`'s too. */
  reattribute?: object;
}

/** Crashes one event may take down its worker in a row before it is quarantined. */
export const QUARANTINE_AFTER_CRASHES = 2;

export class PoisonTracker<T extends object> {
  private readonly attempts = new Map<T, number>();
  private readonly careful = new Set<T>();
  private carefulCause: object | undefined;

  /** Whether `event` is suspect and must be sent alone. */
  isCareful(event: T | undefined): boolean {
    return event !== undefined && this.careful.size > 0 && this.careful.has(event);
  }

  /** The events of an answered batch were handled: they are no longer suspect. */
  delivered(batch: readonly T[]): void {
    if (this.attempts.size === 0 && this.careful.size === 0) return;
    for (const e of batch) {
      this.attempts.delete(e);
      this.careful.delete(e);
    }
    if (this.careful.size === 0) this.carefulCause = undefined;
  }

  /** Forgets everything (the queue was dropped). */
  reset(): void {
    this.attempts.clear();
    this.careful.clear();
    this.carefulCause = undefined;
  }

  judge(f: CrashFacts<T>): Verdict<T> {
    const all = [...(f.running !== undefined ? [f.running] : []), ...f.unrun];
    if (f.actionTimeout) return { suspects: [], requeue: all, cause: {} };
    if (f.running !== undefined && f.failedBatch === undefined) {
      const attempts = (this.attempts.get(f.running) ?? 0) + 1;
      const reattribute = this.reattributeTo(f.running);
      this.forget(f.running);
      return { quarantine: { event: f.running, attempts }, suspects: [], requeue: f.unrun, cause: f.running, ...reattribute };
    }
    const blamed = f.failedBatch ?? f.unrun;
    if (blamed.length === 0) return { suspects: [], requeue: all, cause: {} };
    if (blamed.length === 1) {
      const event = blamed[0]!;
      const attempts = (this.attempts.get(event) ?? 0) + 1;
      const reattribute = this.reattributeTo(event);
      if (attempts >= QUARANTINE_AFTER_CRASHES) {
        this.forget(event);
        return { quarantine: { event, attempts }, suspects: [], requeue: all.filter((e) => e !== event), cause: event, ...reattribute };
      }
      this.attempts.set(event, attempts);
      this.careful.add(event);
      return { suspects: [{ event, attempts }], requeue: all, cause: event, ...reattribute };
    }
    // Several suspects: each gets an attempt, and they go to the next worker one at a time.
    const cause = {};
    const suspects = blamed.map((event) => {
      const attempts = (this.attempts.get(event) ?? 0) + 1;
      this.attempts.set(event, attempts);
      this.careful.add(event);
      return { event, attempts };
    });
    this.carefulCause ??= cause;
    return { suspects, requeue: all, cause: this.carefulCause };
  }

  private forget(event: T): void {
    this.attempts.delete(event);
    this.careful.delete(event);
  }

  /** A culprit found among careful suspects explains the crash that made them suspect. */
  private reattributeTo(event: T): { reattribute?: object } {
    const from = this.carefulCause;
    if (!from || !this.careful.has(event)) {
      if (this.careful.size === 0) this.carefulCause = undefined;
      return {};
    }
    this.careful.delete(event);
    if (this.careful.size === 0) this.carefulCause = undefined;
    return { reattribute: from };
  }
}
