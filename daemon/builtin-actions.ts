/** Built-in actions run in the daemon: heimdall.help (the catalogue) and heimdall.status. */
import type { DaemonStatus } from './http/daemon-api.js';
import type { ActionRegistry } from './invoker/action-registry.js';

export function registerBuiltinActions(registry: ActionRegistry, status: () => DaemonStatus): void {
  registry.registerBuiltin('heimdall.help', {
    description: 'Lists every action Heimdall can run, with its description and parameter schema.',
    params: { type: 'object', properties: { plugin: { type: 'string', description: 'Only the actions of this plugin.' } }, additionalProperties: false },
    run: (params) => {
      const all = registry.list().filter((a) => params.plugin === undefined || a.plugin === params.plugin);
      return {
        success: true,
        message: `${all.length} actions are available: ${all.map((a) => a.name).join(', ')}.`,
        data: { actions: all.map((a) => ({ name: a.name, description: a.description, params: a.params, destructive: a.destructive })) },
      };
    },
  });
  registry.registerBuiltin('heimdall.status', {
    description: 'Reports the daemon, its plugins with their queue counters, its sources, the database and the model.',
    run: () => {
      const s = status();
      const running = s.plugins.filter((p) => p.state === 'running').length;
      return {
        success: true,
        message: `Heimdall is ${s.state}; ${running} of ${s.plugins.length} plugins are running; the database is ${s.database.configured ? (s.database.connected ? 'connected' : 'unreachable') : 'not configured'}.`,
        data: s as unknown as Record<string, unknown>,
      };
    },
  });
}
