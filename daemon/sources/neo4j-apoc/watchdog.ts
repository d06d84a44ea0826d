/**
 * The capture watchdog of the neo4j-apoc source: every `checkIntervalMs` (5 s by default) it reads
 * what is in place (OutboxStore.watch: the trigger stored and loaded, the counter, the index and
 * constraint) and compares it with what the source expects (`inspect`, pure):
 *
 *   removed          the trigger is not stored or not loaded (apoc.trigger.drop/remove, `heimdall db uninstall`)
 *   paused           it is paused (apoc.trigger.stop/pause)
 *   replaced         its statement is not the one this build installs for the configured ordering, or it has no internal key
 *   schema           the seq index or the counter's uniqueness constraint is missing
 *   counter-missing  the counter node is gone
 *   reset            the counter's epoch is not the one the source knows (someone reset the sequence or reinstalled)
 *   backwards        the counter is below a seq already delivered in the same epoch (ids would repeat)
 *
 * The source decides what to do about findings (source.ts: a Bifrost error notice, degraded with the
 * reason, a reinstall). The timer is injected so that tests drive the checks instead of waiting.
 * Checks never overlap: the next one is planned when the last has finished.
 */
import type { CaptureSnapshot } from './outbox-store-types.js';
import { COUNTER_CONSTRAINT, SEQ_INDEX, TRIGGER_NAME, captureStatement, orderingOf, type Capture, type Ordering } from './outbox-trigger.js';

/** The timers the watchdog uses; Bifrost's Clock and the tests' FakeClock fit. */
export interface WatchdogTimer {
  setTimeout(fn: () => void, ms: number): unknown;
  clear(handle: unknown): void;
}

/** Node's timers, unref'd (a pending check does not keep the process alive). */
export const systemTimer: WatchdogTimer = {
  setTimeout: (fn, ms) => setTimeout(fn, ms).unref(),
  clear: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

export type FindingKind = 'removed' | 'paused' | 'replaced' | 'schema' | 'counter-missing' | 'reset' | 'backwards';

export interface Finding {
  kind: FindingKind;
  /** What was found and what it means, one or two sentences. */
  message: string;
}

/** What the source expects; `delivered` is the highest strict seq delivered per epoch, copied before the read. */
export interface Expectation {
  database: string;
  ordering: Ordering;
  /** What writes the entries. Default 'trigger'. */
  capture?: Capture;
  /** The epoch the source knows (its install, or the last one it saw); undefined: take what is there. */
  epoch: string | undefined;
  delivered: ReadonlyMap<string, number>;
}

/** Findings that a reinstall repairs. */
export const REINSTALL_REPAIRS: ReadonlySet<FindingKind> = new Set(['removed', 'paused', 'replaced', 'schema', 'counter-missing']);

/** Compares what is in place with what the source expects; no finding: capture is on as configured. */
export function inspect(snap: CaptureSnapshot, exp: Expectation): Finding[] {
  const db = exp.database;
  const out: Finding[] = [];
  const { loaded, stored } = snap;
  const capture = exp.capture ?? 'trigger';
  if (capture === 'listener' && !loaded) {
    out.push({ kind: 'removed', message: `The outbox listener of the database ${db} was uninstalled (heimdall.capture.uninstall, or \`heimdall db uninstall\`), or Neo4j no longer runs Heimdall's extension: changes committed without it are not captured.` });
  } else if (!loaded || stored === undefined) {
    const how = !loaded ? 'the database no longer runs it' : 'it is no longer stored in the system database, so the database drops it at its next trigger refresh';
    out.push({ kind: 'removed', message: `The outbox trigger ${TRIGGER_NAME} of the database ${db} was removed (apoc.trigger.drop or apoc.trigger.remove, or \`heimdall db uninstall\`): ${how}, and changes committed without it are not captured.` });
  } else if (loaded.paused || stored?.paused) {
    out.push({ kind: 'paused', message: `The outbox trigger ${TRIGGER_NAME} of the database ${db} was paused (apoc.trigger.stop or apoc.trigger.pause): changes committed while it is paused are not captured.` });
  }
  const statement = captureStatement(capture, exp.ordering);
  const current = (t: { query: string; keyed: boolean } | null | undefined): boolean => !t || (t.query === statement && t.keyed);
  if (loaded && stored !== undefined && (!current(loaded) || !current(stored))) {
    const other = orderingOf(loaded.query === statement ? (stored?.query ?? statement) : loaded.query);
    const what = other && other !== exp.ordering ? `it uses ${other} ordering and the config asks for ${exp.ordering}` : 'its statement or parameters were changed, or an older Heimdall installed it';
    const name = capture === 'listener' ? 'listener' : `trigger ${TRIGGER_NAME}`;
    out.push({ kind: 'replaced', message: `The outbox ${name} of the database ${db} is not the one this Heimdall installs (${what}): capture may miss changes or refuse Heimdall's own writes.` });
  }
  if (!snap.seqIndex || !snap.counterConstraint) {
    const missing = [!snap.seqIndex ? `the index ${SEQ_INDEX}` : '', !snap.counterConstraint ? `the constraint ${COUNTER_CONSTRAINT}` : ''].filter(Boolean).join(' and ');
    out.push({ kind: 'schema', message: `The outbox of the database ${db} lost ${missing}: reading the outbox gets slow, and without the constraint concurrent writers could create a second counter.` });
  }
  const c = snap.counter;
  if (!c) {
    out.push({ kind: 'counter-missing', message: `The outbox sequence counter (:HeimdallOutboxSeq) of the database ${db} was deleted: the sequence starts again with the next transaction (in a new epoch, so event ids stay unique).` });
    return out;
  }
  if (exp.epoch !== undefined && c.epoch !== exp.epoch) {
    const below = exp.ordering === 'strict' ? highestDelivered(exp.delivered) : undefined;
    const back = below !== undefined && c.value < below ? `, and the counter (${c.value}) is below seq ${below}, which was already delivered` : '';
    out.push({
      kind: 'reset',
      message: `The outbox sequence of the database ${db} was reset or reinstalled by something other than this daemon: its epoch changed from ${exp.epoch} to ${c.epoch}${back}. Event ids carry the new epoch, so none repeats; changes committed while capture was off, if it was, are lost.`,
    });
  } else if (exp.ordering === 'strict') {
    const seen = exp.delivered.get(c.epoch);
    if (seen !== undefined && c.value < seen) {
      out.push({ kind: 'backwards', message: `The outbox sequence counter of the database ${db} moved backwards, to ${c.value}, below seq ${seen} already delivered in epoch ${c.epoch}: tampering or a reset, and the next event ids would repeat ids already delivered.` });
    }
  }
  return out;
}

function highestDelivered(delivered: ReadonlyMap<string, number>): number | undefined {
  let max: number | undefined;
  for (const v of delivered.values()) if (max === undefined || v > max) max = v;
  return max;
}

export interface CaptureWatchdogOptions {
  intervalMs: number;
  timer: WatchdogTimer;
  /** One check: read, inspect and react. Errors are the caller's (a failed read is a failed round elsewhere). */
  check: () => Promise<void>;
}

/** Runs `check` every intervalMs, never two at once, until stopped. */
export class CaptureWatchdog {
  private handle: unknown;
  private running: Promise<void> | undefined;
  private stopped = true;

  constructor(private readonly o: CaptureWatchdogOptions) {}

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.plan();
  }

  /** Stops planning checks and waits for one that is running. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.handle !== undefined) this.o.timer.clear(this.handle);
    this.handle = undefined;
    await this.running;
  }

  /** The check that is running now, if any (tests wait for it). */
  get current(): Promise<void> | undefined {
    return this.running;
  }

  private plan(): void {
    if (this.stopped) return;
    this.handle = this.o.timer.setTimeout(() => {
      this.handle = undefined;
      this.running = this.o
        .check()
        .catch(() => undefined)
        .finally(() => {
          this.running = undefined;
          this.plan();
        });
    }, this.o.intervalMs);
  }
}
