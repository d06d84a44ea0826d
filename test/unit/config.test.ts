import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  ConfigError,
  defaultConfig,
  findConfigFile,
  isLoopbackHost,
  loadConfig,
  parseConfig,
  redactConfig,
  resolvePluginPath,
} from '../../config/loader.js';
import { heimdallConfigSchema } from '../../config/schema.js';
import type { HeimdallConfig, LlmConfig, PluginConfig, WhenFull } from '../../config/types.js';
import { validateConfigFile } from '../../config/validate.js';

// Compiled to dist/test/unit/; the fixtures stay in the source tree.
const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '../../../test/fixtures/config');

/** Parses `text` expecting a ConfigError, and returns it. */
function failing(text: string, env: Record<string, string | undefined> = {}, file?: string): ConfigError {
  try {
    parseConfig(text, { env, file });
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
    assert.equal(err.code, 'HMD_ERR_CONFIG');
    return err;
  }
  assert.fail('expected parseConfig to throw a ConfigError');
}

function issueAt(err: ConfigError, path: string) {
  const issue = err.errors.find((e) => e.path === path);
  assert.ok(issue, `no issue at ${path}; got ${err.errors.map((e) => e.path).join(', ')}`);
  return issue;
}

describe('config defaults', () => {
  it('fills every default from the schema for an empty document', () => {
    const cfg = defaultConfig();
    assert.deepEqual(cfg.server, { host: '127.0.0.1', port: 8787, token: '', bodyLimitBytes: 10485760 });
    assert.deepEqual(cfg.log, { level: 'info', pretty: false });
    assert.deepEqual(cfg.sources, [{ type: 'http' }, { type: 'system' }]);
    assert.deepEqual(cfg.plugins, []);
    assert.deepEqual(cfg.actions, { timeoutMs: 30000 });
    assert.deepEqual(cfg.drops, { logIntervalMs: 10000 });
    assert.deepEqual(cfg.shutdown, { drainTimeoutMs: 10000 });
    assert.deepEqual(cfg.remediation, { mode: 'auto', allowSchema: false, autoApproveDestructive: false, allowProcedures: [], allowFunctions: [], guardTrigger: true, guardEngine: 'auto', sampleSize: 10 });
    assert.deepEqual(cfg.audit, { path: '.heimdall/audit.jsonl', graph: false });
    assert.equal(cfg.bifrost.bufferSize, 1000);
    assert.equal(cfg.database, undefined);
    assert.equal(cfg.llm, undefined);
    assert.equal(cfg.configPath, undefined);
    assert.equal(cfg.baseDir, process.cwd());
  });

  it('fills nested defaults of plugins, sources, database and llm', () => {
    const cfg = parseConfig(
      'database: {}\nsources:\n  - type: neo4j-apoc\nllm:\n  model: m\nplugins:\n  - path: plugins/a\n',
      { env: {} },
    );
    const p = cfg.plugins[0]!;
    assert.equal(p.enabled, true);
    assert.deepEqual(p.config, {});
    assert.deepEqual(p.queue, { capacity: 1024, whenFull: 'drop_newest', batchSize: 256 });
    assert.equal(p.write, false);
    assert.equal(p.receiveOwnEvents, false);
    assert.equal(p.handlerTimeoutMs, 30000);
    assert.equal(p.initTimeoutMs, 10000);
    assert.deepEqual(p.resourceLimits, {});
    assert.deepEqual(p.restart, { maxRestarts: 5, windowMs: 60000, backoffMs: 100, maxBackoffMs: 10000 });
    assert.equal(p.remediation, undefined);
    assert.deepEqual(cfg.sources, [{ type: 'neo4j-apoc', pollIntervalMs: 100, batchSize: 1000, backlogWarning: 10000, ordering: 'relaxed', capture: 'auto', install: true, checkIntervalMs: 5000, reinstall: true }]);
    assert.deepEqual(cfg.database, {
      uri: 'bolt://127.0.0.1:7687', user: 'neo4j', password: '', database: 'neo4j', queryTimeoutMs: 30000, connectTimeoutMs: 5000,
    });
    assert.equal(cfg.llm?.baseURL, 'https://api.openai.com/v1');
    assert.equal(cfg.llm?.toolMode, 'auto');
    assert.equal(cfg.llm?.maxSteps, 6);
  });

  it('accepts a top-level $schema for editors and leaves it out of the result', () => {
    const cfg = parseConfig('$schema: ./heimdall.schema.json\n', { env: {} });
    assert.equal('$schema' in cfg, false);
  });

  it('supports anchors and merge keys, with top-level x-* keys to hold them', () => {
    const text = 'x-common: &common\n  write: true\n  queue: { capacity: 5 }\nplugins:\n  - path: a\n    <<: *common\n  - path: b\n';
    const cfg = parseConfig(text, { env: {} });
    assert.equal('x-common' in cfg, false);
    assert.equal(cfg.plugins[0]!.write, true);
    assert.equal(cfg.plugins[0]!.queue.capacity, 5);
    assert.equal(cfg.plugins[0]!.queue.whenFull, 'drop_newest');
    assert.equal(cfg.plugins[1]!.write, false);
  });
});

describe('config interpolation', () => {
  it('substitutes a set variable, and the default when the variable is unset or empty', () => {
    const text = 'server:\n  token: ${TOK}\n  host: ${HOST:-localhost}\ndatabase:\n  user: ${U:-neo4j}\n';
    assert.equal(parseConfig(text, { env: { TOK: 's3cret' } }).server.token, 's3cret');
    assert.equal(parseConfig(text, { env: { TOK: 'x' } }).server.host, 'localhost');
    assert.equal(parseConfig(text, { env: { TOK: 'x', U: '' } }).database?.user, 'neo4j');
    assert.equal(parseConfig(text, { env: { TOK: 'x', U: 'admin' } }).database?.user, 'admin');
  });

  it('refuses an unset variable without default, naming the variable, the path and the line', () => {
    const err = failing('server:\n  port: 8787\ndatabase:\n  password: ${NEO4J_PASSWORD}\n');
    assert.equal(err.errors.length, 1, err.format());
    const issue = issueAt(err, 'database.password');
    assert.equal(issue.line, 4);
    assert.match(issue.message, /NEO4J_PASSWORD/);
    assert.match(issue.message, /database\.password/);
    assert.match(issue.hint ?? '', /\$\{NEO4J_PASSWORD:-/);
  });

  it('treats $${ as a literal ${', () => {
    const cfg = parseConfig('plugins:\n  - path: a\n    config:\n      template: "cost: $${AMOUNT} and ${X:-y}"\n', { env: {} });
    assert.equal(cfg.plugins[0]!.config['template'], 'cost: ${AMOUNT} and y');
  });

  it('re-reads a plain scalar that was wholly an interpolation as a number or boolean', () => {
    const text = 'server:\n  port: ${PORT:-8787}\nplugins:\n  - path: a\n    enabled: ${ON:-true}\n    config: { n: 1 }\n';
    const cfg = parseConfig(text, { env: { ON: 'false' } });
    assert.equal(cfg.server.port, 8787);
    assert.equal(cfg.plugins[0]!.enabled, false);
    assert.equal(parseConfig(text, { env: { PORT: '9000' } }).server.port, 9000);
  });

  it('keeps a quoted interpolation a string', () => {
    const cfg = parseConfig('plugins:\n  - path: a\n    config:\n      quoted: "${N}"\n      plain: ${N}\n      mixed: x${N}\n', { env: { N: '42' } });
    assert.deepEqual(cfg.plugins[0]!.config, { quoted: '42', plain: 42, mixed: 'x42' });
    const err = failing('server:\n  port: "${PORT}"\n', { PORT: '8787' });
    const issue = issueAt(err, 'server.port');
    assert.equal(issue.line, 2);
    assert.match(issue.hint ?? '', /Remove the quotes/);
  });

  it('keeps a numeric secret a string where the schema wants text, and never lets a value break the YAML', () => {
    const text = 'server:\n  token: ${TOKEN}\ndatabase:\n  password: ${PW}\n';
    const cfg = parseConfig(text, { env: { TOKEN: '123456', PW: 'a: b # not a comment' } });
    assert.equal(cfg.server.token, '123456');
    assert.equal(cfg.database?.password, 'a: b # not a comment');
  });
});

describe('config validation errors', () => {
  it('names an unknown key with its line, the allowed keys and the closest one', () => {
    const err = failing('server:\n  host: 127.0.0.1\n  prot: 8080\n');
    const issue = issueAt(err, 'server.prot');
    assert.equal(issue.line, 3);
    assert.equal(issue.column, 3);
    assert.match(issue.message, /Unknown key 'prot' in server/);
    assert.match(issue.message, /host, port, token, bodyLimitBytes/);
    assert.match(issue.hint ?? '', /Did you mean 'port'\?/);
  });

  it('suggests the closest top-level key', () => {
    const issue = issueAt(failing('plugin: []\n'), 'plugin');
    assert.equal(issue.line, 1);
    assert.match(issue.hint ?? '', /'plugins'/);
  });

  it('reports a wrong enum at plugins[0].queue.whenFull on its own line', () => {
    const text = ['plugins:', '  - path: plugins/security', '    queue:', '      capacity: 10', '      whenFull: drop_all', ''].join('\n');
    const issue = issueAt(failing(text), 'plugins[0].queue.whenFull');
    assert.equal(issue.line, 5);
    assert.equal(issue.message, "plugins[0].queue.whenFull must be one of drop_newest, drop_oldest; got 'drop_all'.");
    assert.equal(issue.hint, 'Set it to drop_newest (the default) or drop_oldest.');
  });

  it('reports every error at once, sorted by line', () => {
    const text = [
      'server:',
      '  port: 70000', // 2
      'sources:',
      '  - type: kafka', // 4
      'plugins:',
      '  - queue: { capacity: 0 }', // 6: path missing, capacity too small
      'llm:', // 7: model missing
      '  baseURL: https://example.test/v1',
      '',
    ].join('\n');
    const err = failing(text);
    const paths = err.errors.map((e) => e.path);
    assert.deepEqual(
      new Set(paths),
      new Set(['server.port', 'sources[0].type', 'plugins[0].path', 'plugins[0].queue.capacity', 'llm.model']),
    );
    assert.equal(issueAt(err, 'server.port').message, 'server.port must be at most 65535; got 70000.');
    assert.equal(issueAt(err, 'sources[0].type').line, 4);
    assert.equal(issueAt(err, 'plugins[0].path').line, 6);
    assert.equal(issueAt(err, 'llm.model').line, 7);
    const lines = err.errors.map((e) => e.line ?? 0);
    assert.deepEqual(lines, [...lines].sort((a, b) => a - b));
  });

  it('gives the line and column of a YAML syntax error', () => {
    const err = failing('server:\n  host: "127.0.0.1\n  port: 8787\n');
    assert.ok(err.errors.length >= 1);
    assert.equal(err.errors[0]!.line, 2);
    assert.equal(err.errors[0]!.column, 9);
    assert.match(err.errors[0]!.message, /not valid YAML: the quoted value that starts here is never closed/);
    const tab = failing('server:\n  host: 127.0.0.1\nplugins:\n\t- path: a\n');
    assert.equal(tab.errors[0]!.line, 4);
    assert.match(tab.errors[0]!.message, /Tabs are not allowed/);
  });

  it('formats issues as file:line:col path: message (hint)', () => {
    const err = failing('log:\n  level: loud\n', {}, 'heimdall.config.yaml');
    assert.equal(
      err.format(),
      "heimdall.config.yaml:2:3 log.level: log.level must be one of trace, debug, info, warn, error, fatal; got 'loud'. (Set it to trace, debug, info (the default), warn, error or fatal.)",
    );
    assert.ok(err.message.includes(err.format()));
  });
});

describe('config server binding', () => {
  it('refuses a non-loopback host without a token', () => {
    const issue = issueAt(failing('server:\n  host: 0.0.0.0\n'), 'server.host');
    assert.equal(issue.line, 2);
    assert.equal(
      issue.message,
      'server.host is 0.0.0.0, which is not a loopback address, and server.token is empty: set server.token (or HEIMDALL_TOKEN) or bind to 127.0.0.1.',
    );
  });

  it('accepts a non-loopback host with a token, and loopback hosts without one', () => {
    const cfg = parseConfig('server:\n  host: 0.0.0.0\n  token: ${HEIMDALL_TOKEN}\n', { env: { HEIMDALL_TOKEN: 't0k' } });
    assert.equal(cfg.server.host, '0.0.0.0');
    assert.equal(parseConfig('server: { host: "::1" }\n', { env: {} }).server.host, '::1');
    assert.equal(parseConfig('server: { host: localhost }\n', { env: {} }).server.host, 'localhost');
  });

  it('knows which hosts are loopback', () => {
    for (const h of ['127.0.0.1', '127.8.9.10', '::1', '[::1]', 'localhost', 'LocalHost', '0:0:0:0:0:0:0:1']) assert.equal(isLoopbackHost(h), true, h);
    for (const h of ['0.0.0.0', '::', '10.0.0.1', '128.0.0.1', 'example.com', '']) assert.equal(isLoopbackHost(h), false, h);
  });
});

describe('config result', () => {
  it('is deep-frozen', () => {
    const cfg = parseConfig('plugins:\n  - path: a\n    config: { list: [1, 2] }\n', { env: {} });
    assert.ok(Object.isFrozen(cfg));
    assert.ok(Object.isFrozen(cfg.server));
    assert.ok(Object.isFrozen(cfg.plugins[0]!.queue));
    assert.ok(Object.isFrozen(cfg.plugins[0]!.config['list']));
    assert.throws(() => {
      (cfg.server as { port: number }).port = 1;
    }, TypeError);
  });

  it('redacts secrets in a copy', () => {
    const cfg = parseConfig(
      'server: { token: t }\ndatabase: { password: p, uri: "bolt://neo4j:pw@db:7687" }\nllm: { model: m, apiKey: k, headers: { Authorization: Bearer x, X-Team: a } }\n',
      { env: {} },
    );
    const red = redactConfig(cfg);
    assert.equal(red.server.token, '***');
    assert.equal(red.database?.password, '***');
    assert.equal(red.database?.uri, 'bolt://neo4j:***@db:7687');
    assert.equal(red.llm?.apiKey, '***');
    assert.deepEqual(red.llm?.headers, { Authorization: '***', 'X-Team': 'a' });
    assert.equal(cfg.server.token, 't');
    assert.equal(cfg.llm?.apiKey, 'k');
    assert.equal(redactConfig(defaultConfig()).server.token, '');
  });
});

describe('config files', () => {
  it('loads a file, sets configPath and baseDir, and resolves plugin paths against it', () => {
    const file = join(FIXTURES, 'full.yaml');
    const cfg = loadConfig(file, { NEO4J_PASSWORD: 'pw' });
    assert.equal(cfg.configPath, file);
    assert.equal(cfg.baseDir, FIXTURES);
    assert.equal(cfg.plugins[0]!.path, 'plugins/security');
    assert.equal(resolvePluginPath(cfg, cfg.plugins[0]!), join(FIXTURES, 'plugins/security'));
    assert.equal(resolvePluginPath(cfg, './local/audit.mjs'), join(FIXTURES, 'local/audit.mjs'));
    assert.equal(cfg.plugins[0]!.queue.whenFull, 'drop_oldest');
    assert.equal(cfg.sources[1]?.type === 'neo4j-apoc' && cfg.sources[1].pollIntervalMs, 250);
  });

  it('validateConfigFile returns every issue with the file name, or the config', () => {
    const bad = validateConfigFile(join(FIXTURES, 'invalid.yaml'), {});
    assert.equal(bad.ok, false);
    if (bad.ok) return;
    assert.deepEqual(bad.errors.map((e) => e.path), ['server.prot', 'plugins[0].queue.whenFull']);
    assert.match(bad.text, /invalid\.yaml:2:3 server\.prot: /);
    assert.match(bad.text, /invalid\.yaml:6:7 plugins\[0\]\.queue\.whenFull: /);
    const missingEnv = validateConfigFile(join(FIXTURES, 'full.yaml'), {});
    assert.equal(missingEnv.ok, false);
    const good = validateConfigFile(join(FIXTURES, 'full.yaml'), { NEO4J_PASSWORD: 'pw' });
    assert.equal(good.ok, true);
  });

  it('findConfigFile prefers --config, then HEIMDALL_CONFIG, then ./heimdall.config.yaml', () => {
    const dir = mkdtempSync(join(tmpdir(), 'heimdall-config-'));
    const cwd = process.cwd();
    try {
      process.chdir(dir);
      assert.equal(findConfigFile(undefined, {}), undefined);
      writeFileSync(join(dir, 'heimdall.config.yaml'), 'plugins: []\n');
      assert.equal(findConfigFile(undefined, {}), join(process.cwd(), 'heimdall.config.yaml'));
      const other = join(FIXTURES, 'full.yaml');
      assert.equal(findConfigFile(undefined, { HEIMDALL_CONFIG: other }), other);
      assert.equal(findConfigFile(join(FIXTURES, 'invalid.yaml'), { HEIMDALL_CONFIG: other }), join(FIXTURES, 'invalid.yaml'));
      assert.throws(() => findConfigFile(undefined, { HEIMDALL_CONFIG: 'nope.yaml' }), (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.equal(err.message, 'Config file nope.yaml does not exist; pass --config FILE or unset HEIMDALL_CONFIG. (HEIMDALL_CONFIG names this file; point it at an existing file or unset it.)');
        return true;
      });
      assert.throws(() => findConfigFile('missing.yaml', {}), /missing\.yaml does not exist/);
      assert.throws(() => loadConfig('missing.yaml', {}), /Config file missing\.yaml does not exist/);
    } finally {
      process.chdir(cwd);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('config types', () => {
  it('are derived from the schema: a defaulted key is always there, one without a default is optional, an unknown one does not compile', () => {
    // Checked by tsc (the @ts-expect-error lines fail the build when the types stop refusing them); never called.
    const typeOnly = (cfg: HeimdallConfig, p: PluginConfig, llm: LlmConfig): unknown[] => {
      const port: number = cfg.server.port;
      const when: WhenFull = p.queue.whenFull;
      const model: string = llm.model;
      // @ts-expect-error llm has no default: the section may be absent
      const m: string = cfg.llm.model;
      // @ts-expect-error temperature has no default: it may be absent
      const t: number = llm.temperature;
      // @ts-expect-error not a key of the schema
      const typo = cfg.server.prot;
      // @ts-expect-error not a whenFull of the schema
      const full: WhenFull = 'drop_all';
      // @ts-expect-error $schema (for editors) is not part of the loaded config
      const s = cfg.$schema;
      return [port, when, model, m, t, typo, full, s];
    };
    assert.equal(typeof typeOnly, 'function');
    const cfg: HeimdallConfig = defaultConfig();
    const topKeys = Object.keys(heimdallConfigSchema.properties).filter((k) => k !== '$schema');
    for (const k of Object.keys(cfg)) assert.ok(topKeys.includes(k) || k === 'baseDir' || k === 'configPath' || k === 'ruleSet', `${k} is not a key of the schema`);
  });
});
