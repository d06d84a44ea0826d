/**
 * An event source: turns some activity into events and hands them to the router.
 * `emit` is synchronous: when it returns, the router has taken the events (each plugin's queue
 * has accepted or counted them), so a durable source may then forget them.
 */
import type { DatabaseEvent } from '../../sdk/index.js';
import type { SourceStatus } from '../api.js';

export type Emit = (events: DatabaseEvent[]) => void;

export interface EventSource {
  readonly name: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  status(): SourceStatus;
}
