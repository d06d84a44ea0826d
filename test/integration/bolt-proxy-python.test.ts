/**
 * A client the project does not write in JavaScript: the official Python `neo4j` package (from
 * PyPI, in test/python/.venv, installed by .ci/run) runs test/python/bolt_client.py through the real
 * proxy to the real Neo4j. The test fails, never skips, when the venv is missing.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../neo4j/launcher.js';
import { testNeo4j } from '../helpers/neo4j.js';
import { bolt, ofType, startTestProxy, type TestProxy } from '../helpers/bolt-proxy.js';

const root = repoRoot();
const python = join(root, 'test', 'python', '.venv', 'bin', 'python');

describe('bolt-proxy with the Python neo4j driver', () => {
  let proxy: TestProxy;

  before(async () => {
    proxy = await startTestProxy({ captureParams: 'full' });
  });

  after(async () => {
    await proxy?.stop();
  });

  it('observes a Python application: writes, reads, failures, commit and rollback, neo4j:// routing', async () => {
    assert.ok(
      existsSync(python),
      `${python} is missing. .ci/run creates it; by hand: python3 -m venv test/python/.venv && test/python/.venv/bin/pip install -r test/python/requirements.txt`,
    );
    const { user, password } = await testNeo4j();
    // Asynchronously: the proxy runs in this process and must keep relaying while the client runs.
    const child = spawn(python, [join(root, 'test', 'python', 'bolt_client.py')], {
      timeout: 120_000,
      env: { ...process.env, HEIMDALL_BOLT_URI: `bolt://${proxy.address}`, HEIMDALL_BOLT_ROUTING_URI: `neo4j://${proxy.address}`, HEIMDALL_BOLT_USER: user, HEIMDALL_BOLT_PASSWORD: password },
    });
    const r = { stdout: '', stderr: '', status: null as number | null };
    child.stdout.on('data', (d: Buffer) => (r.stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (r.stderr += d.toString()));
    r.status = await new Promise<number | null>((res) => child.on('close', (code) => res(code)));
    assert.equal(r.status, 0, `the Python client failed:\n${r.stderr}`);
    const out = JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, unknown>;
    assert.equal(out.created, 1);
    assert.deepEqual(out.names, ['py']);
    assert.equal(out.syntaxError, 'Neo.ClientError.Statement.SyntaxError');
    assert.equal(out.constraintError, 'Neo.ClientError.Schema.ConstraintValidationFailed');
    assert.equal(out.routed, 'routed');
    assert.equal(out.routedAddress, proxy.address);

    await proxy.waitNoConnections();
    const evs = proxy.events.filter((e) => bolt(e).userAgent === 'heimdall-python-test/1.0');
    for (const e of evs) {
      assert.equal(e.userId, user);
      assert.equal(e.source, 'bolt-proxy');
      assert.equal(bolt(e).version, out.protocol);
    }
    const [create] = ofType(evs, 'query.executed', /^CREATE \(:PyNode/);
    assert.deepEqual(create!.queryParams, { name: 'py', n: 7, tags: ['a', 'b'] });
    assert.equal(bolt(create).autoCommit, true);
    assert.equal(create!.rowsAffected, 1 + 3 + 1);
    const [read] = ofType(evs, 'query.executed', 'MATCH (p:PyNode) RETURN p.name AS name');
    assert.equal(read!.rowsAffected, 1);
    assert.equal(bolt(read).queryType, 'r');
    const failed = ofType(evs, 'query.failed');
    assert.deepEqual(failed.map((e) => e.error!.split(':')[0]), ['Neo.ClientError.Statement.SyntaxError', 'Neo.ClientError.Schema.ConstraintValidationFailed']);
    const commits = ofType(evs, 'transaction.commit').filter((e) => (e.metadata?.tx as { app?: string } | undefined)?.app === 'python-test');
    assert.equal(commits.length, 1);
    assert.equal(bolt(commits[0]).statements, 2);
    const rollbacks = ofType(evs, 'transaction.rollback').filter((e) => bolt(e).reason === 'rollback');
    assert.equal(rollbacks.length, 1);
    assert.equal(bolt(rollbacks[0]).statements, 1);
    assert.ok(ofType(evs, 'query.executed', "RETURN 'routed' AS r").length === 1);
    assert.ok(proxy.source.status().details.routeRewrites >= 1);
    assert.deepEqual(proxy.warnings(), []);
  });
});
