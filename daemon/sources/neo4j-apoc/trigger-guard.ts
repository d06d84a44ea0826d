/**
 * Keeps the outbox trigger in place for the neo4j-apoc source. With `install: true` it installs or
 * updates the outbox at start, after a failed round or a reconnect, and while the trigger is not
 * loaded yet; with `install: false` it only checks that `heimdall db install` did. Until the
 * trigger runs, `ensure` answers why (a `Waiting`) and the source keeps delivering what is already
 * in the outbox.
 *
 * The watchdog (watchdog.ts, driven by the source) clears `ready` when it finds the trigger removed,
 * paused or replaced and the source may reinstall; the next round then installs again, continuing the
 * sequence above what was delivered (`minSeq`), and `onInstalled` tells the source the new epoch.
 */
import type { Logger } from 'pino';
import { explainOutboxError } from './outbox-errors.js';
import type { InstallResult, OutboxStore } from './outbox-store.js';
import { TRIGGER_NAME, type Ordering } from './outbox-trigger.js';

/** Why changes are not captured yet; `degraded`: the source is degraded (not merely still starting). */
export interface Waiting {
  reason: string;
  degraded: boolean;
}

export interface TriggerGuardOptions {
  store: OutboxStore;
  ordering: Ordering;
  /** Install or update the outbox (true), or only check it (false). */
  install: boolean;
  /** How long the first install waits for the trigger to load, ms. */
  startWaitMs: number;
  log: Logger;
  /** The highest strict seq delivered so far: a counter that is missing or lower continues above it. */
  minSeq: () => number;
  /** Every install that succeeded (its epoch is the one the source expects from now on). */
  onInstalled: (res: InstallResult) => void;
}

/** After a failed install, or with install: false and no usable trigger, look again after this long. */
const INSTALL_RETRY_MS = 30_000;
/** While a stored trigger is not loaded yet, look again after this long. */
const LOAD_CHECK_MS = 5000;

export class TriggerGuard {
  /** The trigger is installed, current and loaded. */
  ready = false;
  private nextCheck = 0;
  private warnedOrdering = false;

  constructor(private readonly o: TriggerGuardOptions) {}

  /** Look again at the next round, even if a later check was planned (a restarted Neo4j reloads its triggers). */
  recheck(): void {
    this.nextCheck = 0;
  }

  /** The trigger's state is unknown (a round failed): check it before the next read. */
  invalidate(): void {
    this.ready = false;
    this.nextCheck = 0;
  }

  /** Whether ensure() has anything to do now (the trigger is not known to be ready and a check is due). */
  get due(): boolean {
    return !this.ready && Date.now() >= this.nextCheck;
  }

  /**
   * Installs or checks the trigger when it is not known to be ready and a check is due. Undefined: nothing new
   * to report. Throws when Neo4j cannot be reached (the source then goes degraded and retries with backoff).
   */
  async ensure(first: boolean): Promise<Waiting | undefined> {
    if (!this.due) return undefined;
    return this.o.install ? this.install(first) : this.check();
  }

  private get database(): string {
    return this.o.store.database;
  }

  private async install(first: boolean): Promise<Waiting | undefined> {
    const { ordering, log } = this.o;
    try {
      const minSeq = ordering === 'strict' ? this.o.minSeq() : 0;
      const res = await this.o.store.install({ ordering, minSeq, waitMs: first ? this.o.startWaitMs : 0, log: (line) => log.info(line) });
      this.ready = res.loaded; // before onInstalled: whoever it tells sees the guard's new state
      this.o.onInstalled(res);
      if (!res.loaded) {
        this.nextCheck = Date.now() + LOAD_CHECK_MS;
        return {
          reason: `The outbox trigger is stored but the database ${this.database} has not loaded it yet (APOC loads triggers every apoc.trigger.refresh ms, 60000 by default); changes are captured once it has.`,
          degraded: false,
        };
      }
      const by = this.o.store.capture === 'listener' ? "the listener of Heimdall's Neo4j extension" : 'the APOC trigger';
      if (first || res.trigger !== 'unchanged') log.info(`The neo4j-apoc source captures the changes of the database ${this.database} with ${by} (${ordering} ordering, ${res.trigger}).`);
      return undefined;
    } catch (err) {
      const e = explainOutboxError(err, this.database, 'install the outbox');
      if (e.unreachable) throw err;
      this.nextCheck = Date.now() + INSTALL_RETRY_MS;
      return { reason: `${e.message} Heimdall retries in ${INSTALL_RETRY_MS / 1000} s; entries already in the outbox are still delivered.`, degraded: true };
    }
  }

  private async check(): Promise<Waiting | undefined> {
    await this.o.store.settleCapture((line) => this.o.log.info(line));
    const loaded = await this.o.store.loadedTrigger();
    if (!loaded || loaded.paused) {
      this.ready = false;
      if (!loaded) this.o.store.unsettleCapture(); // capture: auto looks again at what `heimdall db install` put in place
      this.nextCheck = Date.now() + INSTALL_RETRY_MS;
      return {
        reason: `The outbox ${this.o.store.capture === 'listener' ? 'listener' : `trigger ${TRIGGER_NAME}`} is ${loaded ? 'paused' : 'not installed'} in the database ${this.database} and sources[].install is false; run \`heimdall db install${this.o.store.captureChoice === 'auto' ? '' : ` --capture ${this.o.store.captureChoice}`}\`. Changes are not captured until then.`,
        degraded: true,
      };
    }
    if (loaded.ordering !== this.o.ordering && !this.warnedOrdering) {
      this.o.log.warn(`The outbox trigger in the database ${this.database} uses ${loaded.ordering ?? 'an unknown'} ordering but the config asks for ${this.o.ordering}; run \`heimdall db install\` to replace it.`);
    }
    this.warnedOrdering = loaded.ordering !== this.o.ordering;
    this.ready = true;
    return undefined;
  }
}
