/**
 * What a plugin host does with what a dead worker left in flight: settles what finished
 * (crash-accounting.ts), lets the poison tracker decide which event took the worker down
 * (poison-events.ts), puts that one in quarantine — counted delivered and failed, logged with the
 * way to retry it — warns about suspects that get one more delivery, and requeues everything else
 * at the head of the queue, in order. The verdict's cause goes to the crash window.
 */
import type { Logger } from 'pino';
import type { DatabaseEvent } from '../../sdk/index.js';
import type { BoundedQueue } from '../queue/bounded-queue.js';
import { settleCrashedBatches, type InFlightBatch } from './crash-accounting.js';
import type { PoisonTracker, Verdict } from './poison-events.js';
import type { QuarantineSink } from './quarantine.js';

export interface CrashTriage {
  inFlight: readonly InFlightBatch<DatabaseEvent>[];
  progress: Float64Array;
  queue: BoundedQueue<DatabaseEvent>;
  poison: PoisonTracker<DatabaseEvent>;
  quarantine: QuarantineSink;
  plugin: string;
  log: Pick<Logger, 'error' | 'warn'>;
  /** Why the worker went, as a sentence. */
  reason: string;
  /** The batch whose own task failed (its events could not be sent), when that is what happened. */
  failedSeq?: number;
  /** The worker was terminated for an action past its deadline: no event is blamed. */
  actionTimeout?: boolean;
  onQuarantined(quarantineId: string, eventId: string): void;
}

export function triageCrash(t: CrashTriage): Verdict<DatabaseEvent> {
  const facts = settleCrashedBatches(t.inFlight, t.progress, t.queue, t.failedSeq);
  const v = t.poison.judge({ ...facts, actionTimeout: t.actionTimeout === true });
  if (v.quarantine) {
    const { event, attempts } = v.quarantine;
    t.queue.settle(1, 1);
    const qid = t.quarantine.add(t.plugin, event, t.reason, attempts);
    t.log.error(
      { eventId: event.id, quarantineId: qid, attempts },
      `The plugin ${t.plugin} lost event ${event.id}: ${t.reason}. It is counted as failed and kept in quarantine as ${qid} instead of being delivered again; \`heimdall quarantine retry ${qid}\` puts it back at the head of the queue.`,
    );
    t.onQuarantined(qid, event.id);
  }
  for (const s of v.suspects) {
    t.log.warn(
      { eventId: s.event.id, attempts: s.attempts },
      `The worker of the plugin ${t.plugin} went down while event ${s.event.id} was next in line (its handler had not started): ${t.reason}. The event is delivered again, alone; if the worker goes down with it again it is quarantined.`,
    );
  }
  if (v.requeue.length > 0) t.queue.requeueFront(v.requeue);
  return v;
}
