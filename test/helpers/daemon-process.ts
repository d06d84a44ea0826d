/**
 * Runs the real `heimdall` binary (dist/daemon/cli/main.js) in child processes for integration
 * tests: `startDaemonProcess` starts a daemon from a YAML text and waits for its listening line;
 * `runCli` runs one CLI command to completion.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseDocument } from 'yaml';
import { CLI } from './paths.js';

/** The message prefix of the daemon's "listening" log line (its `url` field has the base URL). */
export const LISTENING_PREFIX = 'Heimdall is listening on ';

/** One stdout line of the daemon: `json` when it is a JSON log line. */
export interface LogLine {
  raw: string;
  json?: Record<string, unknown>;
}

export interface DaemonProcess {
  /** Base URL of the admin API, from the listening line. */
  url: string;
  /** server.token of the config (interpolated from env), when set. */
  token?: string;
  proc: ChildProcess;
  /** Temporary folder holding the config file. */
  dir: string;
  configFile: string;
  /** Every stdout line so far. */
  lines: LogLine[];
  /** Every stderr chunk so far. */
  stderr: string[];
  /** Resolves with the first line (past or future) that matches; rejects after timeoutMs. */
  waitForLog(predicate: (line: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
  /** Sends `signal` (default SIGTERM) and resolves with the exit code (null when killed by a signal). */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<number | null>;
  /** fetch against the daemon with the bearer token (when set) added. */
  fetch(path: string, init?: RequestInit & { auth?: boolean }): Promise<Response>;
}

export interface StartOptions {
  /** The heimdall.config.yaml text. server.port is forced to 0 unless set. */
  configYaml: string;
  /** Extra environment for the child (HEIMDALL_* of this process are not inherited). */
  env?: Record<string, string>;
  /** Extra arguments after `start --config FILE`. */
  args?: string[];
  /** The command that runs the daemon: `start` (default) or `dev`. */
  command?: 'start' | 'dev';
  /** How long to wait for the listening line. Default 20 s. */
  timeoutMs?: number;
  /**
   * Run the daemon in its own session, as a service runs (so the scheduler does not count the
   * test process's CPU against it, as it does for processes of one session). Default false.
   */
  detached?: boolean;
}

const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const p of live) p.kill('SIGKILL');
});

/** The environment of a child: this one's without HEIMDALL_*, plus `extra`. */
export function childEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('HEIMDALL_')) env[k] = v;
  return { ...env, ...extra };
}

function interpolate(value: string, env: NodeJS.ProcessEnv): string {
  return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g, (_m, name: string, def?: string) => env[name] || def || '');
}

/** Writes the config (with server.port 0 unless given) and returns its path, folder and token. */
export function writeConfig(configYaml: string, env: NodeJS.ProcessEnv): { dir: string; file: string; token?: string } {
  const dir = mkdtempSync(join(tmpdir(), 'heimdall-test-'));
  const doc = parseDocument(configYaml);
  if (doc.errors.length === 0 && !doc.hasIn(['server', 'port'])) doc.setIn(['server', 'port'], 0);
  const file = join(dir, 'heimdall.config.yaml');
  writeFileSync(file, doc.errors.length === 0 ? doc.toString() : configYaml);
  const raw = doc.errors.length === 0 ? doc.getIn(['server', 'token']) : undefined;
  const token = typeof raw === 'string' ? interpolate(raw, env) : undefined;
  return { dir, file, ...(token ? { token } : {}) };
}

export async function startDaemonProcess(opts: StartOptions): Promise<DaemonProcess> {
  const env = childEnv(opts.env);
  const { dir, file, token } = writeConfig(opts.configYaml, env);
  const proc = spawn(process.execPath, [CLI, opts.command ?? 'start', '--config', file, ...(opts.args ?? [])], {
    cwd: dir,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(opts.detached ? { detached: true } : {}),
  });
  live.add(proc);
  const lines: LogLine[] = [];
  const stderr: string[] = [];
  const waiters = new Set<(l: LogLine) => void>();
  let partial = '';
  proc.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    partial += chunk;
    let nl: number;
    while ((nl = partial.indexOf('\n')) !== -1) {
      const raw = partial.slice(0, nl);
      partial = partial.slice(nl + 1);
      let json: Record<string, unknown> | undefined;
      try {
        json = JSON.parse(raw) as Record<string, unknown>;
      } catch {
        json = undefined;
      }
      const line: LogLine = json ? { raw, json } : { raw };
      lines.push(line);
      for (const w of [...waiters]) w(line);
    }
  });
  proc.stderr!.setEncoding('utf8').on('data', (chunk: string) => stderr.push(chunk));
  const exited = new Promise<number | null>((resolve) => {
    proc.on('exit', (code) => {
      live.delete(proc);
      resolve(code);
    });
  });
  let exitCode: number | null | undefined;
  void exited.then((c) => (exitCode = c));

  const output = (): string => `stdout:\n${lines.map((l) => l.raw).join('\n')}\nstderr:\n${stderr.join('')}`;

  const waitForLog = (predicate: (line: LogLine) => boolean, timeoutMs = 10_000): Promise<LogLine> => {
    const found = lines.find(predicate);
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(new Error(`No matching log line within ${timeoutMs} ms.\n${output()}`));
      }, timeoutMs);
      const check = (l: LogLine): void => {
        if (!predicate(l)) return;
        clearTimeout(timer);
        waiters.delete(check);
        resolve(l);
      };
      waiters.add(check);
      void exited.then((code) => {
        if (!waiters.has(check)) return;
        clearTimeout(timer);
        waiters.delete(check);
        reject(new Error(`The daemon exited with code ${code} before the expected log line.\n${output()}`));
      });
    });
  };

  let url: string;
  try {
    const line = await waitForLog((l) => typeof l.json?.['msg'] === 'string' && (l.json['msg'] as string).startsWith(LISTENING_PREFIX), opts.timeoutMs ?? 20_000);
    url = String(line.json!['url']);
  } catch (err) {
    proc.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }

  const stop = async (signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 20_000): Promise<number | null> => {
    if (exitCode === undefined) proc.kill(signal);
    const timeout = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), timeoutMs).unref());
    const code = await Promise.race([exited, timeout]);
    rmSync(dir, { recursive: true, force: true });
    if (code === 'timeout') {
      proc.kill('SIGKILL');
      throw new Error(`The daemon did not exit within ${timeoutMs} ms of ${signal}.\n${output()}`);
    }
    return code;
  };

  const fetchDaemon = (path: string, init: RequestInit & { auth?: boolean } = {}): Promise<Response> => {
    const { auth = true, ...rest } = init;
    const headers = new Headers(rest.headers);
    if (auth && token && !headers.has('authorization')) headers.set('authorization', `Bearer ${token}`);
    return fetch(`${url}${path}`, { ...rest, headers });
  };

  return { url, ...(token ? { token } : {}), proc, dir, configFile: file, lines, stderr, waitForLog, stop, fetch: fetchDaemon };
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `heimdall <args>` to completion (killed after timeoutMs). */
export function runCli(args: string[], opts: { env?: Record<string, string>; input?: string; cwd?: string; timeoutMs?: number } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [CLI, ...args], {
      cwd: opts.cwd ?? tmpdir(),
      env: childEnv(opts.env),
      stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    live.add(proc);
    let stdout = '';
    let stderr = '';
    proc.stdout!.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    proc.stderr!.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    if (opts.input !== undefined) proc.stdin!.end(opts.input);
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`heimdall ${args.join(' ')} did not finish within ${opts.timeoutMs ?? 20_000} ms.\nstdout:\n${stdout}\nstderr:\n${stderr}`));
    }, opts.timeoutMs ?? 20_000);
    proc.on('error', reject);
    proc.on('close', (code) => {
      clearTimeout(timer);
      live.delete(proc);
      resolve({ code, stdout, stderr });
    });
  });
}
