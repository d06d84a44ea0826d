/** What every Bifrost sink implements, and the counters it reports. */
import type { BifrostMessage } from '../bus.js';

export interface SinkStats {
  name: string;
  type: 'file' | 'webhook' | 'log';
  /** Messages handed to the sink after its filters. */
  received: number;
  /** Messages written or delivered. */
  written: number;
  /** Messages lost: write errors, retries exhausted, refused by the endpoint. */
  failed: number;
  /** Messages dropped because the sink's bounded queue was full. */
  dropped: number;
  /** Messages waiting. */
  queued: number;
  /** Failed attempts that were retried (webhook). */
  retries?: number;
  /** Rotations done (file). */
  rotations?: number;
  lastError?: string;
}

export interface Sink {
  readonly name: string;
  /** Never throws and never blocks: a slow or failing destination only costs the sink's own queue. */
  write(m: BifrostMessage): void;
  stats(): SinkStats;
  /** Flushes what it can until `deadline` (epoch ms), then lets go. */
  close(deadline: number): Promise<void>;
}
