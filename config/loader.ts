/**
 * Loads heimdall.config.yaml: YAML → `${VAR}` interpolation → JSON Schema validation with defaults
 * (config/schema.ts is the only place defaults live) → checks the schema cannot express → the
 * rules of `rules:` and the `rulesPath` files (rule-set.ts) → resolved, deep-frozen
 * HeimdallConfig. Every problem is collected and thrown as one ConfigError.
 *
 * Problems inside rules are config errors too, except with `invalidRules: 'keep'` (how
 * `heimdall start` loads): then they are kept in `ruleSet.problems`, and the daemon runs the other
 * rules and reports the broken ones.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { isIPv4, isIPv6 } from 'node:net';
import { dirname, resolve } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { checkBoltProxies, fillBoltProxyUpstreams } from './bolt-proxy-checks.js';
import { ConfigError, type ConfigIssue } from './errors.js';
import { issuesFromAjv } from './messages.js';
import { collectRules } from './rule-set.js';
import { heimdallConfigSchema } from './schema.js';
import { redactUrl } from './redact.js';
import { SecretScrubber, redactTree } from './secret-scrubber.js';
import type { HeimdallConfig, PluginConfig } from './types.js';
import { formatPath, interpolate, locate, parseYaml, type ParsedYaml, type PathSegment } from './yaml-doc.js';

export { ConfigError, type ConfigIssue } from './errors.js';

type Env = Record<string, string | undefined>;

export interface LoadOptions {
  /** 'error' (default): a problem inside a rule is a config error; 'keep': it is kept in ruleSet.problems. */
  invalidRules?: 'error' | 'keep';
}

// allowUnionTypes: a rule's `on` and `match` keys take a string or a list.
const ajv = new Ajv2020({ strict: true, allErrors: true, useDefaults: true, verbose: true, discriminator: true, allowUnionTypes: true });
addFormatsModule.default(ajv);
/** Compiled once, at module load. */
const validateSchema = ajv.compile(heimdallConfigSchema);

/** Reads, validates and freezes the config file. Throws ConfigError listing every problem. */
export function loadConfig(file: string, env: Env = process.env, opts: LoadOptions = {}): HeimdallConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError([readIssue(file, err)]);
  }
  return parseConfig(text, { file, env, ...opts });
}

/** Parses config text. `file` sets configPath/baseDir and names the file in errors. */
export function parseConfig(text: string, opts: { file?: string; env?: Env } & LoadOptions = {}): HeimdallConfig {
  const env = opts.env ?? process.env;
  const parsed = parseYaml(text);
  if (parsed.issues.length > 0) throw new ConfigError(scrubIssues(parsed.issues, undefined), opts.file);

  const interp = interpolate(parsed, env);
  const issues: ConfigIssue[] = [...interp.issues];

  let data: unknown;
  try {
    data = parsed.doc.toJS() ?? {};
  } catch (err) {
    // e.g. an alias bomb: yaml refuses to expand more than 100 aliases.
    const message = `The file could not be read as YAML: ${err instanceof Error ? err.message : String(err)}.`;
    throw new ConfigError(scrubIssues([...issues, { path: '', line: 1, column: 1, message, hint: 'Use fewer aliases (*name) or write the values out.' }], undefined), opts.file);
  }
  if (typeof data !== 'object' || Array.isArray(data)) {
    issues.push({
      path: '',
      line: 1,
      column: 1,
      message: `The config must be a mapping of keys such as server: and plugins:, but the file holds ${Array.isArray(data) ? 'a list' : 'a single value'}.`,
      hint: 'Start the file with top-level keys, e.g. server:, sources: and plugins:.',
    });
    throw new ConfigError(scrubIssues(issues, data), opts.file);
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
    // inside a rule, the rule compiler's sentences below say it better than oneOf branches
    issues.push(...schemaIssues.filter((i) => !i.path.startsWith('rules[')));
  }
  const baseDir = opts.file ? dirname(resolve(opts.file)) : process.cwd();
  issues.push(...crossChecks(data as Record<string, unknown>, parsed, baseDir));
  const { set: ruleSet, fatal } = collectRules({ data: data as Record<string, unknown>, parsed, text, file: opts.file, baseDir, env });
  issues.push(...fatal);
  if (opts.invalidRules !== 'keep') issues.push(...ruleSet.problems);

  if (issues.length > 0) throw new ConfigError(scrubIssues(sortIssues(issues), data), opts.file);
  fillBoltProxyUpstreams(data as Record<string, unknown>);

  // $schema (editor support) and x-* (anchor holders) are not part of the config.
  const rest = Object.fromEntries(Object.entries(data as Record<string, unknown>).filter(([k]) => k !== '$schema' && !k.startsWith('x-')));
  const cfg = {
    ...rest,
    ...(opts.file ? { configPath: resolve(opts.file) } : {}),
    baseDir,
    ruleSet,
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

/** Absolute path of a plugin's `path`, resolved against the config file's folder (a `package` entry has none: see daemon/workers/resolve-module.ts). */
export function resolvePluginPath(cfg: Pick<HeimdallConfig, 'baseDir'>, p: string | Pick<PluginConfig, 'path'>): string {
  return resolve(cfg.baseDir, typeof p === 'string' ? p : (p.path ?? ''));
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

/**
 * A copy safe to show in logs (the effective config at debug): the value of every key that looks
 * secret, at any depth (server.token, database.password, llm.apiKey, a plugin's
 * config.db.password, …), is '***' when set, URLs lose their credentials (database.uri's
 * password, secret query parameters, token-like path segments) and credential headers are '***'.
 * See config/secret-scrubber.ts.
 */
export function redactConfig(cfg: HeimdallConfig): HeimdallConfig {
  return redactTree(cfg);
}

/**
 * Issues with the secrets of the file (`data`, the raw tree, when it was read) and every
 * credential-shaped text replaced by '***': a message may quote a value, such as a database.uri
 * with its password.
 */
function scrubIssues(issues: ConfigIssue[], data: unknown): ConfigIssue[] {
  const scrubber = SecretScrubber.fromConfig(data);
  return issues.map((i) => ({ ...i, message: scrubber.text(i.message), ...(i.hint !== undefined ? { hint: scrubber.text(i.hint) } : {}) }));
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

  const database = obj(data['database']);
  if (database?.['embedded'] === true && typeof database['uri'] === 'string') {
    let host = '';
    try {
      host = new URL(database['uri'].replace(/^[a-z+]+:/, 'http:')).hostname;
    } catch {
      host = '';
    }
    if (!/^bolt:\/\//.test(database['uri']) || !isLoopbackHost(host) || !/:\d+\/?$/.test(database['uri'])) {
      at(
        ['database', 'uri'],
        `database.uri is ${redactUrl(database['uri'])}, but an embedded Neo4j listens on 127.0.0.1 and is reached with bolt://127.0.0.1:PORT.`,
        'Write uri: bolt://127.0.0.1:7687 (or another port) with embedded: true, or drop embedded to use the database at that address.',
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
  const rulesWanted = (Array.isArray(data['rules']) && data['rules'].length > 0) || typeof data['rulesPath'] === 'string';
  plugins.forEach((p, i) => {
    const entry = obj(p);
    if (entry && (entry['path'] === undefined) === (entry['package'] === undefined)) {
      const both = entry['path'] !== undefined;
      at(
        both ? ['plugins', i, 'package'] : ['plugins', i, 'path'],
        both
          ? `plugins[${i}] has both path and package; a plugin is either a module on disk (path) or an npm package (package).`
          : `plugins[${i}] has neither path nor package, so there is no plugin to load.`,
        both ? 'Keep one of the two keys.' : 'Add path: (a module file or folder, relative to this file) or package: (an installed npm package).',
      );
    }
    const path = entry?.['path'];
    if (rulesWanted && typeof path === 'string' && /(^|[\\/])rules([\\/](index\.[cm]?[jt]s)?|\.[cm]?[jt]s)?[\\/]?$/.test(path)) {
      at(
        ['plugins', i, 'path'],
        `plugins[${i}] is a plugin named rules, and the daemon runs its built-in rules plugin for rules: and rulesPath:; two plugins cannot share the name.`,
        'Remove this plugins entry (the rulesEngine: section sets the built-in one\'s queue and limits), or rename the plugin.',
      );
    }
    const restart = obj(entry?.['restart']);
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
  // the config file's own issues first, then each rule file's, each by line
  const fileOf = (i: ConfigIssue): string => (i.file === undefined ? '' : `~${i.file}`);
  return issues
    .map((issue, i) => ({ issue, i }))
    .sort((a, b) => (fileOf(a.issue) < fileOf(b.issue) ? -1 : fileOf(a.issue) > fileOf(b.issue) ? 1 : 0) || (a.issue.line ?? 0) - (b.issue.line ?? 0) || (a.issue.column ?? 0) - (b.issue.column ?? 0) || a.i - b.i)
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
