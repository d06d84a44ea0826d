/**
 * The error catalogue is the one place codes live: every code used in the source exists there and
 * in docs/errors.md with the same meaning and HTTP status, code elsewhere names codes through the
 * ErrorCode constants (never a raw string), and every error class is a HeimdallError.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyRequest } from 'fastify';
import { ConfigError } from '../../config/errors.js';
import { HttpError, STATUS_BY_CODE, statusForCode, toHttpError } from '../../daemon/http/errors.js';
import {
  ERROR_CODES, ErrorCode, deserializeError, isErrorCode, serializeError, ActionNotFoundError, HeimdallError, PolicyDeniedError,
} from '../../sdk/errors.js';
import { REPO_ROOT } from '../helpers/paths.js';

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
  });
}

/** The rows of the table in docs/errors.md: code → { status, meaning }. */
function docRows(): Map<string, { status: number; meaning: string }> {
  const doc = readFileSync(join(REPO_ROOT, 'docs/errors.md'), 'utf8');
  const rows = new Map<string, { status: number; meaning: string }>();
  for (const m of doc.matchAll(/^\| `(HMD_ERR_[A-Z0-9_]+)` \| (\d{3}) \| (.*) \|$/gm)) {
    assert.ok(!rows.has(m[1]!), `${m[1]} is listed twice in docs/errors.md`);
    rows.set(m[1]!, { status: Number(m[2]), meaning: m[3]! });
  }
  return rows;
}

test('every HMD_ERR_* code used in daemon/, sdk/ and config/ is in the catalogue and documented', () => {
  const doc = readFileSync(join(REPO_ROOT, 'docs/errors.md'), 'utf8');
  const used = new Set<string>();
  for (const dir of ['daemon', 'sdk', 'config']) {
    for (const f of files(join(REPO_ROOT, dir))) for (const m of readFileSync(f, 'utf8').matchAll(/HMD_ERR_[A-Z_]+[A-Z]/g)) used.add(m[0]);
  }
  for (const code of used) assert.ok(code in ERROR_CODES, `${code} is used but not in sdk/errors.ts`);
  for (const code of Object.keys(ERROR_CODES)) assert.ok(doc.includes(`\`${code}\``), `${code} is missing from docs/errors.md`);
});

test('catalogue, docs/errors.md and the HTTP status map list the same codes with the same meaning and status', () => {
  const rows = docRows();
  assert.deepEqual([...rows.keys()].sort(), Object.keys(ERROR_CODES).sort(), 'docs/errors.md lists exactly the catalogue');
  for (const [code, meaning] of Object.entries(ERROR_CODES)) {
    const row = rows.get(code)!;
    assert.equal(row.meaning, meaning, `the meaning of ${code} differs between sdk/errors.ts and docs/errors.md`);
    assert.equal(row.status, STATUS_BY_CODE[code as ErrorCode], `the HTTP status of ${code} differs between daemon/http/errors.ts and docs/errors.md`);
    assert.ok(row.status >= 400 && row.status < 600, `${code} has the status ${row.status}, which is not an error status`);
  }
  assert.deepEqual(Object.keys(STATUS_BY_CODE).sort(), Object.keys(ERROR_CODES).sort());
  assert.equal(statusForCode('HMD_ERR_NOT_FOUND'), 404);
  assert.equal(statusForCode('ERR_SOMETHING_ELSE'), 500);
  assert.equal(statusForCode('constructor'), 500, 'only own keys of the catalogue are codes');
});

test('the ErrorCode constants are the catalogue codes, each naming itself', () => {
  assert.deepEqual(Object.keys(ErrorCode).sort(), Object.keys(ERROR_CODES).sort());
  for (const [k, v] of Object.entries(ErrorCode)) assert.equal(v, k);
  assert.ok(Object.isFrozen(ErrorCode));
  assert.equal(ErrorCode.HMD_ERR_CONFLICT, 'HMD_ERR_CONFLICT');
  assert.ok(isErrorCode('HMD_ERR_CONFIG'));
  assert.ok(!isErrorCode('HMD_ERR_NOPE'));
  assert.ok(!isErrorCode('toString'));
  assert.ok(!isErrorCode(42));
});

test('no raw HMD_ERR_* string outside the catalogue in daemon/ and config/ (tools/codemod-error-codes.mjs --check)', () => {
  const r = spawnSync(process.execPath, [join(REPO_ROOT, 'tools/codemod-error-codes.mjs'), '--check'], { cwd: REPO_ROOT, encoding: 'utf8' });
  assert.equal(r.status, 0, `${r.stderr}${r.stdout}\nRun node tools/codemod-error-codes.mjs to replace them with ErrorCode constants.`);
  assert.match(r.stdout, /No raw error codes/);
});

test('errors survive serialisation into their class with code and details', () => {
  const e = deserializeError(serializeError(new ActionNotFoundError('nope', { action: 'a', suggestions: ['b'] })));
  assert.ok(e instanceof ActionNotFoundError);
  assert.equal((e as HeimdallError).code, 'HMD_ERR_ACTION_NOT_FOUND');
  assert.deepEqual((e as HeimdallError).details, { action: 'a', suggestions: ['b'] });
  const plain = deserializeError({ name: 'TypeError', code: 'ERR_X', message: 'm' });
  assert.equal((plain as Error & { code: string }).code, 'ERR_X');
});

test('HttpError and ConfigError are HeimdallErrors: one base class with code, message and details', () => {
  const h = new HttpError(405, 'HMD_ERR_METHOD_NOT_ALLOWED', 'no', { allowed: ['GET'] }, { allow: 'GET' });
  assert.ok(h instanceof HeimdallError);
  assert.equal(h.name, 'HttpError');
  assert.equal(h.statusCode, 405);
  assert.deepEqual(h.headers, { allow: 'GET' });
  assert.deepEqual(h.toJSON(), { name: 'HttpError', code: 'HMD_ERR_METHOD_NOT_ALLOWED', message: 'no', details: { allowed: ['GET'] } });

  const issues = [{ path: 'server.port', line: 2, column: 9, message: 'bad port' }];
  const c = new ConfigError(issues, 'h.yaml');
  assert.ok(c instanceof HeimdallError);
  assert.equal(c.name, 'ConfigError');
  assert.equal(c.code, 'HMD_ERR_CONFIG');
  assert.deepEqual(c.details, { file: 'h.yaml', errors: issues });
  assert.deepEqual(c.toJSON(), { name: 'ConfigError', code: 'HMD_ERR_CONFIG', message: 'h.yaml:2:9 server.port: bad port', details: { file: 'h.yaml', errors: issues } });
  const back = deserializeError(serializeError(c));
  assert.ok(back instanceof HeimdallError);
  assert.equal((back as HeimdallError).code, 'HMD_ERR_CONFIG');
  assert.deepEqual((back as HeimdallError).details, { file: 'h.yaml', errors: issues });
});

test('the HTTP layer maps any HeimdallError to its status and keeps an HttpError as it is', () => {
  const req = { method: 'POST', url: '/v1/x?y=1', headers: {}, routeOptions: {} } as unknown as FastifyRequest;
  const h = new HttpError(401, 'HMD_ERR_UNAUTHORIZED', 'token');
  assert.equal(toHttpError(h, req, 1024), h);
  const p = toHttpError(new PolicyDeniedError('refused', { rule: 'r' }), req, 1024);
  assert.deepEqual([p.statusCode, p.code, p.message, p.details], [403, 'HMD_ERR_POLICY_DENIED', 'refused', { rule: 'r' }]);
  const c = toHttpError(new ConfigError([{ path: '', message: 'broken' }]), req, 1024);
  assert.deepEqual([c.statusCode, c.code], [400, 'HMD_ERR_CONFIG']);
  const i = toHttpError(new Error('boom'), req, 1024);
  assert.deepEqual([i.statusCode, i.code], [500, 'HMD_ERR_INTERNAL']);
  assert.match(i.message, /while handling POST \/v1\/x: boom/);
});
