/**
 * What a Neo4jApocSource is built with (source.ts; the daemon builds it in ../source-set.ts). See
 * ../README.md "Wiring".
 */
import type { Logger } from 'pino';
import type { Neo4jApocSourceConfig } from '../../../config/types.js';
import type { Database } from '../../db/database.js';
import type { Emit } from '../source.js';
import type { Notify } from './capture-alarm.js';
import type { WatchdogTimer } from './watchdog.js';

export type { Notify };

export interface Neo4jApocSourceOptions {
  /** The daemon's database router (its default database, run() and connectivity watch are used). */
  db: Database;
  /** The `sources[]` entry (defaults applied by the config loader). */
  config: Neo4jApocSourceConfig;
  /** Hands events to the router; synchronous. */
  emit: Emit;
  logger: Logger;
  /** Logical database to capture. Default: db.defaultDatabase. */
  database?: string;
  /**
   * Optional delivery checkpoint, called right after each emit: resolves once the events emitted so far
   * have left every plugin queue (handled, failed or dropped); see settle.ts. With it, entries are
   * deleted only after the plugins have handled their events (at-least-once up to the handlers, across
   * a kill -9) and at most maxBatchesInFlight batches are out at once, so a burst waits in the durable
   * outbox rather than in memory. Without it, entries are deleted as soon as emit returns.
   */
  settled?: () => Promise<void>;
  /**
   * Optional back-pressure: how many more events every consumer can take now (see roomInQueues in
   * settle.ts). A batch is then emitted in chunks that fit, waiting (for `settled`, or 5 ms) while
   * there is no room, so plugin queues smaller than a batch do not drop its events.
   */
  room?: () => number;
  /** Batches emitted but not yet deleted, at most. Default 4. */
  maxBatchesInFlight?: number;
  /** Most entry text (changes + txMeta) one read or one delete takes, unless one entry is larger. Default MAX_BATCH_BYTES (16 MiB). */
  maxBatchBytes?: number;
  /** How long start() waits for the first install (and the trigger to load), ms. Default 15000. */
  startWaitMs?: number;
  /**
   * Publishes a notice on Bifrost (the daemon wires it to its notices): an error when capture was switched off or
   * tampered with, a warning when the source reinstalled it, a success when it is confirmed on again. Default: none
   * (the log lines still say it).
   */
  notify?: Notify;
  /** The watchdog's timers. Default: Node's (tests pass a clock they advance by hand). */
  timer?: WatchdogTimer;
  /** The time for notices and reasons, epoch ms. Default Date.now. */
  now?: () => number;
}
