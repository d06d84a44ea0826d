/** The audit log: appends chain, verify passes, and any edit, removal or reorder is detected (library and CLI). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { AuditLog, verifyAuditLog } from '../../daemon/audit/audit-log.js';
import { CLI } from '../helpers/paths.js';

function makeLog(n: number): string {
  const path = join(mkdtempSync(join(tmpdir(), 'heimdall-audit-')), 'audit.jsonl');
  const log = new AuditLog(path, pino({ level: 'silent' }));
  for (let i = 0; i < n; i++) log.append({ type: 'executor.executed', statement: `CREATE (:N {i: $i})`, params: { i }, plugin: 'p' });
  return path;
}

const cli = (...args: string[]) => spawnSync(process.execPath, [CLI, 'audit', 'verify', ...args], { encoding: 'utf8' });

test('an intact chain verifies, also after reopening and appending', () => {
  const path = makeLog(5);
  const again = new AuditLog(path, pino({ level: 'silent' }));
  const r = again.append({ type: 'executor.denied', statement: 'MATCH (n) DETACH DELETE n' });
  assert.equal(r.seq, 6);
  assert.deepEqual(verifyAuditLog(path), { ok: true, entries: 6 });
  const c = cli('--file', path);
  assert.equal(c.status, 0, c.stderr);
  assert.match(c.stdout, /holds 6 entries and its hash chain is intact/);
});

test('editing, removing or reordering an entry is detected with its line', () => {
  const path = makeLog(5);
  const lines = readFileSync(path, 'utf8').trim().split('\n');
  const edited = [...lines];
  edited[2] = edited[2]!.replace('"i":2', '"i":99');
  writeFileSync(path, `${edited.join('\n')}\n`);
  let r = verifyAuditLog(path);
  assert.equal(r.ok, false);
  assert.equal(r.brokenAtLine, 3);
  assert.match(r.reason!, /was modified/);
  const c = cli('--file', path);
  assert.equal(c.status, 1);
  assert.match(c.stderr, /failed verification after 2 good entries/);

  writeFileSync(path, `${[lines[0], lines[1], lines[3], lines[4]].join('\n')}\n`);
  r = verifyAuditLog(path);
  assert.equal(r.ok, false);
  assert.equal(r.brokenAtLine, 3);

  writeFileSync(path, `${[lines[1], lines[0], ...lines.slice(2)].join('\n')}\n`);
  assert.equal(verifyAuditLog(path).brokenAtLine, 1);
  const j = cli('--file', path, '--json');
  assert.equal(j.status, 1);
  assert.equal(JSON.parse(j.stdout).ok, false);
});
