/**
 * The rules plugin's event subscription after a reload. The router asks each host whether it
 * wants an event type (PluginHost.subscribes), and the host answers from what the plugin declared
 * at init (`info.events`). The rules plugin subscribes to the types its enabled rules name, so a
 * reload that adds a rule on another type must widen it (and one that removes rules may narrow
 * it): the reload action returns the new list and it is put in place of the declared one.
 *
 * A later restart of the worker declares the same list again (init compiles the reloaded slice).
 * When PluginHost grows a method to change a subscription, this is the one place to use it.
 */
import type { PluginHost } from '../workers/plugin-host.js';

/** `events` null: every event type. */
export function setSubscription(host: Pick<PluginHost, 'info'>, events: readonly string[] | null): void {
  const info = host.info;
  if (!info) return;
  if (events === null) delete info.events;
  else info.events = [...events];
}
