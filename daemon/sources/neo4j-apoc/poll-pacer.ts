/**
 * How long the outbox source waits before its next read (source.ts): MIN_POLL_MS after a read that
 * found entries, and against an empty outbox a wait that doubles from MIN_POLL_MS up to
 * pollIntervalMs, so that an idle database costs one read per pollIntervalMs.
 *
 * After a busy spell the doubling waits. A spell is a run of reads that found entries, each within
 * pollIntervalMs of the last; once the outbox comes back empty, reads stay MIN_POLL_MS apart for as
 * long as the spell had lasted, up to BUSY_HOLD_MAX_MS, and only then double. An application that
 * writes steadily does not stop for a moment without a reason: more often its commits are held up
 * in the database (here: 100–400 ms while the disk catches up) and then land together, and a source
 * that had backed off to pollIntervalMs read them up to pollIntervalMs late. A writer that writes
 * now and then makes no spell, and its reads back off as before; the end of a long spell costs at
 * most BUSY_HOLD_MAX_MS of reads MIN_POLL_MS apart.
 */

/** The shortest wait between reads: after a round that found entries, and where the idle backoff starts. */
export const MIN_POLL_MS = 5;
/** Longest the reads stay MIN_POLL_MS apart after a busy spell ends. */
export const BUSY_HOLD_MAX_MS = 500;

export class PollPacer {
  private idleMs: number;
  private spellStart = Number.NEGATIVE_INFINITY;
  private lastFound = Number.NEGATIVE_INFINITY;

  /** `pollIntervalMs`: the longest wait against an empty outbox. */
  constructor(private readonly pollIntervalMs: number) {
    this.idleMs = this.shortest;
  }

  private get shortest(): number {
    return Math.min(MIN_POLL_MS, this.pollIntervalMs);
  }

  /** A read found entries at `now` (ms, any clock that only moves forward); the next empty read starts the backoff afresh. */
  found(now: number): void {
    if (now - this.lastFound > this.pollIntervalMs) this.spellStart = now;
    this.lastFound = now;
    this.idleMs = this.shortest;
  }

  /** The wait after a read at `now` that found nothing, ms. */
  emptyWait(now: number): number {
    const hold = Math.min(BUSY_HOLD_MAX_MS, this.lastFound - this.spellStart);
    if (now - this.lastFound < hold) return this.shortest;
    const wait = this.idleMs;
    this.idleMs = Math.min(this.pollIntervalMs, this.idleMs * 2);
    return wait;
  }

  /** The wait the next empty read would start with (what a read that waits for an ack is given meanwhile), ms. */
  get currentIdleMs(): number {
    return this.idleMs;
  }
}
