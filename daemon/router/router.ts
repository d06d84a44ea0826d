/**
 * Fans events out to plugin queues: each plugin's `events` subscription is applied before
 * enqueueing, and a plugin does not receive events caused by its own writes
 * (metadata.origin.plugin) unless its config sets receiveOwnEvents.
 */
import type { DatabaseEvent } from '../../sdk/index.js';
import type { PluginHost } from '../workers/plugin-host.js';

export class Router {
  private hosts: PluginHost[] = [];
  routed = 0;

  setHosts(hosts: PluginHost[]): void {
    this.hosts = hosts;
  }

  /** Routes events in order; a source is never blocked (queues drop by their policy). */
  route(events: readonly DatabaseEvent[]): void {
    const hosts = this.hosts;
    for (const ev of events) {
      this.routed++;
      const origin = ev.metadata?.origin?.plugin;
      for (const h of hosts) {
        if (!h.subscribes(ev.type)) continue;
        if (origin !== undefined && origin === h.name && !h.cfg.receiveOwnEvents) continue;
        h.offer(ev);
      }
    }
  }
}
