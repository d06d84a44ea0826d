/**
 * Fans events out to plugin queues: each plugin's `events` subscription is applied before
 * enqueueing, and a plugin does not receive events caused by its own writes
 * (metadata.origin.plugin) unless its config sets receiveOwnEvents. The daemon's own queries seen
 * on the wire (a bolt-proxy event whose origin is the daemon itself, `plugin: 'heimdall'`: health
 * checks, outbox reads, schema refreshes) reach only the plugins that set receiveOwnEvents.
 */
import type { DatabaseEvent } from '../../sdk/index.js';

/** What the router needs of a plugin (the plugin host satisfies it). */
export interface QueueTarget {
  /** The plugin's name, compared with metadata.origin.plugin. */
  readonly name: string;
  /** Deliver events caused by this plugin's own writes. */
  readonly receiveOwnEvents: boolean;
  /** Whether the plugin wants events of `type` (its `events` subscription). */
  subscribes(type: string): boolean;
  /** Takes the event into the plugin's queue, or counts it as dropped; never blocks. */
  offer(event: DatabaseEvent): void;
}

export class Router {
  private targets: readonly QueueTarget[] = [];
  routed = 0;

  setTargets(targets: readonly QueueTarget[]): void {
    this.targets = targets;
  }

  /** Routes events in order; a source is never blocked (queues drop by their policy). */
  route(events: readonly DatabaseEvent[]): void {
    const targets = this.targets;
    for (const ev of events) {
      this.routed++;
      const origin = ev.metadata?.origin?.plugin;
      const daemonsOwnQuery = origin === 'heimdall' && ev.source === 'bolt-proxy';
      for (const t of targets) {
        if (!t.subscribes(ev.type)) continue;
        if (origin !== undefined && (origin === t.name || daemonsOwnQuery) && !t.receiveOwnEvents) continue;
        t.offer(ev);
      }
    }
  }
}
