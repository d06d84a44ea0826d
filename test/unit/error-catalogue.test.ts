/** The error catalogue is the one place codes live: every code used in the source exists there and in docs/errors.md. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ERROR_CODES, deserializeError, serializeError, ActionNotFoundError, HeimdallError } from '../../sdk/errors.js';
import { REPO_ROOT } from '../helpers/paths.js';

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
  });
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

test('errors survive serialisation into their class with code and details', () => {
  const e = deserializeError(serializeError(new ActionNotFoundError('nope', { action: 'a', suggestions: ['b'] })));
  assert.ok(e instanceof ActionNotFoundError);
  assert.equal((e as HeimdallError).code, 'HMD_ERR_ACTION_NOT_FOUND');
  assert.deepEqual((e as HeimdallError).details, { action: 'a', suggestions: ['b'] });
  const plain = deserializeError({ name: 'TypeError', code: 'ERR_X', message: 'm' });
  assert.equal((plain as Error & { code: string }).code, 'ERR_X');
});
