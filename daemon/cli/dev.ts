/**
 * `heimdall dev [--config F] [--log-level L] [--pretty]`: the daemon as `heimdall start` runs it,
 * for plugin authors: each configured plugin's files are watched, and a plugin whose files change
 * is restarted alone with fresh state (a new worker imports its module afresh; its queue and
 * counters stay), while the other plugins keep running and keep their queues. A change of the
 * config file (or of a rule file under rulesPath) reloads it as `heimdall reload` does: added
 * plugins start, removed ones stop, changed ones restart; an invalid config is refused and logged.
 * SIGTERM or SIGINT stops it as they stop `start`.
 */
import type { Command } from 'commander';
import { runStart, withStartOptions, type StartOptions } from './start.js';

export function registerDev(program: Command): void {
  withStartOptions(program.command('dev').description('Run the daemon like `start`, restarting a plugin with fresh state when its files change (the others keep running and keep their queues) and reloading when the config file changes.'))
    .action(async (opts: StartOptions) => runStart(opts, async (daemon, { logger, config, file }) => {
      const { DevWatcher } = await import('../dev-watch.js');
      const { resolve } = await import('node:path');
      const watcher = new DevWatcher({
        plugins: daemon.internals.plugins,
        reload: (trigger) => daemon.reload(trigger),
        log: logger.child({ component: 'dev' }),
        configFile: file,
        rulesPath: config.rulesPath === undefined ? undefined : resolve(config.baseDir, config.rulesPath),
      });
      watcher.start();
      return () => watcher.close();
    }));
}
