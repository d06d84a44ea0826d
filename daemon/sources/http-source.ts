/**
 * The `http` source: events POSTed to /v1/events (and sent by `heimdall emit`). Each item is
 * checked against the event schema (daemon/router/event-validator.ts), the fields a producer may
 * leave out are filled in, and the valid ones are emitted in input order. While the source is not
 * running (the daemon is starting or stopping) every item is refused with a reason.
 */
import { checkEvent } from '../router/event-validator.js';
import type { Emit, EventSource, SourceStatus } from './source.js';

export interface IngestRejection {
  index: number;
  /** The event id when the item had one. */
  id?: string;
  reason: string;
}

export interface IngestResult {
  accepted: number;
  rejected: IngestRejection[];
  /** Ids of the accepted events in input order (generated when missing). */
  ids: string[];
}

export interface HttpSourceOptions {
  emit: Emit;
  /** Logical database for events that name none (database.database, else neo4j). */
  database: string;
}

export class HttpSource implements EventSource {
  readonly name = 'http';
  private state: 'starting' | 'running' | 'stopped' = 'starting';
  private emitted = 0;

  constructor(private readonly opts: HttpSourceOptions) {}

  async start(): Promise<void> {
    this.state = 'running';
  }

  async stop(): Promise<void> {
    this.state = 'stopped';
  }

  status(): SourceStatus {
    return { name: this.name, type: 'http', state: this.state, emitted: this.emitted };
  }

  /**
   * Validates each item, fills id/timestamp/database/source, and emits the valid ones.
   * `source` names the ingest path in events that do not say (default http).
   */
  ingest(items: readonly unknown[], source = 'http'): IngestResult {
    const defaults = { database: this.opts.database, source };
    const ok = [];
    const okIndexes: number[] = [];
    const rejected: IngestRejection[] = [];
    const ids: string[] = [];
    for (let i = 0; i < items.length; i++) {
      const c = checkEvent(items[i], defaults);
      if (c.ok) {
        ok.push(c.event);
        okIndexes.push(i);
        ids.push(c.event.id);
      } else rejected.push({ index: i, ...(c.id ? { id: c.id } : {}), reason: c.reason });
    }
    if (this.state !== 'running') {
      const why = this.state === 'starting'
        ? 'The daemon is starting and accepts no new events yet; send them again once /readyz answers 200.'
        : 'The daemon is stopping and accepts no new events; send them again once it has restarted.';
      for (const [k, e] of ok.entries()) rejected.push({ index: okIndexes[k]!, id: e.id, reason: why });
      return { accepted: 0, rejected, ids: [] };
    }
    this.opts.emit(ok);
    this.emitted += ok.length;
    return { accepted: ok.length, rejected, ids };
  }
}
