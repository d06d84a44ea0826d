/**
 * What a plugin host reports about itself: its lifecycle state and the status entry that
 * /v1/status, /v1/plugins, `heimdall status` and the metrics read.
 */
import type { QueueCounters } from '../queue/bounded-queue.js';
import type { OutputStats } from './output-limits.js';

/**
 * starting → running → (restarting → running)* → draining → stopped; `failed` when init fails,
 * the module cannot be found, or it crashes too often. `paused` is a running plugin whose event
 * delivery an operator has held (`heimdall plugins pause`): its events queue up to capacity and
 * are delivered on resume. `disabled` is for entries turned off in the config.
 */
export type PluginState = 'starting' | 'running' | 'paused' | 'restarting' | 'draining' | 'stopped' | 'failed' | 'disabled';

export interface PluginStatus {
  name: string;
  version?: string;
  description?: string;
  path: string;
  state: PluginState;
  /** Why the plugin is failed / not loaded, as a sentence. */
  reason?: string;
  events: string[];
  actions: string[];
  restarts: number;
  write: boolean;
  counters: QueueCounters;
  /** Its events held in quarantine now (GET /v1/quarantine). */
  quarantined?: number;
  /** Log lines and Bifrost messages passed and dropped over its limits. */
  output?: OutputStats;
  /** Its thread kept a core busy and runs at a lower CPU priority (nice 10) until it restarts (busy-thread.ts). */
  lowPriority?: true;
}
