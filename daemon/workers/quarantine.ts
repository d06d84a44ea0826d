/**
 * The quarantine: events that took their plugin's worker down and are not delivered again by
 * themselves. An event lands here when its handler was running as the worker died, or when the
 * worker died twice in a row with it next in line (before its handler started — e.g. the batch
 * could not be cloned into the worker). In the plugin's counters it is delivered and failed.
 *
 * Bounded by count (limits.quarantine.size) and bytes (limits.quarantine.maxBytes): past either,
 * the oldest entry is evicted and counted. Entries live in memory only, like Bifrost's buffer.
 * `GET /v1/quarantine` lists them (an event that is itself over limits.events is shown as a safe
 * preview), and a retry (`POST /v1/quarantine/{id}/retry`, `heimdall quarantine retry`) takes an
 * entry out and puts its event back at the head of its plugin's queue, as a new receive.
 */
import type { DatabaseEvent } from '../../sdk/index.js';
import { measureValue, safePreview, type EventLimits } from '../router/event-limits.js';

export interface QuarantineEntry {
  id: string;
  plugin: string;
  eventId: string;
  eventType: string;
  /** Why the worker went down, as a sentence. */
  error: string;
  /** Worker crashes this event was blamed for before it was quarantined. */
  attempts: number;
  quarantinedAt: string;
  /** Its size as JSON, bytes. */
  bytes: number;
}

/** An entry as GET /v1/quarantine shows it. */
export interface QuarantineListing extends QuarantineEntry {
  /** The event, or a preview when the event itself is over limits.events. */
  event: unknown;
  /** True when `event` is a preview. */
  preview?: boolean;
}

export interface QuarantineStats {
  size: number;
  capacity: number;
  bytes: number;
  maxBytes: number;
  /** Events quarantined since start. */
  added: number;
  /** Pushed out by newer entries. */
  evicted: number;
  /** Taken out by a retry. */
  retried: number;
}

/** Where a plugin host puts an event it will not deliver again. */
export interface QuarantineSink {
  /** Keeps the event; returns the entry's id. */
  add(plugin: string, event: DatabaseEvent, error: string, attempts: number): string;
}

interface Held {
  entry: QuarantineEntry;
  event: DatabaseEvent;
}

export class Quarantine implements QuarantineSink {
  private readonly held = new Map<string, Held>();
  private nextId = 1;
  private bytes = 0;
  private added = 0;
  private evicted = 0;
  private retried = 0;

  constructor(
    private readonly opts: { size: number; maxBytes: number; eventLimits: EventLimits; now?: () => number },
  ) {}

  add(plugin: string, event: DatabaseEvent, error: string, attempts: number): string {
    // The walk is bounded by bytes (so a cycle ends too); a value past the whole budget counts as all of it.
    const measured = measureValue(event, { maxDepth: Number.MAX_SAFE_INTEGER, maxBytes: this.opts.maxBytes });
    const bytes = measured.ok ? measured.bytes : this.opts.maxBytes;
    const id = `q${this.nextId++}`;
    const entry: QuarantineEntry = {
      id,
      plugin,
      eventId: typeof event?.id === 'string' ? event.id : String(event?.id),
      eventType: typeof event?.type === 'string' ? event.type : String(event?.type),
      error,
      attempts,
      quarantinedAt: new Date((this.opts.now ?? Date.now)()).toISOString(),
      bytes,
    };
    this.held.set(id, { entry, event });
    this.bytes += bytes;
    this.added++;
    // Evict the oldest (Map keeps insertion order) until both bounds hold; the newest always stays.
    for (const [oldId, h] of this.held) {
      if (this.held.size <= this.opts.size && this.bytes <= this.opts.maxBytes) break;
      if (oldId === id) break;
      this.held.delete(oldId);
      this.bytes -= h.entry.bytes;
      this.evicted++;
    }
    return id;
  }

  get size(): number {
    return this.held.size;
  }

  /** Entries, oldest first; only those of `plugin` when given. */
  list(plugin?: string): QuarantineListing[] {
    const out: QuarantineListing[] = [];
    for (const { entry, event } of this.held.values()) {
      if (plugin !== undefined && entry.plugin !== plugin) continue;
      const within = measureValue(event, this.opts.eventLimits).ok;
      out.push({ ...entry, event: within ? event : safePreview(event, this.opts.eventLimits), ...(within ? {} : { preview: true }) });
    }
    return out;
  }

  /** Entries held for `plugin` now. */
  countFor(plugin: string): number {
    let n = 0;
    for (const { entry } of this.held.values()) if (entry.plugin === plugin) n++;
    return n;
  }

  get(id: string): { entry: QuarantineEntry; event: DatabaseEvent } | undefined {
    return this.held.get(id);
  }

  /** Takes an entry out for a retry (the caller has put its event back in a queue). */
  remove(id: string): boolean {
    const h = this.held.get(id);
    if (!h) return false;
    this.held.delete(id);
    this.bytes -= h.entry.bytes;
    this.retried++;
    return true;
  }

  stats(): QuarantineStats {
    return { size: this.held.size, capacity: this.opts.size, bytes: this.bytes, maxBytes: this.opts.maxBytes, added: this.added, evicted: this.evicted, retried: this.retried };
  }
}
