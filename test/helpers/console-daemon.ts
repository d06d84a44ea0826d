/**
 * Daemons for the console's browser tests and benchmark: real ones (worker threads, HTTP on
 * loopback) started in this process on a port that survives a restart, with an optional token,
 * and a way to call the admin API with that token.
 */
import { copyFileSync, mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { parseConfig } from '../../config/loader.js';
import { startDaemon, type RunningDaemon } from '../../daemon/daemon.js';
import { fixturePlugin, REPO_ROOT } from './paths.js';

/** A free loopback port (asked of the OS, then released). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => (typeof a === 'object' && a ? resolve(a.port) : reject(new Error('no port'))));
    });
  });
}

export interface ConsoleDaemonOptions {
  port: number;
  token?: string;
  /** The plugins: entries, as YAML list items (each starting with "  - path: "). */
  plugins: string[];
  /** The sources: entries, as YAML list items. Default: the http source. */
  sources?: string[];
  /** More top-level YAML (e.g. rules:, rulesPath: and rulesEngine:, with absolute paths: the config file is taken to be in the repository's root). */
  extra?: string;
}

export async function startConsoleDaemon(o: ConsoleDaemonOptions): Promise<RunningDaemon> {
  const audit = join(mkdtempSync(join(tmpdir(), 'heimdall-console-')), 'audit.jsonl');
  const text = [
    'server:',
    '  host: 127.0.0.1',
    `  port: ${o.port}`,
    ...(o.token ? [`  token: ${JSON.stringify(o.token)}`] : []),
    'sources:',
    ...(o.sources ?? ['  - type: http']),
    'bifrost:',
    '  sinks: []',
    `audit:\n  path: ${JSON.stringify(audit)}`,
    o.extra ?? '',
    'plugins:',
    ...(o.plugins.length > 0 ? o.plugins : ['  []']),
    '',
  ].join('\n');
  // as `heimdall start` loads: a broken rule is kept out and reported, the others run
  const config = parseConfig(text, { file: join(REPO_ROOT, 'test-console.yaml'), env: {}, invalidRules: 'keep' });
  return startDaemon({ config, logger: pino({ level: process.env.HEIMDALL_TEST_LOG ?? 'silent' }) });
}

/** A plugins: entry for a file, with optional YAML lines under it. */
export function plugin(path: string, ...lines: string[]): string {
  return [`  - path: ${JSON.stringify(path)}`, ...lines.map((l) => `    ${l}`)].join('\n');
}

/** `count` copies of the chatter fixture (chatter-1 … chatter-N), each publishing perSecond notifications. */
export function chatterPlugins(count: number, perSecond: number): string[] {
  const dir = mkdtempSync(join(tmpdir(), 'heimdall-chatter-'));
  const out: string[] = [];
  for (let i = 1; i <= count; i++) {
    const file = join(dir, `chatter-${i}.mjs`);
    copyFileSync(fixturePlugin('chatter.mjs'), file);
    out.push(plugin(file, 'config:', `  perSecond: ${perSecond}`));
  }
  return out;
}

/** Calls the admin API of `url` with the token, JSON in and out. */
export async function call<T = unknown>(url: string, path: string, body?: unknown, token?: string): Promise<{ status: number; body: T }> {
  const res = await fetch(`${url}${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...(token ? { authorization: `Bearer ${token}` } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  return { status: res.status, body: (await res.json()) as T };
}
