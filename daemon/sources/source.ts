/**
 * An event source: turns some activity into events and hands them to the router.
 * `emit` is synchronous: when it returns, the router has taken the events (each plugin's queue
 * has accepted or counted them), so a durable source may then forget them.
 *
 * Every source (http, system, neo4j-apoc, and the ones to come) is built with its `emit`
 * callback, started and stopped by the daemon in order, and reports its own status.
 */
import type { DatabaseEvent } from '../../sdk/index.js';
import type { LineText } from '../router/shared-lines.js';

export interface EmitOptions {
  /**
   * Every event was measured against limits.events already (the http source does it per item at ingest, to
   * answer each with its reason): the router does not walk them again.
   */
  measured?: boolean;
  /** The JSON text of events[index], where it has one (the http source's NDJSON lines, with the defaults its reader sets; router/shared-lines.ts). */
  textOf?: (index: number) => LineText | undefined;
}

export type Emit = (events: DatabaseEvent[], opts?: EmitOptions) => void;

export interface SourceStatus {
  name: string;
  type: string;
  state: 'starting' | 'running' | 'degraded' | 'stopped' | 'failed';
  reason?: string;
  /** Events this source has handed to the router since the daemon started. */
  emitted: number;
  details?: Record<string, unknown>;
}

export interface EventSource {
  readonly name: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  status(): SourceStatus;
}
