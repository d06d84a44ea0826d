/**
 * `- type: bolt-proxy` in heimdall.config.yaml: the schema's defaults, upstream from database.uri
 * at load time, and every problem as a config error with its line (what `heimdall validate` prints):
 * a bad address or URI, the non-loopback rule, an unreadable certificate, a duplicate listen
 * address, a clash with the admin API, and a proxy that would relay to itself.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError, parseConfig } from '../../config/loader.js';
import type { BoltProxySourceEntry } from '../../config/types.js';
import { validateConfigFile } from '../../config/validate.js';
import { ErrorCode } from '../../sdk/errors.js';
import { makeSelfSignedCert } from '../helpers/self-signed.js';

function failing(text: string, file?: string): ConfigError {
  try {
    parseConfig(text, { env: {}, ...(file ? { file } : {}) });
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
    assert.equal(err.code, ErrorCode.HMD_ERR_CONFIG);
    return err;
  }
  assert.fail('expected a ConfigError');
}

const proxies = (text: string): BoltProxySourceEntry[] =>
  parseConfig(text, { env: {} }).sources.filter((s): s is BoltProxySourceEntry => s.type === 'bolt-proxy');

describe('bolt-proxy in the config file', () => {
  it('fills the pinned defaults, and upstream from database.uri (its host, spoken to directly)', () => {
    const [p] = proxies('database:\n  uri: neo4j+s://db.example:7777\nsources:\n  - type: bolt-proxy\n');
    assert.deepEqual(p, { type: 'bolt-proxy', listen: '127.0.0.1:7688', captureParams: 'keys', maxQueryChars: 4096, upstream: 'bolt+s://db.example:7777' });
    const [q] = proxies('sources:\n  - type: bolt-proxy\n');
    assert.equal(q!.upstream, 'bolt://127.0.0.1:7687', 'without a database section: the local default');
    const [r] = proxies('database: {}\nsources:\n  - type: bolt-proxy\n    upstream: bolt+ssc://other:1\n    captureParams: full\n    advertisedAddress: proxy.example:7688\n');
    assert.equal(r!.upstream, 'bolt+ssc://other:1');
    assert.equal(r!.captureParams, 'full');
    assert.equal(r!.advertisedAddress, 'proxy.example:7688');
  });

  it('runs several proxies at once on distinct addresses (port 0 never clashes)', () => {
    const ps = proxies('sources:\n  - type: bolt-proxy\n  - type: bolt-proxy\n    listen: 127.0.0.1:7689\n  - type: bolt-proxy\n    listen: 127.0.0.1:0\n  - type: bolt-proxy\n    listen: 127.0.0.1:0\n');
    assert.deepEqual(ps.map((p) => p.listen), ['127.0.0.1:7688', '127.0.0.1:7689', '127.0.0.1:0', '127.0.0.1:0']);
  });

  it('reports a duplicate listen address, a wildcard clash and the admin API address, each at its line', () => {
    const err = failing(
      [
        'server:',
        '  port: 7690',
        'sources:',
        '  - type: bolt-proxy',
        '  - type: bolt-proxy',
        '    listen: localhost:7688',
        '  - type: bolt-proxy',
        '    listen: 127.0.0.1:7690',
      ].join('\n'),
    );
    assert.deepEqual(err.errors.map((e) => [e.path, e.line]), [['sources[1].listen', 6], ['sources[2].listen', 8]]);
    assert.match(err.errors[0]!.message, /sources\[1\] listens on localhost:7688, which sources\[0\] \(a bolt-proxy\) already listens on/);
    assert.match(err.errors[1]!.message, /the admin API's address/);
  });

  it('refuses a non-loopback listen address without tls, saying what protects it', () => {
    const err = failing('sources:\n  - type: bolt-proxy\n    listen: 0.0.0.0:7688\n');
    assert.equal(err.errors.length, 1);
    const [e] = err.errors;
    assert.equal(e!.path, 'sources[0].listen');
    assert.equal(e!.line, 3);
    assert.match(e!.message, /not a loopback address, without tls/);
    assert.match(e!.hint!, /server still authenticates every client/);
  });

  it('accepts a non-loopback address with tls, the files relative to the config file', () => {
    const cert = makeSelfSignedCert();
    const dir = mkdtempSync(join(tmpdir(), 'heimdall-bolt-cfg-'));
    try {
      writeFileSync(join(dir, 'proxy.crt'), cert.cert);
      writeFileSync(join(dir, 'proxy.key'), cert.key);
      const file = join(dir, 'heimdall.config.yaml');
      writeFileSync(file, 'sources:\n  - type: bolt-proxy\n    listen: 0.0.0.0:7688\n    tls: { cert: proxy.crt, key: proxy.key }\n');
      const r = validateConfigFile(file, {});
      assert.ok(r.ok, r.ok ? '' : r.text);
      writeFileSync(file, 'sources:\n  - type: bolt-proxy\n    listen: 0.0.0.0:7688\n    tls: { cert: missing.crt, key: proxy.key }\n');
      const bad = validateConfigFile(file, {});
      assert.ok(!bad.ok);
      assert.equal(bad.errors[0]!.path, 'sources[0].tls.cert');
      assert.match(bad.text, new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:4:\\d+ sources\\[0\\]\\.tls\\.cert: The bolt-proxy tls\\.cert file .*missing\\.crt cannot be read`));
    } finally {
      cert.remove();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reports a proxy that would relay to itself: database.uri on the proxy and upstream left to its default', () => {
    const err = failing('database:\n  uri: bolt://localhost:7688\nsources:\n  - type: bolt-proxy\n');
    assert.equal(err.errors.length, 1);
    assert.equal(err.errors[0]!.path, 'sources[0].type');
    assert.equal(err.errors[0]!.line, 4);
    assert.match(err.errors[0]!.message, /would relay to itself/);
    assert.match(err.errors[0]!.hint!, /Set upstream: to the database server's own address/);
    // the daemon's own driver through the proxy is fine once upstream names the server
    const [p] = proxies('database:\n  uri: bolt://127.0.0.1:7688\nsources:\n  - type: bolt-proxy\n    upstream: bolt://127.0.0.1:7687\n');
    assert.equal(p!.upstream, 'bolt://127.0.0.1:7687');
    const self = failing('sources:\n  - type: bolt-proxy\n    listen: 0.0.0.0:7688\n    upstream: bolt://127.0.0.1:7688\n    tls: { cert: "-----BEGIN x", key: "-----BEGIN y" }\n');
    assert.equal(self.errors[0]!.path, 'sources[0].upstream');
  });

  it('one error per problem: schema errors are not repeated by the proxy checks', () => {
    const err = failing(
      [
        'sources:',
        '  - type: bolt-proxy',
        '    upstream: http://db:7687',
        '  - type: bolt-proxy',
        '    listen: 127.0.0.1:7689',
        '    captureParams: values',
        '  - type: bolt-proxy',
        '    listen: nonsense',
        '  - type: bolt-proxy',
        '    listen: 127.0.0.1:7691',
        '    advertisedAddress: "proxy:port"',
        '  - type: bolt-proxy',
        '    listen: 127.0.0.1:7692',
        '    upstream: bolt://',
        '    proxyProtocol: true',
      ].join('\n'),
    );
    assert.deepEqual(
      err.errors.map((e) => [e.path, e.line]),
      [
        ['sources[0].upstream', 3],
        ['sources[1].captureParams', 6],
        ['sources[2].listen', 8],
        ['sources[3].advertisedAddress', 11],
        ['sources[4].upstream', 14],
        ['sources[4].proxyProtocol', 15],
      ],
    );
    assert.match(err.errors[2]!.message, /listen address "nonsense" is not host:port/);
    assert.match(err.errors[4]!.message, /names no host|is not a URI/);
  });
});
