/**
 * `heimdall dev`'s watcher: each configured plugin's files (the folder plugins[].path or the
 * package names, with its subfolders, or the one module file it names) are watched with node:fs
 * watch; a change, once the files have been quiet for a short debounce, restarts only that plugin
 * with fresh state (a new worker imports its module afresh; its queue and counters stay, and the
 * other plugins keep running). A change of the config file (or of a rule file under rulesPath)
 * reloads the config as `heimdall reload` does, and the watched plugins follow what it added and
 * removed. node_modules, dot files, editor backups and log files are ignored. Each restart is logged.
 */
import { watch, readdirSync, type FSWatcher } from 'node:fs';
import { basename, dirname, join, relative } from 'node:path';
import type { Logger } from 'pino';
import type { ReloadReport } from './http/rules-api.js';
import type { PluginSet } from './plugin-set.js';
import type { PluginHost } from './workers/plugin-host.js';

/** How long the files must be quiet after a change before the plugin restarts (or the config reloads). */
export const DEV_DEBOUNCE_MS = 100;

export interface DevWatchOptions {
  plugins: Pick<PluginSet, 'watch' | 'filesOf' | 'restartHost'>;
  reload(trigger: string): Promise<ReloadReport>;
  log: Pick<Logger, 'info' | 'warn' | 'error' | 'debug'>;
  /** The config file, when the daemon was started from one. */
  configFile?: string | undefined;
  /** The rule files' folder (rulesPath), when set. */
  rulesPath?: string | undefined;
  debounceMs?: number;
}

/**
 * Names a change to a plugin's files should not restart it for: node_modules, dot files and
 * folders, editor backups and swap files (vim's numbered probe file too), and log files (a
 * `heimdall dev > dev.log` in the plugin's folder would otherwise restart it on every line).
 */
function ignored(name: string): boolean {
  return name.split(/[\\/]/).some((part) => part === 'node_modules' || part.startsWith('.')) || name.endsWith('~') || /\.(swp|swx|tmp|log)$/.test(name) || /^\d+$/.test(basename(name));
}

/** Watches a folder and its subfolders (not node_modules, not dot folders, not through symlinks); `onChange` gets the changed path. */
class FolderWatch {
  private readonly watchers = new Map<string, FSWatcher>();

  constructor(private readonly root: string, private readonly onChange: (path: string) => void, private readonly log: DevWatchOptions['log']) {
    this.add(root);
  }

  private add(dir: string): void {
    if (this.watchers.has(dir)) return;
    let w: FSWatcher;
    try {
      w = watch(dir, (_event, name) => {
        if (name === null) return;
        const rel = relative(this.root, join(dir, name.toString()));
        if (ignored(rel)) return;
        // a new subfolder is watched too
        this.scan(dir);
        this.onChange(join(dir, name.toString()));
      });
    } catch (err) {
      this.log.warn(`heimdall dev cannot watch ${dir}: ${(err as Error).message}; changes there are not seen.`);
      return;
    }
    w.on('error', () => {
      w.close();
      this.watchers.delete(dir);
    });
    this.watchers.set(dir, w);
    this.scan(dir);
  }

  private scan(dir: string): void {
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) if (e.isDirectory() && !ignored(e.name)) this.add(join(dir, e.name));
  }

  close(): void {
    for (const w of this.watchers.values()) w.close();
    this.watchers.clear();
  }
}

/** Watches one file through its folder (editors often save by writing a new file and renaming it). */
class FileWatch {
  private readonly watcher: FSWatcher | undefined;

  constructor(file: string, onChange: (path: string) => void, log: DevWatchOptions['log']) {
    const name = basename(file);
    try {
      this.watcher = watch(dirname(file), (_event, changed) => {
        if (changed !== null && changed.toString() === name) onChange(file);
      });
      this.watcher.on('error', () => this.watcher?.close());
    } catch (err) {
      log.warn(`heimdall dev cannot watch ${file}: ${(err as Error).message}; changes to it are not seen.`);
    }
  }

  close(): void {
    this.watcher?.close();
  }
}

type Watch = FolderWatch | FileWatch;

function watchPath(target: { path: string; folder: boolean }, onChange: (path: string) => void, log: DevWatchOptions['log']): Watch {
  return target.folder ? new FolderWatch(target.path, onChange, log) : new FileWatch(target.path, onChange, log);
}

/** Runs a function once events have stopped coming for `ms`, with the paths they named. */
class Debounce {
  private timer: NodeJS.Timeout | undefined;
  private readonly paths = new Set<string>();

  constructor(private readonly ms: number, private readonly fire: (paths: string[]) => void) {}

  hit(path: string): void {
    this.paths.add(path);
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      const paths = [...this.paths];
      this.paths.clear();
      this.fire(paths);
    }, this.ms);
  }

  cancel(): void {
    clearTimeout(this.timer);
  }
}

export class DevWatcher {
  private readonly perHost = new Map<PluginHost, { key: string; watch: Watch; debounce: Debounce }>();
  private readonly configWatches: Watch[] = [];
  private closed = false;
  private hosts: readonly PluginHost[] = [];
  private readonly ms: number;

  constructor(private readonly o: DevWatchOptions) {
    this.ms = o.debounceMs ?? DEV_DEBOUNCE_MS;
  }

  /** Starts watching; the plugins watched follow every change of the set of plugins. */
  start(): void {
    const reload = new Debounce(this.ms, (paths) => void this.reload(paths));
    if (this.o.configFile) this.configWatches.push(new FileWatch(this.o.configFile, (p) => reload.hit(p), this.o.log));
    if (this.o.rulesPath) this.configWatches.push(new FolderWatch(this.o.rulesPath, (p) => reload.hit(p), this.o.log));
    this.o.plugins.watch((hosts) => this.sync(hosts));
    const n = this.perHost.size;
    this.o.log.info(`heimdall dev is watching the files of ${n} plugin${n === 1 ? '' : 's'}${this.o.configFile ? ` and ${this.o.configFile}` : ''}: a plugin whose files change restarts with fresh state, the others keep running; a change of the config reloads it.`);
  }

  close(): void {
    this.closed = true;
    for (const e of this.perHost.values()) {
      e.watch.close();
      e.debounce.cancel();
    }
    this.perHost.clear();
    for (const w of this.configWatches) w.close();
  }

  private sync(hosts: readonly PluginHost[]): void {
    if (this.closed) return;
    this.hosts = hosts;
    const live = new Set(hosts);
    for (const [h, e] of this.perHost) {
      if (!live.has(h)) {
        e.watch.close();
        e.debounce.cancel();
        this.perHost.delete(h);
      }
    }
    for (const h of hosts) {
      const files = this.o.plugins.filesOf(h);
      const key = files ? `${files.folder ? 'dir' : 'file'}:${files.path}` : '';
      const had = this.perHost.get(h);
      if (had?.key === key) continue;
      had?.watch.close();
      had?.debounce.cancel();
      this.perHost.delete(h);
      if (!files) continue;
      const debounce = new Debounce(this.ms, (paths) => void this.restart(h, paths));
      this.perHost.set(h, { key, watch: watchPath(files, (p) => debounce.hit(p), this.o.log), debounce });
    }
  }

  private async restart(h: PluginHost, paths: string[]): Promise<void> {
    if (this.closed) return;
    const what = paths.length === 1 ? paths[0]! : `${paths.length} of its files (${paths.slice(0, 3).join(', ')}${paths.length > 3 ? ', …' : ''})`;
    try {
      await this.o.plugins.restartHost(h, `${what} changed (heimdall dev)`);
      this.o.log.info({ plugin: h.name, files: paths, restarts: h.restarts }, `The plugin ${h.name} was restarted with fresh state because ${what} changed; its ${h.queue.queued} queued events stayed and the other plugins kept running.`);
    } catch (err) {
      this.o.log.error({ plugin: h.name, files: paths }, `The plugin ${h.name} could not be restarted after ${what} changed, and is failed: ${(err as Error).message.replace(/\.?$/, '.')} Fix it and save again; the next change restarts it.`);
    }
  }

  private async reload(paths: string[]): Promise<void> {
    if (this.closed) return;
    try {
      // the reloader logs what it applied, or why it refused the new config
      await this.o.reload(`heimdall dev: ${paths.map((p) => basename(p)).join(', ')} changed`);
    } catch {
      // refused: logged by the reloader; the running config stays
    }
    // a restarted plugin may now live elsewhere
    this.sync(this.hosts);
  }
}
