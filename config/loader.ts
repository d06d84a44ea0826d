/**
 * Loads heimdall.config.yaml: YAML → `${VAR}` interpolation → JSON Schema validation with defaults
 * (config/schema.ts is the only place defaults live) → checks the schema cannot express →
 * resolved, deep-frozen HeimdallConfig. Every problem is collected and thrown as one ConfigError.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { isIPv4, isIPv6 } from 'node:net';
import { dirname, resolve } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { checkBoltProxies, fillBoltProxyUpstreams } from './bolt-proxy-checks.js';
import { ConfigError, type ConfigIssue } from './errors.js';
import { issuesFromAjv } from './messages.js';
import { heimdallConfigSchema } from './schema.js';
import type { HeimdallConfig, PluginConfig } from './types.js';
import { formatPath, interpolate, locate, parseYaml, type ParsedYaml, type PathSegment } from './yaml-doc.js';

export { ConfigError, type ConfigIssue } from './errors.js';

type Env = Record<string, string | undefined>;

const ajv = new Ajv2020({ strict: true, allErrors: true, useDefaults: true, verbose: true, discriminator: true });
addFormatsModule.default(ajv);
/** Compiled once, at module load. */
const validateSchema = ajv.compile(heimdallConfigSchema);

/** Reads, validates and freezes the config file. Throws ConfigError listing every problem. */
export function loadConfig(file: string, env: Env = process.env): HeimdallConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError([readIssue(file, err)]);
  }
  return parseConfig(text, { file, env });
}

/** Parses config text. `file` sets configPath/baseDir and names the file in errors. */
export function parseConfig(text: string, opts: { file?: string; env?: Env } = {}): HeimdallConfig {
  const env = opts.env ?? process.env;
  const parsed = parseYaml(text);
  if (parsed.issues.length > 0) throw new ConfigError(parsed.issues, opts.file);

  const interp = interpolate(parsed, env);
  const issues: ConfigIssue[] = [...interp.issues];

  let data: unknown;
  try {
    data = parsed.doc.toJS() ?? {};
  } catch (err) {
    // e.g. an alias bomb: yaml refuses to expand more than 100 aliases.
    const message = `The file could not be read as YAML: ${err instanceof Error ? err.message : String(err)}.`;
    throw new ConfigError([...issues, { path: '', line: 1, column: 1, message, hint: 'Use fewer aliases (*name) or write the values out.' }], opts.file);
  }
  if (typeof data !== 'object' || Array.isArray(data)) {
    issues.push({
      path: '',
      line: 1,
      column: 1,
      message: `The config must be a mapping of keys such as server: and plugins:, but the file holds ${Array.isArray(data) ? 'a list' : 'a single value'}.`,
      hint: 'Start the file with top-level keys, e.g. server:, sources: and plugins:.',
    });
    throw new ConfigError(issues, opts.file);
  }

  let valid = validateSchema(data);
  // A wholly interpolated plain value re-read as a number/boolean where text is wanted (a numeric
  // password, say) goes back to the text it was, and the document is checked again.
  if (!valid && interp.retyped.size > 0) {
    let changed = false;
    for (const err of validateSchema.errors ?? []) {
      if (err.keyword !== 'type' || (err.params as { type?: unknown }).type !== 'string') continue;
      for (const entry of interp.retyped.values()) {
        if (toPointer(entry.segments) === err.instancePath) changed = setAt(data, entry.segments, entry.text) || changed;
      }
    }
    if (changed) valid = validateSchema(data);
  }
  if (!valid) {
    const failed = interp.failed;
    const schemaIssues = issuesFromAjv(validateSchema.errors ?? [], data, parsed).filter(
      (i) => !failed.some((f) => i.path === f || i.path.startsWith(`${f}.`) || i.path.startsWith(`${f}[`)),
    );
    issues.push(...schemaIssues);
  }
  const baseDir = opts.file ? dirname(resolve(opts.file)) : process.cwd();
  issues.push(...crossChecks(data as Record<string, unknown>, parsed, baseDir));

  if (issues.length > 0) throw new ConfigError(sortIssues(issues), opts.file);
  fillBoltProxyUpstreams(data as Record<string, unknown>);

  // $schema (editor support) and x-* (anchor holders) are not part of the config.
  const rest = Object.fromEntries(Object.entries(data as Record<string, unknown>).filter(([k]) => k !== '$schema' && !k.startsWith('x-')));
  const cfg = {
    ...rest,
    ...(opts.file ? { configPath: resolve(opts.file) } : {}),
    baseDir,
  } as HeimdallConfig;
  return deepFreeze(cfg);
}

/** Every default: the config used when no config file exists. */
export function defaultConfig(): HeimdallConfig {
  return parseConfig('', { env: {} });
}

/**
 * The config file to load: `explicit` (--config), else $HEIMDALL_CONFIG, else ./heimdall.config.yaml.
 * Returns an absolute path, or undefined when the default file is absent. An explicit or
 * $HEIMDALL_CONFIG path that does not exist is a ConfigError.
 */
export function findConfigFile(explicit?: string, env: Env = process.env): string | undefined {
  const fromEnv = env['HEIMDALL_CONFIG'] || undefined;
  const given = explicit || fromEnv;
  if (given) {
    if (!existsSync(given)) {
      throw new ConfigError([
        {
          path: '',
          message: `Config file ${given} does not exist; pass --config FILE or unset HEIMDALL_CONFIG.`,
          hint: explicit
            ? 'Check the path given to --config; it is relative to the current folder.'
            : 'HEIMDALL_CONFIG names this file; point it at an existing file or unset it.',
        },
      ]);
    }
    return resolve(given);
  }
  const fallback = resolve('heimdall.config.yaml');
  return existsSync(fallback) ? fallback : undefined;
}

/** Absolute path of a plugin, resolved against the config file's folder. */
export function resolvePluginPath(cfg: Pick<HeimdallConfig, 'baseDir'>, p: string | Pick<PluginConfig, 'path'>): string {
  return resolve(cfg.baseDir, typeof p === 'string' ? p : p.path);
}

/** True for 127.0.0.0/8, ::1 (and ::ffff:127.x.x.x) and localhost. */
export function isLoopbackHost(host: string): boolean {
  let h = host.trim().toLowerCase();
  if (h.startsWith('[') && h.endsWith(']')) h = h.slice(1, -1);
  if (h === 'localhost' || h === 'localhost.') return true;
  if (isIPv4(h)) return h.split('.')[0] === '127';
  if (!isIPv6(h)) return false;
  try {
    const canonical = new URL(`http://[${h}]/`).hostname;
    return canonical === '[::1]' || /^\[::ffff:7f[0-9a-f]{2}:[0-9a-f]{1,4}\]$/.test(canonical);
  } catch {
    return false;
  }
}

/** A copy safe to show in /v1/status and logs: secrets replaced by '***' when set. */
export function redactConfig(cfg: HeimdallConfig): HeimdallConfig {
  const copy = structuredClone(cfg) as { -readonly [K in keyof HeimdallConfig]: HeimdallConfig[K] };
  const mask = (v: string): string => (v ? '***' : v);
  copy.server.token = mask(copy.server.token);
  if (copy.database) {
    copy.database.password = mask(copy.database.password);
    copy.database.uri = redactUri(copy.database.uri);
  }
  if (copy.llm) {
    copy.llm.apiKey = mask(copy.llm.apiKey);
    if (copy.llm.headers) {
      for (const name of Object.keys(copy.llm.headers)) {
        if (/authorization|api[-_]?key|token|secret|cookie|password/i.test(name)) copy.llm.headers[name] = '***';
      }
    }
  }
  return copy;
}

function redactUri(uri: string): string {
  return uri.replace(/^([a-z0-9+.-]+:\/\/[^/:@]*):[^/@]*@/i, '$1:***@');
}

/** Freezes an object graph in place and returns it. */
export function deepFreeze<T>(value: T, seen: WeakSet<object> = new WeakSet()): T {
  if (value === null || typeof value !== 'object' || seen.has(value) || ArrayBuffer.isView(value)) return value;
  seen.add(value);
  for (const key of Reflect.ownKeys(value)) deepFreeze((value as Record<PropertyKey, unknown>)[key], seen);
  return Object.freeze(value);
}

/** Rules the schema cannot express. Defensive about types: runs even when the schema failed. */
function crossChecks(data: Record<string, unknown>, parsed: ParsedYaml, baseDir: string): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const at = (segments: PathSegment[], message: string, hint: string): void => {
    const pos = locate(parsed, segments);
    issues.push({ path: formatPath(segments), line: pos.line, column: pos.column, message, hint });
  };
  const obj = (v: unknown): Record<string, unknown> | undefined =>
    v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;

  const server = obj(data['server']);
  if (server && typeof server['host'] === 'string' && typeof server['token'] === 'string') {
    if (!isLoopbackHost(server['host']) && server['token'].trim() === '') {
      at(
        ['server', 'host'],
        `server.host is ${server['host']}, which is not a loopback address, and server.token is empty: set server.token (or HEIMDALL_TOKEN) or bind to 127.0.0.1.`,
        'Anyone who can reach this address could call every /v1 route; write token: ${HEIMDALL_TOKEN} under server and set HEIMDALL_TOKEN.',
      );
    }
  }

  const sources = Array.isArray(data['sources']) ? data['sources'] : [];
  const seen = new Map<string, number>();
  sources.forEach((s, i) => {
    const type = obj(s)?.['type'];
    if (typeof type !== 'string') return;
    if (type === 'neo4j-apoc' && data['database'] === undefined) {
      at(
        ['sources', i, 'type'],
        `sources[${i}] is a neo4j-apoc source, which reads the database's outbox, but there is no database section.`,
        'Add a database: section with uri, user and password, or remove this source.',
      );
    }
    if ((type === 'http' || type === 'system') && seen.has(type)) {
      at(['sources', i, 'type'], `sources[${i}] repeats the ${type} source already listed as sources[${seen.get(type)}].`, 'Remove one of the two entries.');
    }
    if (!seen.has(type)) seen.set(type, i);
  });
  checkBoltProxies(data, baseDir, at);

  const plugins = Array.isArray(data['plugins']) ? data['plugins'] : [];
  plugins.forEach((p, i) => {
    const restart = obj(obj(p)?.['restart']);
    const backoff = restart?.['backoffMs'];
    const max = restart?.['maxBackoffMs'];
    if (typeof backoff === 'number' && typeof max === 'number' && backoff > max) {
      at(
        ['plugins', i, 'restart', 'backoffMs'],
        `plugins[${i}].restart.backoffMs is ${backoff}, which is larger than restart.maxBackoffMs (${max}).`,
        'Lower backoffMs or raise maxBackoffMs so that the first delay is not above the largest one.',
      );
    }
  });
  return issues;
}

function readIssue(file: string, err: unknown): ConfigIssue {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') {
    return { path: '', message: `Config file ${file} does not exist; pass --config FILE or unset HEIMDALL_CONFIG.` };
  }
  if (code === 'EISDIR' || (existsSync(file) && statSync(file).isDirectory())) {
    return { path: '', message: `Config file ${file} is a folder, not a file.`, hint: `Pass the YAML file itself, e.g. ${file}/heimdall.config.yaml.` };
  }
  if (code === 'EACCES' || code === 'EPERM') {
    return { path: '', message: `Config file ${file} cannot be read: permission denied.`, hint: 'Make it readable by the user that runs heimdall.' };
  }
  return { path: '', message: `Config file ${file} cannot be read: ${(err as Error).message}.` };
}

function sortIssues(issues: ConfigIssue[]): ConfigIssue[] {
  return issues
    .map((issue, i) => ({ issue, i }))
    .sort((a, b) => (a.issue.line ?? 0) - (b.issue.line ?? 0) || (a.issue.column ?? 0) - (b.issue.column ?? 0) || a.i - b.i)
    .map((x) => x.issue);
}

function toPointer(segments: readonly PathSegment[]): string {
  return segments.map((s) => `/${String(s).replace(/~/g, '~0').replace(/\//g, '~1')}`).join('');
}

function setAt(data: unknown, segments: readonly PathSegment[], value: unknown): boolean {
  let cur = data as Record<PropertyKey, unknown> | undefined;
  for (const s of segments.slice(0, -1)) cur = cur?.[s] as Record<PropertyKey, unknown> | undefined;
  const last = segments[segments.length - 1];
  if (!cur || typeof cur !== 'object' || last === undefined) return false;
  cur[last] = value;
  return true;
}
