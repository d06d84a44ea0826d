/**
 * The `http` source: events POSTed to /v1/events (and sent by `heimdall emit`). Each item is
 * checked against limits.events (depth, size: the reason names the limit) and the event schema
 * (daemon/router/event-validator.ts), the fields a producer may leave out are filled in, and the
 * valid ones are emitted in input order.
 *
 * While the daemon starts, valid events are held in a bounded start-up buffer
 * (limits.events.startupBufferEvents / startupBufferBytes) and emitted, in order, when the source
 * starts — after the plugins are up, so every plugin's subscription is known. Past the buffer (or
 * without one) they are refused with a reason, which the HTTP layer answers with 503
 * HMD_ERR_NOT_READY and Retry-After. Once stopping, every item is refused.
 */
import type { DatabaseEvent } from '../../sdk/index.js';
import type { EventLimits } from '../router/event-limits.js';
import { measureValue } from '../router/event-limits.js';
import { checkEvent } from '../router/event-validator.js';
import { nowIso } from '../../sdk/checks/event.js';
import { FilledText, missingFields, type Missing } from '../router/shared-lines.js';
import type { Emit, EventSource, SourceStatus } from './source.js';

/** The reason given for an item refused because the daemon is starting (the HTTP layer maps it to 503). */
export const STARTING_REASON = 'The daemon is starting and accepts no new events yet; send them again once /readyz answers 200.';

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
  /** limits.events depth and size; default the schema's defaults. */
  limits?: EventLimits;
  /** Events (and bytes) held while the daemon starts; none without. */
  startupBuffer?: { events: number; bytes: number };
}

export class HttpSource implements EventSource {
  readonly name = 'http';
  private state: 'starting' | 'running' | 'stopped' = 'starting';
  private emitted = 0;
  private held: DatabaseEvent[] = [];
  private heldBytes = 0;
  /** Events held during start-up that were dropped because the daemon stopped before running. */
  droppedAtStop = 0;

  constructor(private readonly opts: HttpSourceOptions) {}

  /** Emits what was held during start-up, in order, then takes events directly. */
  async start(): Promise<void> {
    const held = this.held;
    this.held = [];
    this.heldBytes = 0;
    if (held.length > 0) {
      this.opts.emit(held, { measured: true });
      this.emitted += held.length;
    }
    this.state = 'running';
  }

  async stop(): Promise<void> {
    this.droppedAtStop += this.held.length;
    this.held = [];
    this.heldBytes = 0;
    this.state = 'stopped';
  }

  /** Events waiting in the start-up buffer. */
  get holding(): number {
    return this.held.length;
  }

  status(): SourceStatus {
    return {
      name: this.name,
      type: 'http',
      state: this.state,
      emitted: this.emitted,
      ...(this.held.length > 0 || this.droppedAtStop > 0 ? { details: { heldDuringStartup: this.held.length, droppedAtStop: this.droppedAtStop } } : {}),
    };
  }

  /** Holds `ev` in the start-up buffer when it has room. */
  private hold(ev: DatabaseEvent): boolean {
    const b = this.opts.startupBuffer;
    if (!b || this.held.length >= b.events) return false;
    const m = measureValue(ev, { maxDepth: Number.MAX_SAFE_INTEGER, maxBytes: b.bytes - this.heldBytes });
    if (!m.ok) return false;
    this.held.push(ev);
    this.heldBytes += m.bytes;
    return true;
  }

  /**
   * Validates each item, fills id/timestamp/database/source, and emits the valid ones.
   * `source` names the ingest path in events that do not say (default http). `texts[i]`, when
   * given, is the JSON text items[i] was parsed from (an NDJSON line): the accepted events' texts
   * are then shared with the plugins' workers instead of cloned for each (router/shared-lines.ts).
   */
  ingest(items: readonly unknown[], source = 'http', texts?: readonly string[]): IngestResult {
    // one timestamp for the whole call: the items arrived together
    const defaults = { database: this.opts.database, source, timestamp: nowIso() };
    const ok: DatabaseEvent[] = [];
    const okIndexes: number[] = [];
    const rejected: IngestRejection[] = [];
    const ids: string[] = [];
    // each accepted item's line and what the check filled in: the router asks for the text of those it shares
    const okTexts: Array<string | undefined> | undefined = texts && this.state === 'running' ? [] : undefined;
    const okMissing: Array<Missing | undefined> = [];
    for (let i = 0; i < items.length; i++) {
      const item = items[i];
      const missing: Missing | undefined = okTexts && item !== null && typeof item === 'object' ? missingFields(item as Record<string, unknown>) : undefined;
      const c = checkEvent(item, defaults, this.opts.limits);
      if (c.ok) {
        ok.push(c.event);
        okIndexes.push(i);
        ids.push(c.event.id);
        if (okTexts) {
          okTexts.push(texts![i]);
          okMissing.push(missing);
        }
      } else rejected.push({ index: i, ...(c.id ? { id: c.id } : {}), reason: c.reason });
    }
    if (this.state === 'starting') {
      const heldIds: string[] = [];
      for (const [k, e] of ok.entries()) {
        if (this.hold(e)) heldIds.push(e.id);
        else rejected.push({ index: okIndexes[k]!, id: e.id, reason: this.opts.startupBuffer ? `${STARTING_REASON.replace(/\.$/, '')} (the start-up buffer, limits.events.startupBufferEvents/startupBufferBytes, is full).` : STARTING_REASON });
      }
      rejected.sort((a, b) => a.index - b.index);
      return { accepted: heldIds.length, rejected, ids: heldIds };
    }
    if (this.state !== 'running') {
      const why = 'The daemon is stopping and accepts no new events; send them again once it has restarted.';
      for (const [k, e] of ok.entries()) rejected.push({ index: okIndexes[k]!, id: e.id, reason: why });
      return { accepted: 0, rejected, ids: [] };
    }
    if (okTexts) {
      const filled = new FilledText(defaults);
      const textOf = (k: number) => {
        const line = okTexts[k];
        const missing = okMissing[k];
        return line === undefined || missing === undefined ? undefined : filled.splice(line, missing, ok[k]!);
      };
      this.opts.emit(ok, { measured: true, textOf });
    } else this.opts.emit(ok, { measured: true });
    this.emitted += ok.length;
    return { accepted: ok.length, rejected, ids };
  }
}
