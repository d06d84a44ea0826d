/** The redaction module: secrets by shape (config/redact.ts) and by value (config/secret-scrubber.ts). */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { ConfigError, parseConfig, redactConfig } from '../../config/loader.js';
import { isSecretKey, looksLikeToken, redactText, redactUrl, urlSecrets } from '../../config/redact.js';
import { SecretScrubber, redactTree } from '../../config/secret-scrubber.js';
import { BifrostBus } from '../../daemon/bifrost/bus.js';
import { createLogger } from '../../daemon/logger.js';
import { splitBaseURL } from '../../daemon/invoker/model-client.js';

describe('isSecretKey', () => {
  it('knows the names of secrets in every spelling', () => {
    for (const k of ['password', 'dbPassword', 'PASSWORD', 'pass', 'passwd', 'pwd', 'token', 'authToken', 'access_token', 'apiKey', 'APIKey', 'api-key', 'x-api-key', 'X-Goog-Api-Key', 'secret', 'clientSecret', 'client_secret', 'Authorization', 'proxy-authorization', 'cookie', 'Set-Cookie', 'privateKey', 'credentials', 'signature', 'tokens']) {
      assert.ok(isSecretKey(k), `${k} is a secret key`);
    }
  });

  it('leaves limits, files and ordinary words alone', () => {
    for (const k of ['maxTokens', 'contextTokenBudget', 'tokenFile', 'passwordPath', 'passthrough', 'bypass', 'compass', 'key', 'keys', 'user', 'uri', 'headers', 'tokenType', 'monkey', 'secretary']) {
      assert.ok(!isSecretKey(k), `${k} is not a secret key`);
    }
  });
});

describe('redactUrl and urlSecrets', () => {
  it('hides the password of the userinfo and keeps the user', () => {
    assert.equal(redactUrl('bolt://neo4j:s3cret-pw@db.example:7687'), 'bolt://neo4j:***@db.example:7687');
    assert.deepEqual(urlSecrets('bolt://neo4j:s3cret-pw@db.example:7687'), ['s3cret-pw']);
    assert.equal(redactUrl('bolt://db.example:7687'), 'bolt://db.example:7687');
    assert.equal(redactUrl('bolt://neo4j@db.example:7687'), 'bolt://neo4j@db.example:7687', 'a user without a password is no secret');
  });

  it('hides secret query parameters and keeps the others', () => {
    assert.equal(redactUrl('https://llm.example/v1?api-version=2024-06-01&api_key=K3y-123456'), 'https://llm.example/v1?api-version=2024-06-01&api_key=***');
    assert.equal(redactUrl('https://x.example/hook?token=abc&sig=def&key=ghi&auth=jkl&name=n'), 'https://x.example/hook?token=***&sig=***&key=***&auth=***&name=n');
    assert.deepEqual(urlSecrets('https://x.example/p?access_token=a%2Bb'), ['a%2Bb', 'a+b']);
    assert.equal(redactUrl('https://x.example/cb#access_token=abc&state=1'), 'https://x.example/cb#access_token=***&state=1');
  });

  it('hides path segments that look like tokens (Slack, Discord) but not version or model names', () => {
    assert.equal(redactUrl('https://hooks.slack.com/services/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'), 'https://hooks.slack.com/services/T0AB12CD3/B0AB12CD3/***');
    assert.equal(redactUrl('https://x.example/openai/deployments/gpt-4o-mini-2024-07-18/v1'), 'https://x.example/openai/deployments/gpt-4o-mini-2024-07-18/v1');
    assert.ok(looksLikeToken('0123456789abcdef0123456789abcdef'));
    assert.ok(!looksLikeToken('deletion-summary-plugin'));
  });

  it('copes with templated and odd URLs', () => {
    assert.equal(redactUrl('https://x.example/{{ event.id }}?token={{ env.T }}'), 'https://x.example/{{ event.id }}?token=***');
    assert.equal(redactUrl('not a url'), 'not a url');
  });
});

describe('redactText', () => {
  it('hides credentials by their shape in free text', () => {
    assert.equal(redactText('connect to bolt://neo4j:hunter22@db:7687 failed'), 'connect to bolt://neo4j:***@db:7687 failed');
    assert.equal(redactText('GET https://x/y?a=1&token=abc123 answered 500'), 'GET https://x/y?a=1&token=*** answered 500');
    assert.equal(redactText('sent Authorization: Bearer sk-live-0123456789'), 'sent Authorization: Bearer ***');
    assert.equal(redactText('basic authentication is off'), 'basic authentication is off', 'prose is not a credential');
    assert.equal(redactText('{"url":"https://u:p4ss@h/x"}'), '{"url":"https://u:***@h/x"}');
  });
});

describe('SecretScrubber', () => {
  const config = {
    server: { token: 'server-token-PLANT1' },
    database: { uri: 'bolt://neo4j:uri-pass-PLANT2@127.0.0.1:7687', password: 'db-pass-PLANT3' },
    llm: { baseURL: 'https://llm.example/v1?api_key=llm-query-PLANT4', apiKey: 'llm-key-PLANT5', maxTokens: 512, headers: { 'X-Proxy-Auth': 'Bearer llm-header-PLANT6', 'X-Team': 'operations' } },
    bifrost: { sinks: [{ type: 'webhook', url: 'https://hooks.example/services/T00/B00/aB3dE5gH7jK9mN1pQ3rS5tU7', headers: { Authorization: 'sink-auth-PLANT7' } }] },
    plugins: [{ path: './p.mjs', config: { db: { password: 'plugin-pass-PLANT8' }, nested: [{ apiKey: 'plugin-key-PLANT9' }, { auth: { token: 'plugin-token-PLANTA' } }], secret: 'plugin-secret-PLANTB', label: 'not-a-secret-value' } }],
    rules: [{ name: 'r', on: 'node.created', actions: [{ webhook: { url: 'https://h.example/x?token=rule-url-PLANTC', headers: { 'x-api-key': 'rule-header-PLANTD' } } }] }],
    short: { password: 'abc' },
  };
  const planted = ['server-token-PLANT1', 'uri-pass-PLANT2', 'db-pass-PLANT3', 'llm-query-PLANT4', 'llm-key-PLANT5', 'llm-header-PLANT6', 'aB3dE5gH7jK9mN1pQ3rS5tU7', 'sink-auth-PLANT7', 'plugin-pass-PLANT8', 'plugin-key-PLANT9', 'plugin-token-PLANTA', 'plugin-secret-PLANTB', 'rule-url-PLANTC', 'rule-header-PLANTD'];

  it('collects every secret of a config, and nothing else', () => {
    const s = SecretScrubber.fromConfig(config);
    for (const p of planted) assert.ok(s.has(p), `knows ${p}`);
    assert.ok(s.has('Bearer llm-header-PLANT6'));
    assert.ok(!s.has('operations'), 'an ordinary header value is no secret');
    assert.ok(!s.has('not-a-secret-value'));
    assert.ok(!s.has('512'));
    assert.ok(!s.has('abc'), 'shorter than MIN_SECRET_LENGTH');
  });

  it('scrubs known values from text, JSON and objects, also when a driver echoes them', () => {
    const s = SecretScrubber.fromConfig(config);
    const text = planted.map((p) => `the server said: ${p}.`).join(' ');
    const out = s.text(text);
    for (const p of planted) assert.ok(!out.includes(p), `${p} is scrubbed`);
    assert.equal(out.split('***').length - 1, planted.length);
    assert.equal(s.text('user plugin-pass-PLANT8 and %s', ), 'user *** and %s');
    assert.equal(s.text(`encoded: ${encodeURIComponent('db-pass-PLANT3/x')}`), `encoded: ${encodeURIComponent('db-pass-PLANT3/x')}`.replace('db-pass-PLANT3', '***'));
    const deep = s.deep({ a: ['x db-pass-PLANT3 y', { b: 'server-token-PLANT1' }], n: 1, ok: true });
    assert.deepEqual(deep, { a: ['x *** y', { b: '***' }], n: 1, ok: true });
  });

  it('keeps JSON valid: a secret with quotes and backslashes, and no match inside an escape', () => {
    const s = new SecretScrubber(['pa"ss\\word-1', 'nabcdefgh']);
    const line = JSON.stringify({ msg: 'login with pa"ss\\word-1 failed', other: 'x\nabcdefgh' });
    const out = s.json(line);
    assert.deepEqual(JSON.parse(out), { msg: 'login with *** failed', other: 'x\nabcdefgh' });
    assert.equal(s.json(JSON.stringify({ v: 'nabcdefgh' })), '{"v":"***"}');
  });

  it('maskKeys masks secret keys of a log object at any depth, copying only what changes', () => {
    const s = new SecretScrubber();
    const err = new Error('x');
    const untouched = { n: 1, list: [{ a: 'b' }] };
    const obj = { msg: 'm', a: { b: { password: 'p', maxTokens: 5, tokenFile: '/run/t', apiKey: 'k', none: '' } }, headers: { authorization: 'x' }, credentials: { user: 'u', list: ['a', 2] }, err, untouched };
    const masked = s.maskKeys(obj);
    assert.deepEqual(masked, { msg: 'm', a: { b: { password: '***', maxTokens: 5, tokenFile: '/run/t', apiKey: '***', none: '' } }, headers: { authorization: '***' }, credentials: { user: '***', list: ['***', '***'] }, err, untouched });
    assert.equal(obj.a.b.password, 'p', 'the logged object is not changed');
    assert.equal(masked.untouched, untouched, 'what has no secret is not copied');
    assert.equal(masked.err, err);
    const line = JSON.stringify({ password: 'p' });
    assert.equal(s.json(line), line, 'HTTP bodies keep their fields');
  });

  it('redactTree shows a config with every secret masked, and the rest as it is', () => {
    const shown = redactTree(config);
    const text = JSON.stringify(shown);
    for (const p of planted) assert.ok(!text.includes(p), `${p} is masked`);
    assert.equal(shown.database.uri, 'bolt://neo4j:***@127.0.0.1:7687');
    assert.equal(shown.llm.baseURL, 'https://llm.example/v1?api_key=***');
    assert.deepEqual(shown.llm.headers, { 'X-Proxy-Auth': '***', 'X-Team': 'operations' });
    assert.equal(shown.llm.maxTokens, 512);
    assert.equal(shown.short.password, '***', 'a short secret is masked where the config is shown');
    assert.equal(shown.plugins[0]!.config.label, 'not-a-secret-value');
    assert.equal((shown.plugins[0]!.config.nested[1] as { auth: { token: string } }).auth.token, '***');
    assert.deepEqual(redactTree({ server: { token: '' } }), { server: { token: '' } }, 'an unset secret shows as unset');
  });
});

describe('where the scrubber is used', () => {
  it('the logger scrubs every level, child bindings, err stacks and plugin lines', () => {
    const lines: string[] = [];
    const destination = new Writable({ write(chunk, _enc, cb) { lines.push(String(chunk)); cb(); } });
    const secrets = new SecretScrubber(['db-pass-PLANT3', 'llm-key-PLANT5']);
    const log = createLogger({ level: 'trace', pretty: false, destination, secrets });
    const err = new Error('auth failed for db-pass-PLANT3');
    log.trace('trace llm-key-PLANT5');
    log.debug({ cfg: { nested: { password: 'short' } } }, 'debug');
    log.child({ plugin: 'p', where: 'bolt://u:llm-key-PLANT5@h' }).info({ data: { x: 'db-pass-PLANT3' } }, 'from a plugin');
    log.error({ err }, `failed: ${err.message}`);
    log.fatal('https://h/x?token=abcdef');
    const all = lines.join('');
    assert.ok(!all.includes('db-pass-PLANT3') && !all.includes('llm-key-PLANT5') && !all.includes('"short"') && !all.includes('abcdef'), all);
    assert.equal(lines.length, 5);
    for (const l of lines) JSON.parse(l);
    assert.match(all, /"password":"\*\*\*"/);
    assert.match(all, /auth failed for \*\*\*/);
    assert.match(all, /bolt:\/\/u:\*\*\*@h/);
  });

  it('the pretty logger scrubs too', async () => {
    let text = '';
    const destination = new Writable({ write(chunk, _enc, cb) { text += String(chunk); cb(); } });
    const log = createLogger({ level: 'info', pretty: true, destination, secrets: new SecretScrubber(['db-pass-PLANT3']) });
    log.info({ password: 'short', where: 'bolt://u:db-pass-PLANT3@h' }, 'login with db-pass-PLANT3 failed');
    await new Promise((r) => setImmediate(r));
    assert.match(text, /login with \*\*\* failed/);
    assert.ok(!text.includes('db-pass-PLANT3') && !text.includes('short'), text);
  });

  it('the bus scrubs titles, messages and data of every message', () => {
    const bus = new BifrostBus(10, createLogger({ level: 'silent', pretty: false }));
    bus.scrubWith(new SecretScrubber(['sink-auth-PLANT7']));
    const m = bus.publish({ kind: 'notification', title: 'sink-auth-PLANT7', message: 'POST https://h/x?token=abcdef failed', data: { why: ['sink-auth-PLANT7'] }, origin: { kind: 'plugin', plugin: 'p' } });
    assert.deepEqual([m.title, m.message, m.data], ['***', 'POST https://h/x?token=*** failed', { why: ['***'] }]);
  });

  it('config errors do not echo secrets, even short ones', () => {
    const err = ((): ConfigError => {
      try {
        parseConfig('database:\n  uri: "http://neo4j:uri-pass-PLANT2@db:7687"\n  password: 1234\nserver:\n  token: 55555\n', { env: {} });
      } catch (e) {
        return e as ConfigError;
      }
      throw new Error('expected a ConfigError');
    })();
    const text = `${err.message}\n${JSON.stringify(err.toJSON())}`;
    assert.ok(!text.includes('uri-pass-PLANT2'), text);
    assert.ok(!/1234|55555/.test(text), text);
    assert.match(text, /database\.uri must start with bolt:\/\/.*got 'http:\/\/neo4j:\*\*\*@db:7687'/);
    assert.match(text, /database\.password must be text \(a string\); got a hidden value/);
  });

  it('redactConfig masks plugin config secrets at any depth', () => {
    const cfg = parseConfig('plugins:\n  - path: ./p.mjs\n    config: { db: { password: plugin-pass-PLANT8 }, list: [ { token: t0k3n-value } ] }\n', { env: {} });
    const shown = JSON.stringify(redactConfig(cfg));
    assert.ok(!shown.includes('plugin-pass-PLANT8') && !shown.includes('t0k3n-value'), shown);
  });

  it('llm.baseURL keeps its query string: it is sent as the default query', () => {
    assert.deepEqual(splitBaseURL('https://llm.example/v1?api_key=K&api-version=2'), { baseURL: 'https://llm.example/v1', query: { api_key: 'K', 'api-version': '2' } });
    assert.deepEqual(splitBaseURL('https://llm.example/v1'), { baseURL: 'https://llm.example/v1' });
  });
});
