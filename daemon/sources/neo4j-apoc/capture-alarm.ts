/**
 * What the neo4j-apoc source knows and says about its capture: the epoch it expects, the highest seq
 * it delivered per epoch (for the watchdog and the gap check), and the alarm raised when a watchdog
 * check finds capture switched off or tampered with (watchdog.ts).
 *
 * An alarm is published once when it is raised (a Bifrost error notice and an ERROR line), keeps the
 * source degraded with a reason that says what happened and how capture comes back on, and ends at
 * the first clean check after the fix — the daemon's own reinstall (announced as a warning notice,
 * since changes committed meanwhile were lost) or the operator's `heimdall db install`.
 */
import type { Logger } from 'pino';
import type { CaptureSnapshot, InstallResult } from './outbox-store-types.js';
import { RELAXED_SEQ_FLOOR, TRIGGER_NAME, type Capture, type Ordering } from './outbox-trigger.js';
import { REINSTALL_REPAIRS, type Expectation, type Finding, type FindingKind } from './watchdog.js';

/** Publishes a notice on Bifrost (the daemon wires it to its notices); level as Bifrost's. */
export type Notify = (level: 'info' | 'warning' | 'error' | 'success', title: string, message: string, data?: Record<string, unknown>) => void;

export interface CaptureAlarmOptions {
  database: string;
  ordering: Ordering;
  /** What writes the entries (for the notices' wording). Default 'trigger'. */
  capture?: Capture;
  /** The daemon may put the trigger back (config `install` and `reinstall` both true). */
  reinstall: boolean;
  /** Why it may not: which key is false. */
  noReinstallBecause: string;
  checkIntervalMs: number;
  notify: Notify;
  log: Logger;
  now: () => number;
  /** The reason changed (called before the notice goes out, so whoever reacts to it sees the new state). */
  changed: () => void;
}

/** What the source should do about a check. */
export interface CheckActions {
  /** Install again (the trigger guard's next round). */
  reinstall: boolean;
  /** Move the counter to a new epoch above this seq (ids would repeat otherwise). */
  bumpEpochAbove: number | undefined;
}

/** Epochs whose delivered seqs are remembered (the newest ones). */
const EPOCHS_KEPT = 8;

export class CaptureAlarm {
  /** The epoch the source expects the counter to have. */
  epoch: string | undefined;
  private readonly delivered = new Map<string, number>();
  private alarm: { kinds: Set<FindingKind>; text: string; since: number; reinstalledAt?: number } | undefined;
  /** When the last check found nothing wrong (or the source started). */
  private lastClean: number;

  constructor(private readonly o: CaptureAlarmOptions) {
    this.lastClean = o.now();
  }

  /** The reason while an alarm is raised, else undefined. */
  get reason(): string | undefined {
    if (!this.alarm) return undefined;
    const a = this.alarm;
    const every = `${Math.round(this.o.checkIntervalMs / 100) / 10} s`;
    if (a.reinstalledAt !== undefined) {
      return `${a.text} Heimdall reinstalled it at ${iso(a.reinstalledAt)}; changes committed since ${iso(this.lastClean)} may not have been captured. The next check (every ${every}) confirms capture is on.`;
    }
    const repairable = [...a.kinds].some((k) => REINSTALL_REPAIRS.has(k));
    if (!repairable) return `${a.text} The next check (every ${every}) confirms capture is on.`;
    if (this.o.reinstall) return `${a.text} Heimdall is reinstalling it (reinstall: true).`;
    return `${a.text} Capture is off until someone runs \`heimdall db install\` (this daemon does not reinstall it: ${this.o.noReinstallBecause}).`;
  }

  /** The highest strict seq delivered in any epoch remembered (0: none), so a counter put back continues above it. */
  get highestSeq(): number {
    let max = 0;
    for (const v of this.delivered.values()) if (v > max) max = v;
    return max;
  }

  expectation(): Expectation {
    return { database: this.o.database, ordering: this.o.ordering, epoch: this.epoch, delivered: new Map(this.delivered) };
  }

  /**
   * An entry was read (a redelivered one may be read again): remembers the highest seq per epoch, and
   * logs a gap (strict) when an entry lies more than one above the highest seen in its epoch, i.e. entries were
   * deleted by someone else. Measured against the highest, not the last, so entries seen again say nothing new.
   */
  observe(epoch: string, seqText: string): void {
    const seq = Number(seqText);
    if (seq >= RELAXED_SEQ_FLOOR) return;
    const max = this.delivered.get(epoch);
    this.delivered.delete(epoch); // re-inserted last: the map's order is the order epochs were last seen
    this.delivered.set(epoch, Math.max(seq, max ?? 0));
    while (this.delivered.size > EPOCHS_KEPT) this.delivered.delete(this.delivered.keys().next().value as string);
    if (this.o.ordering === 'strict' && max !== undefined && seq > max + 1) {
      this.o.log.error(`The outbox of the database ${this.o.database} skips from seq ${max} to ${seq}: ${seq - max - 1} transactions' entries were deleted by something other than Heimdall, and their events are lost.`);
    }
  }

  /** "trigger heimdall_outbox" or "listener", as the notices name it. */
  private get captureName(): string {
    return this.o.capture === 'listener' ? 'listener' : `trigger ${TRIGGER_NAME}`;
  }

  /** The trigger guard installed (or updated) the outbox. */
  installed(res: InstallResult): void {
    this.epoch = res.epoch;
    const a = this.alarm;
    if (!a || a.reinstalledAt !== undefined || !res.loaded || ![...a.kinds].some((k) => REINSTALL_REPAIRS.has(k))) return;
    a.reinstalledAt = this.o.now();
    this.o.changed();
    const msg = `Heimdall reinstalled the outbox ${this.captureName} of the database ${this.o.database} (${res.ordering} ordering, ${this.o.capture === 'listener' ? 'listener' : 'trigger'} ${res.trigger}, epoch ${res.epoch}); changes are captured again. Changes committed since ${iso(this.lastClean)} may not have been captured.`;
    this.o.log.warn(msg);
    this.o.notify('warning', 'Change capture reinstalled', msg, this.data({ epoch: res.epoch, trigger: res.trigger }));
  }

  /** The counter was moved to a new epoch by this daemon. */
  bumped(epoch: string): void {
    this.epoch = epoch;
    this.o.log.warn(`Heimdall moved the outbox sequence of the database ${this.o.database} to the new epoch ${epoch}, so event ids do not repeat ids already delivered.`);
  }

  /** The result of a watchdog check (findings and what was read): raises, widens or ends the alarm, and says what to do. */
  checked(found: Finding[], snap: CaptureSnapshot): CheckActions {
    const none: CheckActions = { reinstall: false, bumpEpochAbove: undefined };
    if (this.epoch === undefined && snap.counter) this.epoch = snap.counter.epoch; // install: false, first look
    let findings = found;
    if (this.alarm && [...this.alarm.kinds].some((k) => REINSTALL_REPAIRS.has(k)) && findings.every((f) => f.kind === 'reset')) {
      // Capture was off and is back with a new epoch: someone ran `heimdall db install`. That is the fix, not a new alarm.
      if (snap.counter) this.epoch = snap.counter.epoch;
      findings = [];
    }
    if (findings.length === 0) {
      this.lastClean = this.o.now();
      if (this.alarm) this.end();
      return none;
    }
    const fresh = findings.filter((f) => !this.alarm?.kinds.has(f.kind));
    if (fresh.length > 0) this.raise(fresh);
    const reset = findings.find((f) => f.kind === 'reset');
    if (reset && snap.counter) this.epoch = snap.counter.epoch; // reported once; ids already carry the new epoch
    const backwards = findings.some((f) => f.kind === 'backwards');
    return { reinstall: this.o.reinstall && findings.some((f) => REINSTALL_REPAIRS.has(f.kind)), bumpEpochAbove: backwards ? this.highestSeq : undefined };
  }

  private raise(fresh: Finding[]): void {
    const a = (this.alarm ??= { kinds: new Set(), text: '', since: this.o.now() });
    for (const f of fresh) a.kinds.add(f.kind);
    a.text = [a.text, ...fresh.map((f) => f.message)].filter(Boolean).join(' ');
    delete a.reinstalledAt; // something new went wrong: a reinstall has to happen (again)
    this.o.changed();
    const reason = this.reason!;
    this.o.log.error({ findings: fresh.map((f) => f.kind) }, reason);
    this.o.notify('error', 'Change capture switched off or tampered with', reason, this.data({ findings: fresh.map((f) => f.kind), reinstall: this.o.reinstall }));
  }

  private end(): void {
    const a = this.alarm!;
    this.alarm = undefined;
    this.o.changed();
    const msg = `The neo4j-apoc source confirmed that the outbox ${this.captureName} of the database ${this.o.database} is installed, current and running again (epoch ${this.epoch ?? 'unknown'}).`;
    this.o.log.info(msg);
    if (a.reinstalledAt === undefined) this.o.notify('success', 'Change capture is on again', `${msg} Changes committed between ${iso(a.since)} and ${iso(this.o.now())} may not have been captured.`, this.data({ epoch: this.epoch }));
  }

  private data(extra: Record<string, unknown>): Record<string, unknown> {
    return { source: 'neo4j-apoc', database: this.o.database, ...extra };
  }
}

const iso = (ms: number): string => new Date(ms).toISOString();
