/**
 * What makes a remediation write cheaper without changing its verdict (issue 12 item 3), without
 * a database: the statement policy's plan cache (keyed by database, parameter shape and text;
 * both screens still run on every call; emptied on demand and on connectivity changes; failures
 * not cached) and the audit log's batched appends (chain order kept, mixed with synchronous
 * appends, durable once fsynced, flushed at stop).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { AuditLog, verifyAuditLog } from '../../daemon/audit/audit-log.js';
import type { ConnectivityListener, Database } from '../../daemon/db/database.js';
import { NamePolicy } from '../../daemon/db/name-policy.js';
import { StatementPolicy } from '../../daemon/db/statement-policy.js';

/** A Database that answers EXPLAIN with a one-operator plan and counts what it was sent. */
function fakeDb(fail = false) {
  const sent: Array<{ cypher: string; database: string | undefined }> = [];
  const listeners: ConnectivityListener[] = [];
  const db = {
    defaultDatabase: 'neo4j',
    onConnectivity: (l: ConnectivityListener) => void listeners.push(l),
    run: async (cypher: string, _params: Record<string, unknown>, opts: { database?: string }) => {
      sent.push({ cypher, database: opts.database });
      if (fail) throw new Error('Invalid input');
      return { rows: [], summary: { queryType: 'w', plan: { operatorType: 'Create@neo4j', arguments: { Details: '(n:X)' }, children: [] } } };
    },
  };
  return { db: db as unknown as Database, sent, drop: (up: boolean) => listeners.forEach((l) => l(up, 'test')) };
}

describe('the plan cache of the statement policy', () => {
  it('EXPLAINs one statement text once per database and parameter shape', async () => {
    const f = fakeDb();
    const p = new StatementPolicy(f.db, new NamePolicy());
    const w = { purpose: 'write' as const };
    for (let i = 0; i < 5; i++) assert.equal((await p.check('CREATE (n:X {i: $i})', { i: i }, w)).ok, true);
    assert.equal(f.sent.length, 1);
    await p.check('CREATE (n:X {i: $i})', { i: 'text' }, w); // another shape
    await p.check('CREATE (n:X {i: $i})', { i: 1 }, { ...w, database: 'other' }); // another database
    await p.check('CREATE (n:X {i: $i}) ', { i: 1 }, w); // another text
    assert.equal(f.sent.length, 4);
    assert.deepEqual([p.planHits, p.planMisses], [4, 4]);
    const hit = await p.check('CREATE (n:X {i: $i})', { i: 9 }, w);
    assert.ok(hit.ok && hit.timing?.cached);
  });

  it('still screens the tokens and parameter values of every call', async () => {
    const f = fakeDb();
    const p = new StatementPolicy(f.db, new NamePolicy());
    assert.equal((await p.check('CREATE (n:X {v: $v})', { v: 'ok' }, { purpose: 'write' })).ok, true);
    const r = await p.check('CREATE (n:X {v: $v})', { v: 'HeimdallOutbox' }, { purpose: 'write' });
    assert.equal(r.ok, false);
    assert.equal(!r.ok && r.refusal.rule, 'heimdall-state');
    assert.equal(f.sent.length, 1);
  });

  it('hands out copies, forgets on demand and when the connection changes, and never keeps a failure', async () => {
    const f = fakeDb();
    const p = new StatementPolicy(f.db, new NamePolicy());
    const a = await p.check('CREATE (n:X)', {}, { purpose: 'write' });
    assert.ok(a.ok);
    a.classification.details!['operators'] = ['tampered'];
    const b = await p.check('CREATE (n:X)', {}, { purpose: 'write' });
    assert.ok(b.ok);
    assert.deepEqual(b.classification.details!['operators'], ['Create']);
    p.forgetPlans();
    await p.check('CREATE (n:X)', {}, { purpose: 'write' });
    f.drop(false);
    await p.check('CREATE (n:X)', {}, { purpose: 'write' });
    assert.equal(f.sent.length, 3);
    const g = fakeDb(true);
    const q = new StatementPolicy(g.db, new NamePolicy());
    await assert.rejects(q.check('CREATE (n:X)', {}, { purpose: 'write' }));
    await assert.rejects(q.check('CREATE (n:X)', {}, { purpose: 'write' }));
    assert.equal(g.sent.length, 2);
  });
});

describe('batched audit appends', () => {
  it('keep the chain in order beside synchronous appends, settle once fsynced, and flush', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'heimdall-audit-batched-')), 'audit.jsonl');
    const log = new AuditLog(path, pino({ level: 'silent' }));
    const durable: Array<Promise<void>> = [];
    for (let i = 0; i < 50; i++) {
      if (i % 7 === 0) log.append({ type: 'sync', i });
      else {
        const r = log.appendBatched({ type: 'batched', i });
        assert.equal(r.record.seq, i + 1);
        durable.push(r.durable);
      }
      // written before the call returns
      assert.equal(readFileSync(path, 'utf8').split('\n').filter(Boolean).length, i + 1);
    }
    await Promise.all(durable);
    const last = log.appendBatched({ type: 'batched', i: 50 });
    log.flush();
    await last.durable;
    const v = verifyAuditLog(path);
    assert.deepEqual([v.ok, v.entries], [true, 51]);
    const types = readFileSync(path, 'utf8').split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { i: number }).i);
    assert.deepEqual(types, Array.from({ length: 51 }, (_, i) => i));
  });
});
