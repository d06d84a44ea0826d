/** Starts a real daemon (real worker threads, real HTTP on a free loopback port) inside the test process. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { parseConfig } from '../../config/loader.js';
import type { Clock } from '../../daemon/bifrost/clock.js';
import { startDaemon, type RunningDaemon } from '../../daemon/daemon.js';
import { REPO_ROOT } from './paths.js';

/** YAML for one plugin entry; `extra` is appended (indented) under it. */
export function pluginYaml(path: string, extra = ''): string {
  const lines = [`  - path: ${JSON.stringify(path)}`];
  for (const l of extra.split('\n').filter(Boolean)) lines.push(`    ${l}`);
  return lines.join('\n');
}

export interface TestDaemonOptions {
  /** false: build everything but do not bind the admin API. */
  listen?: boolean;
  /** server.port; default 0 (a free port). */
  port?: number;
  /** Bifrost's clock (e.g. a FakeClock); default the real time. */
  clock?: Clock;
  /** Environment for ${VAR} interpolation in the config; default none. */
  env?: Record<string, string>;
}

/** A running daemon and the admin API token of its config (when it has one). */
export type TestDaemon = RunningDaemon & { token?: string };

export async function startTestDaemon(pluginsYaml: string[], extraYaml = '', opts: TestDaemonOptions = {}): Promise<TestDaemon> {
  // every test daemon gets its own audit log, outside the repository, unless the test sets one
  const audit = /^audit:/m.test(extraYaml) ? '' : `audit:\n  path: ${JSON.stringify(join(mkdtempSync(join(tmpdir(), 'heimdall-test-')), 'audit.jsonl'))}\n`;
  // extraYaml may continue the server: section, so the audit section goes after it
  const text = `server:\n  port: ${opts.port ?? 0}\n${extraYaml}\n${audit}plugins:\n${pluginsYaml.length ? pluginsYaml.join('\n') : '  []'}\n`;
  const config = parseConfig(text, { file: `${REPO_ROOT}/test-inline.yaml`, env: opts.env ?? {} });
  const logger = pino({ level: process.env.HEIMDALL_TEST_LOG ?? 'silent' });
  const d = await startDaemon({ config, logger, ...(opts.listen === false ? { listen: false } : {}), ...(opts.clock ? { clock: opts.clock } : {}) });
  return config.server.token ? Object.assign(d, { token: config.server.token }) : d;
}

/** Polls until `check` returns true (or throws after `timeoutMs` with `what`). */
export async function waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > end) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}.`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
