/**
 * The `system` source: lifecycle events the daemon itself observes — database.started when the
 * database becomes reachable and database.shutdown when it goes away (source 'system'). It listens
 * to the database router's connectivity watch while it runs; without a database it emits nothing.
 */
import { randomUUID } from 'node:crypto';
import type { DatabaseEvent, EventType } from '../../sdk/index.js';
import type { Emit, EventSource, SourceStatus } from './source.js';

export function systemEvent(type: EventType, database: string, metadata: Record<string, unknown> = {}): DatabaseEvent {
  return { id: randomUUID(), type, timestamp: new Date().toISOString(), database, source: 'system', metadata };
}

/** The part of the database router this source watches (daemon/db/database.ts). */
export interface ConnectivityWatch {
  readonly defaultDatabase: string;
  /** Calls `fn` on every change of reachability; returns the unsubscribe function. */
  onConnectivity(fn: (up: boolean, reason: string) => void): () => void;
}

export interface SystemSourceOptions {
  emit: Emit;
  /** The database router, when a database is configured. */
  db?: ConnectivityWatch;
  /** The database URI, carried in each event's metadata. */
  uri?: string;
}

export class SystemSource implements EventSource {
  readonly name = 'system';
  private state: 'starting' | 'running' | 'stopped' = 'starting';
  private emitted = 0;
  private unsubscribe: (() => void) | undefined;

  constructor(private readonly opts: SystemSourceOptions) {}

  async start(): Promise<void> {
    const { db } = this.opts;
    this.unsubscribe?.();
    this.unsubscribe = db?.onConnectivity((up, reason) => {
      if (this.state !== 'running') return;
      this.opts.emit([systemEvent(up ? 'database.started' : 'database.shutdown', db.defaultDatabase, { reason, ...(this.opts.uri ? { uri: this.opts.uri } : {}) })]);
      this.emitted++;
    });
    this.state = 'running';
  }

  async stop(): Promise<void> {
    this.state = 'stopped';
    this.unsubscribe?.();
    this.unsubscribe = undefined;
  }

  status(): SourceStatus {
    return { name: this.name, type: 'system', state: this.state, emitted: this.emitted };
  }
}
