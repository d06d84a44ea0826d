/**
 * Where a remote command finds the daemon: `--url`, else `$HEIMDALL_URL`, else the `server`
 * section of `--config` / `$HEIMDALL_CONFIG` / `./heimdall.config.yaml` (its host and port, and
 * its token when neither `--token` nor `$HEIMDALL_TOKEN` is given), else http://127.0.0.1:8787.
 *
 * The config is read as plain YAML with `${VAR}` and `${VAR:-default}` filled in from the
 * environment, without the schema, so remote commands stay quick; a config that cannot be read
 * is skipped, except one named by --config, which is a usage error.
 */
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parse } from 'yaml';
import { usageError } from './exit.js';

export interface DaemonTarget {
  url?: string;
  token?: string;
}

type Env = Record<string, string | undefined>;

function fill(value: unknown, env: Env): unknown {
  if (typeof value !== 'string') return value;
  return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g, (_m, name: string, def?: string) => env[name] || def || '');
}

/** The base URL and token that a config's server section gives, or undefined when it gives none. */
export function targetFromConfig(file: string, env: Env): DaemonTarget | undefined {
  let doc: unknown;
  try {
    doc = parse(readFileSync(file, 'utf8'));
  } catch {
    return undefined;
  }
  const server = (doc as { server?: Record<string, unknown> } | null)?.server;
  const rawHost = server && typeof server === 'object' ? String(fill(server['host'] ?? '127.0.0.1', env)) : '127.0.0.1';
  const port = Number(fill(server?.['port'] ?? 8787, env));
  if (!Number.isInteger(port) || port <= 0 || port > 65535) return undefined; // port 0: not knowable from the file
  // a wildcard bind is reached on loopback
  const host = rawHost === '' || rawHost === '0.0.0.0' ? '127.0.0.1' : rawHost === '::' || rawHost === '[::]' ? '::1' : rawHost;
  const shown = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
  const token = fill(server?.['token'], env);
  return { url: `http://${shown}:${port}`, ...(typeof token === 'string' && token !== '' ? { token } : {}) };
}

/** Resolves the daemon for a remote command's options. */
export function resolveDaemon(opts: { url?: string; token?: string; config?: string }, env: Env = process.env): DaemonTarget {
  const token = opts.token ?? (env['HEIMDALL_TOKEN'] || undefined);
  const url = opts.url || env['HEIMDALL_URL'] || undefined;
  if (url) return { url, ...(token !== undefined ? { token } : {}) };
  const named = opts.config ?? (env['HEIMDALL_CONFIG'] || undefined);
  if (opts.config !== undefined && !existsSync(opts.config)) {
    throw usageError(`Config file ${opts.config} does not exist; pass the daemon's config with --config FILE, or its address with --url.`);
  }
  const file = named ?? (existsSync(resolve('heimdall.config.yaml')) ? resolve('heimdall.config.yaml') : undefined);
  const fromConfig = file ? targetFromConfig(file, env) : undefined;
  return { ...(fromConfig?.url ? { url: fromConfig.url } : {}), ...(token !== undefined ? { token } : fromConfig?.token ? { token: fromConfig.token } : {}) };
}
