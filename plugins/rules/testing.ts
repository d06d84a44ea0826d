/**
 * Testing rules without the daemon: the rules plugin in the SDK test kit with a manual clock, so
 * windows, cooldowns, debounce and retry delays run as fast as the test moves time. Used by the
 * unit tests and by anyone who wants to check a rules file the same way.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestKit, type TestKit, type TestKitOptions } from '../../sdk/testing.js';
import { ManualClock } from './clock.js';
import { createRulesPlugin, type RulesPlugin, type RulesPluginConfig } from './index.js';
import type { RulesEngine } from './engine.js';

export interface RulesHarness {
  kit: TestKit<RulesPluginConfig>;
  plugin: RulesPlugin;
  clock: ManualClock;
  engine: RulesEngine;
  dir: string;
}

/** A deferred promise, to hold an action open until the test lets it go. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (v: T) => void } {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

/**
 * Starts the rules plugin with `rules` in a fresh temporary folder (dead letters and pause state
 * on disk there unless `config` says otherwise).
 */
export async function startRules(
  rules: unknown[],
  opts: { config?: Partial<RulesPluginConfig>; clock?: ManualClock; fetch?: typeof fetch; dir?: string } & Omit<TestKitOptions<RulesPluginConfig>, 'config'> = {},
): Promise<RulesHarness> {
  const clock = opts.clock ?? new ManualClock();
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'heimdall-rules-'));
  const plugin = createRulesPlugin({ clock, ...(opts.fetch ? { fetch: opts.fetch } : {}) });
  const { config, fetch: _f, clock: _c, dir: _d, ...kitOpts } = opts;
  // the rules plugin runs with write: true and a database in the daemon; an empty one answers no rows
  const kit = createTestKit<RulesPluginConfig>(plugin, { write: true, database: [], ...kitOpts, config: { rules, baseDir: dir, ...config } });
  await kit.init();
  return { kit, plugin, clock, engine: plugin.engine!, dir };
}

/**
 * Advances the clock by `ms` (running the timers that fall due), then, when no timer is left on
 * the clock, waits for the firings still running.
 */
export async function tick(h: RulesHarness, ms: number): Promise<void> {
  await h.clock.advance(ms);
  if (h.clock.pending === 0) await h.engine.settled();
}
