/**
 * A real daemon (real workers, real HTTP on a free loopback port) started from a config file on
 * disk, as `heimdall start` loads it (broken rules kept and reported), so that reload has a file
 * to read again; with rule files under rules.d/ beside it, and a webhook receiver for rules.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { loadConfig } from '../../config/loader.js';
import { startDaemon, type RunningDaemon } from '../../daemon/daemon.js';

export interface FileDaemon {
  d: RunningDaemon;
  dir: string;
  file: string;
  /** fetch against the daemon; JSON in, { status, body } out. */
  http(method: string, path: string, body?: unknown): Promise<{ status: number; body: Record<string, any> }>;
  /** Writes the config file (and rule files) again, for a reload. */
  write(configYaml: string, files?: Record<string, string | null>): void;
  stop(): Promise<void>;
}

/** Writes heimdall.config.yaml (server port 0 and an audit log in the folder are added) and rules.d/ files. */
export function writeConfigFiles(dir: string, configYaml: string, files: Record<string, string | null> = {}): string {
  mkdirSync(join(dir, 'rules.d'), { recursive: true });
  for (const [name, text] of Object.entries(files)) {
    if (text === null) rmSync(join(dir, 'rules.d', name), { force: true });
    else writeFileSync(join(dir, 'rules.d', name), text);
  }
  const file = join(dir, 'heimdall.config.yaml');
  const server = /^server:/m.test(configYaml) ? '' : 'server:\n  port: 0\n';
  const audit = /^audit:/m.test(configYaml) ? '' : `audit:\n  path: ${JSON.stringify(join(dir, 'audit.jsonl'))}\n`;
  writeFileSync(file, `${server}${audit}${configYaml}`);
  return file;
}

export async function startFileDaemon(configYaml: string, files: Record<string, string | null> = {}, env: Record<string, string> = {}): Promise<FileDaemon> {
  const dir = mkdtempSync(join(tmpdir(), 'heimdall-rules-daemon-'));
  const file = writeConfigFiles(dir, configYaml, files);
  const config = loadConfig(file, env, { invalidRules: 'keep' });
  const d = await startDaemon({ config, logger: pino({ level: process.env.HEIMDALL_TEST_LOG ?? 'silent' }) });
  return {
    d,
    dir,
    file,
    async http(method, path, body) {
      const res = await fetch(`${d.url}${path}`, { method, ...(body !== undefined ? { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) } : {}) });
      return { status: res.status, body: (await res.json()) as Record<string, any> };
    },
    write: (yaml, f) => void writeConfigFiles(dir, yaml, f),
    stop: () => d.stop(),
  };
}

/** A webhook receiver on a free loopback port: answers 500 while `failing`, else 200; `hold` keeps answers back until released. */
export interface Hook {
  url: string;
  hits: Array<{ at: number; body: unknown; headers: IncomingMessage['headers'] }>;
  failing: boolean;
  /** While set, requests wait; `release()` answers them. */
  hold: boolean;
  release(): void;
  close(): Promise<void>;
}

export async function webhook(opts: { failing?: boolean; hold?: boolean } = {}): Promise<Hook> {
  const waiting: Array<() => void> = [];
  const hook: Hook = {
    url: '',
    hits: [],
    failing: opts.failing ?? false,
    hold: opts.hold ?? false,
    release() {
      hook.hold = false;
      for (const w of waiting.splice(0)) w();
    },
    close: () => {
      for (const w of waiting.splice(0)) w();
      server.closeAllConnections();
      return new Promise((r) => server.close(() => r()));
    },
  };
  const server: Server = createServer((req, res) => {
    let data = '';
    req.on('data', (c: Buffer) => (data += c.toString()));
    req.on('end', () => {
      hook.hits.push({ at: performance.now(), headers: req.headers, body: data ? JSON.parse(data) : undefined });
      const answer = (): void => {
        if (hook.failing) res.writeHead(500, { 'content-type': 'text/plain' }).end('down for maintenance');
        else res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
      };
      if (hook.hold) waiting.push(answer);
      else answer();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  hook.url = `http://127.0.0.1:${(server.address() as { port: number }).port}/hook`;
  server.unref();
  return hook;
}

/** A TCP port that was free a moment ago (for configs that must name one). */
export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}
