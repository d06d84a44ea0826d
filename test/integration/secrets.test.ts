/**
 * Secrets never leave: a daemon (a real child process, log level debug) runs with unique secrets
 * planted in every place a config holds one — server.token, database.uri's userinfo and
 * database.password, llm.baseURL's query string, llm.apiKey, llm.headers, a Bifrost webhook sink's
 * URL (query and path) and Authorization header, a plugin's config (nested password, token,
 * apiKey, secret), rule webhooks' URLs and headers, a rule added by a reload — and is made to
 * produce every kind of output: status, readiness, a model that fails and echoes the key, webhooks
 * answered 500 by a listener that echoes the credentials it got, a plugin that echoes its secrets
 * in logs, errors, notifications, a write and a statement Neo4j quotes back, bad action calls,
 * `heimdall status`, `heimdall validate` and `heimdall start` on a file with errors. Then every
 * output is searched for every planted value: stdout, stderr, every HTTP body read, the Bifrost
 * stream, the CLI's output and the audit log. None may appear; each place must show `***`
 * instead, so the test fails if redaction or the output itself goes missing.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { runCli, startDaemonProcess, type DaemonProcess } from '../helpers/daemon-process.js';
import { waitFor } from '../helpers/in-process-daemon.js';
import { testNeo4j } from '../helpers/neo4j.js';
import { fixturePlugin } from '../helpers/paths.js';
import { startTestLlm } from '../llm/server.js';

const tag = randomBytes(4).toString('hex');
const plant = (name: string): string => `${name}-PLANT-${tag}`;
/** Every secret of the configs below, by where it is planted. */
const S = {
  serverToken: plant('server-token'),
  uriPass: plant('uri-pass'),
  llmQuery: plant('llm-query'),
  llmKey: plant('llm-key'),
  llmHeader: plant('llm-header'),
  sinkQuery: plant('sink-query'),
  // a path segment that looks like a token (a Slack webhook's last segment)
  sinkPath: `Sink${tag}Qx7Rt5Yw3Zk9`,
  sinkAuth: plant('sink-auth'),
  ruleQuery: plant('rule-query'),
  rulePath: `Rule${tag}Hm4Jn6Kp8Lq2`,
  ruleHeader: plant('rule-header'),
  pluginPass: plant('plugin-pass'),
  pluginKey: plant('plugin-key'),
  pluginDeep: plant('plugin-deep'),
  pluginToken: plant('plugin-token'),
  pluginSecret: plant('plugin-secret'),
  reloadHeader: plant('reload-header'),
  brokenUriPass: plant('broken-uri-pass'),
  brokenLlmQuery: plant('broken-llm-query'),
  validateUriPass: plant('validate-uri-pass'),
  validateLlmPass: plant('validate-llm-pass'),
  validateDbPass: plant('validate-db-pass'),
  brokenDbPass: plant('broken-db-pass'),
};
/** What no output may contain: S, and the test Neo4j's password once it is known. */
const PLANTED: Record<string, string> = { ...S };

const tmp = mkdtempSync(join(tmpdir(), 'heimdall-secrets-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

/** A listener that refuses every request with 500, quoting the credentials it was sent (as some servers do). */
async function echoingListener(): Promise<{ url: string; hits: Array<{ url: string; headers: IncomingHttpHeaders }>; close(): Promise<void> }> {
  const hits: Array<{ url: string; headers: IncomingHttpHeaders }> = [];
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      hits.push({ url: req.url ?? '', headers: req.headers });
      res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(`refused ${req.url}: authorization was ${req.headers.authorization ?? '-'}, x-api-key was ${req.headers['x-api-key'] ?? '-'}`);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, hits, close: () => new Promise((r) => { server.closeAllConnections(); server.close(() => r()); }) };
}

/** Everything a run printed or answered, by where it came from. */
type Outputs = Map<string, string>;

async function read(d: DaemonProcess, outputs: Outputs, method: string, path: string, body?: unknown): Promise<{ status: number; text: string; json: any }> {
  const res = await d.fetch(path, { method, ...(body !== undefined ? { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } } : {}) });
  const text = await res.text();
  outputs.set(`${method} ${path} (${outputs.size})`, text);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, text, json };
}

/** The sentence of an action's answer: its message, or the message of its error envelope. */
const messageOf = (json: any): string => String(json?.message ?? json?.error?.message);

/** Reads the Bifrost stream from the start of the buffer for a moment. */
async function readStream(d: DaemonProcess, outputs: Outputs): Promise<void> {
  const ac = new AbortController();
  const res = await d.fetch('/v1/bifrost/stream?last=1000', { signal: ac.signal });
  let text = '';
  const reader = res.body!.getReader();
  const timer = setTimeout(() => ac.abort(), 1000);
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      text += Buffer.from(value).toString('utf8');
    }
  } catch {
    // aborted: the stream never ends on its own
  } finally {
    clearTimeout(timer);
  }
  outputs.set('GET /v1/bifrost/stream', text);
}

function daemonOutput(d: DaemonProcess, outputs: Outputs): void {
  outputs.set('stdout', d.lines.map((l) => l.raw).join('\n'));
  outputs.set('stderr', d.stderr.join(''));
}

/** No planted value in any output; the outputs named in `mustMask` show *** instead. */
function assertClean(outputs: Outputs, mustMask: string[]): void {
  const leaks: string[] = [];
  for (const [where, text] of outputs) {
    for (const [name, value] of Object.entries(PLANTED)) if (text.includes(value)) leaks.push(`${name} (${value}) in ${where}: …${text.slice(Math.max(0, text.indexOf(value) - 120), text.indexOf(value) + value.length + 40)}…`);
  }
  assert.deepEqual(leaks, [], `secrets leaked:\n${leaks.join('\n')}`);
  for (const prefix of mustMask) {
    const matching = [...outputs.entries()].filter(([k]) => k.startsWith(prefix));
    assert.ok(matching.length > 0, `the test read ${prefix}`);
    assert.ok(matching.some(([, t]) => t.includes('***')), `${prefix} shows *** where a secret was:\n${matching.map(([k, t]) => `${k}: ${t.slice(0, 600)}`).join('\n')}`);
  }
}

function healthyConfig(neo: { uri: string; user: string; password: string }, llmBaseURL: string, listener: string, pluginPath: string): string {
  const uri = neo.uri.replace(/^(bolt|neo4j)(\+s|\+ssc)?:\/\//, (m) => `${m}${neo.user}:${S.uriPass}@`);
  return `
server:
  token: ${S.serverToken}
log:
  level: debug
database:
  uri: "${uri}"
  user: ${neo.user}
  password: "${neo.password}"
  connectTimeoutMs: 5000
llm:
  baseURL: "${llmBaseURL}?api_key=${S.llmQuery}"
  model: test-model
  apiKey: ${S.llmKey}
  maxRetries: 0
  timeoutMs: 5000
  headers:
    X-Proxy-Authorization: "Bearer ${S.llmHeader}"
    X-Team: operations
sources:
  - type: http
  - type: system
remediation:
  guardTrigger: false
audit:
  path: audit.jsonl
bifrost:
  sinks:
    - type: log
    - type: webhook
      url: "${listener}/sink/${S.sinkPath}?token=${S.sinkQuery}"
      headers:
        Authorization: "Bearer ${S.sinkAuth}"
      maxRetries: 0
      timeoutMs: 2000
plugins:
  - path: ${pluginPath}
    write: true
    config:
      db:
        password: ${S.pluginPass}
      nested:
        apiKey: ${S.pluginKey}
        deeper:
          - secret: ${S.pluginDeep}
      auth:
        token: ${S.pluginToken}
      secret: ${S.pluginSecret}
rulesEngine:
  deadLetters:
    path: dead-letters.jsonl
rules:
  - name: hook
    on: node.created
    actions:
      - webhook:
          url: "${listener}/hook/${S.rulePath}?token=${S.ruleQuery}"
          headers:
            x-api-key: ${S.ruleHeader}
`;
}

test('a healthy daemon with planted secrets everywhere: no output of the run shows one', { timeout: 180_000 }, async () => {
  const neo = await testNeo4j();
  const llm = await startTestLlm();
  const listener = await echoingListener();
  const outputs: Outputs = new Map();
  const pluginPath = fixturePlugin('secret-echo.mjs');
  const yaml = healthyConfig(neo, llm.baseURL, listener.url, pluginPath);
  // the database password of this run is a secret too (the test runner makes a random one)
  if (neo.password.length >= 8) PLANTED['neo4jPassword'] = neo.password;
  // the model fails twice, each time quoting a credential it was sent
  llm.script({ status: 500, error: `upstream refused X-Proxy-Authorization Bearer ${S.llmHeader}` }, { status: 401, error: `Incorrect API key provided: ${S.llmKey}` });
  const d = await startDaemonProcess({ configYaml: yaml, timeoutMs: 60_000 });
  let stopped = false;
  try {
    await waitFor('the database connection', async () => (await read(d, outputs, 'GET', '/v1/status')).json?.database?.connected === true, 30_000);
    const status = await read(d, outputs, 'GET', '/v1/status');
    assert.match(status.json.database.uri, new RegExp(`^bolt://${neo.user}:\\*\\*\\*@127\\.0\\.0\\.1:\\d+$`));
    assert.match(status.json.llm.baseURL, /\/v1\?api_key=\*\*\*$/);
    await read(d, outputs, 'GET', '/readyz');

    // the model: its two failures quote the header and the key
    const p1 = await read(d, outputs, 'POST', '/v1/prompt', { prompt: 'Say hello.' });
    const p2 = await read(d, outputs, 'POST', '/v1/prompt', { prompt: 'Say hello again.' });
    assert.equal(p1.json.success, false, p1.text);
    assert.match(p2.json.message, /Incorrect API key provided: \*\*\*/);
    assert.equal(llm.requests.length, 2);
    assert.equal(llm.requests[0]!.url, `/v1/chat/completions?api_key=${S.llmQuery}`, 'the query string of llm.baseURL is sent');
    assert.equal(llm.requests[0]!.headers.authorization, `Bearer ${S.llmKey}`);
    assert.equal(llm.requests[0]!.headers['x-proxy-authorization'], `Bearer ${S.llmHeader}`);

    // the plugin's actions, and calls that go wrong
    const leak = await read(d, outputs, 'POST', '/v1/actions/heimdall.secret-echo.leak/invoke', { params: {} });
    assert.notEqual(leak.json.success, true, leak.text);
    assert.match(messageOf(leak.json), /secret-echo failed with the secret \*\*\* and \*\*\*/);
    assert.equal((await read(d, outputs, 'POST', '/v1/actions/heimdall.secret-echo.notify/invoke', { params: {} })).json.success, true);
    const wrote = await read(d, outputs, 'POST', '/v1/actions/heimdall.secret-echo.write/invoke', { params: {} });
    assert.equal(wrote.json.success, true, wrote.text);
    const broken = await read(d, outputs, 'POST', '/v1/actions/heimdall.secret-echo.broken/invoke', { params: {} });
    assert.notEqual(broken.json.success, true, broken.text);
    assert.ok((await read(d, outputs, 'POST', '/v1/actions/heimdall.secret-echo.nope/invoke', { params: { token: S.pluginToken } })).status >= 400);
    assert.ok((await read(d, outputs, 'POST', '/v1/actions/heimdall.secret-echo.leak/invoke', { params: [S.pluginSecret] })).status >= 400);
    await read(d, outputs, 'GET', `/v1/nowhere?token=${S.serverToken}`);

    // an event: the plugin echoes its token, the rule's webhook is refused by the echoing listener
    await read(d, outputs, 'POST', '/v1/events', { type: 'node.created', id: `ev-${tag}`, nodeLabels: ['Order'] });
    await waitFor('the failed firing', async () => (await read(d, outputs, 'GET', '/v1/rules/hook/history')).json?.firings?.[0]?.status === 'failed', 20_000);
    await waitFor('the sink and the rule webhook to be called', () => listener.hits.some((h) => h.url.startsWith('/sink/')) && listener.hits.some((h) => h.url.startsWith('/hook/')), 20_000);
    const sinkHit = listener.hits.find((h) => h.url.startsWith('/sink/'))!;
    assert.deepEqual([sinkHit.url, sinkHit.headers.authorization], [`/sink/${S.sinkPath}?token=${S.sinkQuery}`, `Bearer ${S.sinkAuth}`], 'the sink used its URL and header');
    const hookHit = listener.hits.find((h) => h.url.startsWith('/hook/'))!;
    assert.deepEqual([hookHit.url, hookHit.headers['x-api-key']], [`/hook/${S.rulePath}?token=${S.ruleQuery}`, S.ruleHeader], 'the rule used its URL and header');
    const history = await read(d, outputs, 'GET', '/v1/rules/hook/history');
    assert.match(history.json.firings[0].actions[0].error, /answered HTTP 500: refused \/hook\/\*\*\*\?token=\*\*\*: authorization was -, x-api-key was \*\*\*/);
    await d.waitForLog((l) => /Bifrost webhook sink/.test(String(l.json?.['msg'])), 20_000);

    // a reload adds a rule with a new secret, which is scrubbed from then on
    writeFileSync(d.configFile, `${readFileSync(d.configFile, 'utf8')}\n  - name: hook-two\n    on: node.created\n    actions:\n      - webhook:\n          url: "${listener.url}/two"\n          headers:\n            x-api-key: ${S.reloadHeader}\n`);
    const reloaded = await read(d, outputs, 'POST', '/v1/reload');
    assert.equal(reloaded.status, 200, reloaded.text);
    await read(d, outputs, 'POST', '/v1/events', { type: 'node.created', id: `ev2-${tag}`, nodeLabels: ['Order'] });
    await waitFor('the failed firing of the reloaded rule', async () => (await read(d, outputs, 'GET', '/v1/rules/hook-two/history')).json?.firings?.[0]?.status === 'failed', 20_000);
    assert.ok(listener.hits.some((h) => h.url === '/two' && h.headers['x-api-key'] === S.reloadHeader));

    for (const path of ['/healthz', '/readyz', '/metrics', '/v1/status', '/v1/plugins', '/v1/actions', '/v1/bifrost/notifications?limit=1000', '/v1/bifrost/status', '/v1/confirmations', '/v1/invocations', '/v1/rules', '/v1/rules/hook', '/v1/rules/hook-two', '/v1/dead-letters', '/v1/metrics/history']) {
      await read(d, outputs, 'GET', path);
    }
    await read(d, outputs, 'POST', '/v1/rules/hook/test', { event: { type: 'node.created', nodeLabels: ['Order'] } });
    await readStream(d, outputs);
    const notices = outputs.get([...outputs.keys()].find((k) => k.startsWith('GET /v1/bifrost/notifications'))!)!;
    assert.match(notices, /Token \*\*\*/, 'the plugin\'s notification is on Bifrost, scrubbed');

    const auth = ['--url', d.url, '--token', S.serverToken];
    for (const args of [['status', '--json', ...auth], ['status', ...auth], ['rules', 'show', 'hook', ...auth], ['validate', '--config', d.configFile]]) {
      const r = await runCli(args, { timeoutMs: 30_000 });
      outputs.set(`heimdall ${args[0]} ${args[1]}`, `${r.stdout}\n${r.stderr}`);
      assert.equal(r.code, 0, `heimdall ${args.join(' ')}: ${r.stdout}${r.stderr}`);
    }
    const auditFile = join(d.dir, 'audit.jsonl');
    assert.ok(existsSync(auditFile), 'the write was audited');
    outputs.set('audit log', readFileSync(auditFile, 'utf8'));

    stopped = true;
    assert.equal(await d.stop(), 0);
    daemonOutput(d, outputs);
    const stdout = outputs.get('stdout')!;
    assert.match(stdout, /This is the effective config, with secrets masked/);
    assert.match(stdout, /secret-echo connects with the password \*\*\* and the key \*\*\*/);
    assert.match(stdout, /secret-echo started with this config/);
    assert.match(stdout, /its token is \*\*\*/);
    assertClean(outputs, ['stdout', 'GET /v1/status', 'POST /v1/prompt', 'POST /v1/actions/heimdall.secret-echo.leak', 'POST /v1/actions/heimdall.secret-echo.broken', 'GET /v1/rules/hook/history', 'GET /v1/rules/hook-two/history', 'GET /v1/dead-letters', 'GET /v1/bifrost/notifications', 'GET /v1/bifrost/stream', 'GET /v1/invocations', 'heimdall status --json', 'heimdall status --url', 'audit log']);
  } finally {
    if (!stopped) await d.stop().catch(() => undefined);
    await llm.close();
    await listener.close();
  }
});

test('a daemon that cannot reach its database or model: /readyz, status and errors name them without credentials', { timeout: 120_000 }, async () => {
  const outputs: Outputs = new Map();
  const yaml = `
server:
  token: ${S.serverToken}
log:
  level: debug
database:
  uri: "bolt://neo4j:${S.brokenUriPass}@127.0.0.1:1"
  password: ${S.brokenDbPass}
  connectTimeoutMs: 500
llm:
  baseURL: "http://127.0.0.1:1/v1?key=${S.brokenLlmQuery}"
  model: test-model
  apiKey: ${S.llmKey}
  maxRetries: 0
sources:
  - type: http
  - type: system
audit:
  path: audit.jsonl
plugins:
  - path: ${fixturePlugin('secret-echo.mjs')}
    write: true
    config:
      db: { password: ${S.pluginPass} }
      nested: { apiKey: ${S.pluginKey}, deeper: [ { secret: ${S.pluginDeep} } ] }
      auth: { token: ${S.pluginToken} }
      secret: ${S.pluginSecret}
`;
  const d = await startDaemonProcess({ configYaml: yaml, timeoutMs: 60_000 });
  let stopped = false;
  try {
    const ready = await read(d, outputs, 'GET', '/readyz');
    assert.equal(ready.status, 503, ready.text);
    assert.match(ready.json.error.message, /The database at bolt:\/\/neo4j:\*\*\*@127\.0\.0\.1:1 is not reachable/);
    const status = await read(d, outputs, 'GET', '/v1/status');
    assert.equal(status.json.database.uri, 'bolt://neo4j:***@127.0.0.1:1');
    assert.equal(status.json.llm.baseURL, 'http://127.0.0.1:1/v1?key=***');
    const prompt = await read(d, outputs, 'POST', '/v1/prompt', { prompt: 'Anyone there?' });
    assert.match(prompt.json.message, /The model server at http:\/\/127\.0\.0\.1:1\/v1\?key=\*\*\* cannot be reached/);
    const write = await read(d, outputs, 'POST', '/v1/actions/heimdall.secret-echo.write/invoke', { params: {} });
    assert.notEqual(write.json.success, true, write.text);
    assert.match(messageOf(write.json), /bolt:\/\/neo4j:\*\*\*@127\.0\.0\.1:1/);
    await read(d, outputs, 'GET', '/v1/bifrost/notifications?limit=1000');
    const cli = await runCli(['status', '--json', '--url', d.url, '--token', S.serverToken]);
    outputs.set('heimdall status --json', `${cli.stdout}\n${cli.stderr}`);
    if (existsSync(join(d.dir, 'audit.jsonl'))) outputs.set('audit log', readFileSync(join(d.dir, 'audit.jsonl'), 'utf8'));
    stopped = true;
    assert.equal(await d.stop(), 0);
    daemonOutput(d, outputs);
    assert.match(outputs.get('stdout')!, /Heimdall could not connect to the database at bolt:\/\/neo4j:\*\*\*@127\.0\.0\.1:1/);
    assertClean(outputs, ['stdout', 'GET /readyz', 'GET /v1/status', 'POST /v1/prompt', 'POST /v1/actions', 'heimdall status --json']);
  } finally {
    if (!stopped) await d.stop().catch(() => undefined);
  }
});

test('heimdall validate and heimdall start do not echo the secrets of a file with errors', async () => {
  const outputs: Outputs = new Map();
  const file = join(tmp, 'invalid.yaml');
  writeFileSync(file, `
server:
  token: 98765432101
database:
  uri: "bolt://neo4j:${S.validateUriPass}@db.example:7687"
  embedded: true
  password: ${S.validateDbPass}
llm:
  model: m
  baseURL: "ftp://user:${S.validateLlmPass}@llm.example/v1"
plugins:
  - path: ./nowhere.mjs
    config: { password: ${S.pluginPass} }
`);
  for (const args of [['validate', '--config', file], ['validate', '--json', '--config', file], ['start', '--config', file]]) {
    const r = await runCli(args);
    outputs.set(`heimdall ${args.slice(0, 2).join(' ')}`, `${r.stdout}\n${r.stderr}`);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
  }
  const text = outputs.get('heimdall validate --config')!;
  assert.match(text, /database\.uri is bolt:\/\/neo4j:\*\*\*@db\.example:7687, but an embedded Neo4j/);
  assert.match(text, /llm\.baseURL must start with http:\/\/ or https:\/\/; got 'ftp:\/\/user:\*\*\*@llm\.example\/v1'/);
  assert.match(text, /server\.token must be text \(a string\); got a hidden value/);
  assert.doesNotMatch([...outputs.values()].join('\n'), /98765432101/);
  assertClean(outputs, ['heimdall validate --config', 'heimdall validate --json', 'heimdall start --config']);
});
