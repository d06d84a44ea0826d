/**
 * Where a CLI command finds the daemon, for every command that talks to one: the URL from --url,
 * else $HEIMDALL_URL, else the `server` section (host, port) of the config file — --config, else
 * $HEIMDALL_CONFIG, else ./heimdall.config.yaml — else http://127.0.0.1:8787; the token from
 * --token, else $HEIMDALL_TOKEN, else that config's server.token. The config is read lightly (YAML
 * and `${VAR}` interpolation, no schema), so a remote command does not pay for the validator; a
 * wildcard bind address (0.0.0.0, ::) is reached on the loopback address.
 */
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { interpolate, parseYaml } from '../../config/yaml-doc.js';
import { usageError } from './exit.js';

export const DEFAULT_URL = 'http://127.0.0.1:8787';

type Env = Record<string, string | undefined>;

export interface AddressOptions {
  url?: string | undefined;
  token?: string | undefined;
  /** --config of the command. */
  config?: string | undefined;
}

export interface DaemonAddress {
  url: string;
  token: string | undefined;
  /** Where the URL came from, for messages: `--url`, `$HEIMDALL_URL`, `the config FILE`, `the default`. */
  from: string;
}

/** The config file whose server section names the daemon: --config, $HEIMDALL_CONFIG, ./heimdall.config.yaml (when it exists). */
function configFile(opts: AddressOptions, env: Env, cwd: string): string | undefined {
  const given = opts.config || env['HEIMDALL_CONFIG'] || undefined;
  if (given) {
    const p = resolve(cwd, given);
    if (!existsSync(p)) {
      throw usageError(`The config file ${given} (from ${opts.config ? '--config' : '$HEIMDALL_CONFIG'}) does not exist, so the daemon's address cannot be read from it; fix the path, or pass --url.`);
    }
    return p;
  }
  const local = resolve(cwd, 'heimdall.config.yaml');
  return existsSync(local) ? local : undefined;
}

/** server.host, server.port and server.token of a config file, interpolated; absent keys stay undefined. */
export function readServerSection(file: string, env: Env): { host?: string; port?: unknown; token?: string } {
  const parsed = parseYaml(readFileSync(file, 'utf8'));
  if (parsed.issues.length > 0) throw usageError(`The config file ${file} is not valid YAML (${parsed.issues[0]!.message}), so the daemon's address cannot be read from it; run \`heimdall validate --config ${file}\`, or pass --url.`);
  interpolate(parsed, env);
  const server = (parsed.doc.toJS() as { server?: Record<string, unknown> } | null)?.server;
  if (!server || typeof server !== 'object') return {};
  const out: { host?: string; port?: unknown; token?: string } = {};
  if (typeof server['host'] === 'string' && server['host'] !== '') out.host = server['host'];
  if (server['port'] !== undefined) out.port = typeof server['port'] === 'string' && /^\d+$/.test(server['port']) ? Number(server['port']) : server['port'];
  if (typeof server['token'] === 'string' && server['token'] !== '') out.token = server['token'];
  return out;
}

function urlFor(host: string, port: unknown, file: string): string {
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw usageError(`server.port in ${file} is ${JSON.stringify(port)}, which is not a port a running daemon listens on (0 picks a free one at start-up), so the daemon cannot be found from it; pass --url.`);
  }
  let h = host.trim();
  if (h === '0.0.0.0' || h === '') h = '127.0.0.1';
  else if (h === '::' || h === '[::]') h = '[::1]';
  else if (h.includes(':') && !h.startsWith('[')) h = `[${h}]`;
  return `http://${h}:${port}`;
}

/** The daemon's URL and token for a command, by the order above. */
export function resolveDaemonAddress(opts: AddressOptions, env: Env = process.env, cwd = process.cwd()): DaemonAddress {
  const urlGiven = opts.url || env['HEIMDALL_URL'] || undefined;
  const tokenGiven = opts.token ?? (env['HEIMDALL_TOKEN'] || undefined);
  // the config is only read when something is still missing
  const file = urlGiven && tokenGiven !== undefined ? undefined : configFile(opts, env, cwd);
  const server = file ? readServerSection(file, env) : {};
  const fromConfig = !urlGiven && file !== undefined && (server.host !== undefined || server.port !== undefined);
  const url = urlGiven ?? (fromConfig ? urlFor(server.host ?? '127.0.0.1', server.port ?? 8787, file!) : DEFAULT_URL);
  const from = opts.url ? '--url' : env['HEIMDALL_URL'] ? '$HEIMDALL_URL' : fromConfig ? `the config ${file}` : 'the default';
  const token = tokenGiven ?? server.token;
  return { url, token: token === '' ? undefined : token, from };
}
