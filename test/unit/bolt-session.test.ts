/**
 * The tap of one connection (handshake → framing → messages → session → events), driven with whole
 * Bolt conversations as bytes, delivered whole, split at every byte boundary, and byte by byte.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { DatabaseEvent } from '../../sdk/events.js';
import type { CaptureParams } from '../../daemon/sources/bolt-proxy/values.js';
import { PackReader, PackStruct } from '../../daemon/sources/bolt-proxy/packstream.js';
import { ConnectionTap } from '../../daemon/sources/bolt-proxy/tap.js';
import { clientHandshake, hex, msg, S } from '../helpers/bolt-wire.js';

type Step = ['c' | 's', Buffer] | ['close'];

interface Run {
  events: DatabaseEvent[];
  passThrough: string[];
  toClient: Buffer;
  tap: ConnectionTap;
  counters: { authFailures: number; routeRewrites: number };
}

/** Runs the steps through one tap; `pieces` splits every step's bytes at those offsets. */
function runTap(steps: Step[], opts: { captureParams?: CaptureParams; maxQueryChars?: number; pieces?: (b: Buffer) => Buffer[] } = {}): Run {
  const events: DatabaseEvent[] = [];
  const passThrough: string[] = [];
  const out: Buffer[] = [];
  const counters = { authFailures: 0, routeRewrites: 0 };
  const tap = new ConnectionTap({
    connectionId: 'c1',
    settings: { captureParams: opts.captureParams ?? 'keys', maxQueryChars: opts.maxQueryChars ?? 4096, defaultDatabase: 'neo4j' },
    advertisedAddress: () => 'proxy:7688',
    emit: (e) => events.push(e),
    counters,
    onPassThrough: (r) => passThrough.push(r),
  });
  const write = (b: Buffer): void => void out.push(Buffer.from(b));
  for (const step of steps) {
    if (step[0] === 'close') {
      tap.close();
      continue;
    }
    const [side, bytes] = step;
    for (const piece of opts.pieces ? opts.pieces(bytes) : [bytes]) {
      if (side === 'c') tap.client(piece);
      else if (tap.serverRewriting) tap.forwardServer(piece, write);
      else {
        write(piece);
        tap.server(piece);
      }
    }
  }
  return { events, passThrough, toClient: Buffer.concat(out), tap, counters };
}

const MANIFEST_58 = hex('000001ff 01 00080805 00');
const SELECT_58 = hex('00000805 00');
const opening58: Step[] = [
  ['c', clientHandshake([255, 1], [5, 8, 8], [4, 4, 2], [3, 0])],
  ['s', MANIFEST_58],
  ['c', SELECT_58],
  ['c', Buffer.concat([msg(S.HELLO, { user_agent: 'app/1.0', bolt_agent: { product: 'x' } }), msg(S.LOGON, { scheme: 'basic', principal: 'alice', credentials: 's3cret-pw' })])],
  ['s', Buffer.concat([msg(S.SUCCESS, { server: 'Neo4j/5.26.19', connection_id: 'bolt-7' }), msg(S.SUCCESS, {})])],
];

const autoCommitAndTx: Step[] = [
  ...opening58,
  ['c', Buffer.concat([msg(S.RUN, 'CREATE (n:X {a: $a, s: $s})', { a: 1, s: 'secret-value' }, { db: 'neo4j', tx_metadata: { app: 'shop' } }), msg(S.PULL, { n: 1000 })])],
  ['s', Buffer.concat([msg(S.SUCCESS, { t_first: 2, fields: [] }), msg(S.SUCCESS, { stats: { 'nodes-created': 1, 'properties-set': 2, 'contains-updates': true }, type: 'w', t_last: 1, bookmark: 'FB:1', db: 'neo4j' })])],
  ['c', Buffer.concat([msg(S.BEGIN, { db: 'shop', tx_metadata: { purpose: 'report' }, mode: 'r' }), msg(S.RUN, 'MATCH (n) RETURN n', {}, {}), msg(S.PULL, { n: 2 })])],
  ['s', Buffer.concat([msg(S.SUCCESS, {}), msg(S.SUCCESS, { t_first: 1, fields: ['n'], qid: 0 }), msg(S.RECORD, [1]), msg(S.RECORD, [2]), msg(S.SUCCESS, { has_more: true })])],
  ['c', Buffer.concat([msg(S.RUN, 'RETURN 1 AS one', {}, {}), msg(S.PULL, { n: 2, qid: 0 })])],
  ['s', Buffer.concat([msg(S.SUCCESS, { t_first: 0, fields: ['one'], qid: 1 }), msg(S.RECORD, [3]), msg(S.SUCCESS, { type: 'r', t_last: 3, db: 'shop' })])],
  ['c', Buffer.concat([msg(S.PULL, { n: -1, qid: 1 }), msg(S.COMMIT)])],
  ['s', Buffer.concat([msg(S.RECORD, [1]), msg(S.SUCCESS, { type: 'r', t_last: 0, db: 'shop' }), msg(S.SUCCESS, { bookmark: 'FB:2' })])],
  ['c', msg(S.GOODBYE)],
  ['close'],
];

/** Events without the fields that depend on the clock, for comparing runs. */
const stable = (evs: DatabaseEvent[]) => evs.map(({ timestamp: _t, durationMs: _d, ...rest }) => rest);

describe('ConnectionTap: a Bolt 5.8 conversation (manifest handshake, LOGON, auto-commit and a pipelined explicit transaction)', () => {
  const run = runTap(autoCommitAndTx);

  it('gives query.executed with the pinned fields for an auto-commit write', () => {
    const e = run.events[0]!;
    assert.equal(e.type, 'query.executed');
    assert.equal(e.source, 'bolt-proxy');
    assert.equal(e.query, 'CREATE (n:X {a: $a, s: $s})');
    assert.deepEqual(e.queryParams, { a: 'Integer', s: 'String' });
    assert.equal(e.database, 'neo4j');
    assert.equal(e.userId, 'alice');
    assert.equal(e.requestId, 'c1');
    assert.equal(e.txId, 'c1:1');
    assert.equal(e.rowsAffected, 3);
    assert.equal(typeof e.durationMs, 'number');
    assert.ok(e.durationMs! >= 0);
    assert.equal(e.error, undefined);
    assert.deepEqual(e.metadata, {
      tx: { app: 'shop' },
      bolt: {
        version: '5.8',
        userAgent: 'app/1.0',
        serverConnectionId: 'bolt-7',
        queryType: 'w',
        stats: { nodesCreated: 1, propertiesSet: 2, containsUpdates: true },
        autoCommit: true,
        tFirstMs: 2,
        tLastMs: 1,
        bookmark: 'FB:1',
        records: 0,
        fields: 0,
      },
    });
  });

  it('pairs PULLs with their results by qid and counts records across PULLs (has_more)', () => {
    const [, match, one, commit] = run.events;
    assert.equal(match!.type, 'query.executed');
    assert.equal(match!.query, 'MATCH (n) RETURN n');
    assert.equal(match!.rowsAffected, 3);
    assert.equal(match!.database, 'shop');
    assert.equal(match!.txId, 'c1:2');
    assert.equal((match!.metadata!.bolt as Record<string, unknown>).records, 3);
    assert.equal((match!.metadata!.bolt as Record<string, unknown>).autoCommit, false);
    assert.equal((match!.metadata!.bolt as Record<string, unknown>).tLastMs, 3);
    assert.deepEqual(match!.metadata!.tx, { purpose: 'report' });
    assert.equal(one!.query, 'RETURN 1 AS one');
    assert.equal(one!.rowsAffected, 1);
    assert.equal(commit!.type, 'transaction.commit');
    assert.equal(commit!.txId, 'c1:2');
    assert.equal(commit!.database, 'shop');
    assert.equal(commit!.userId, 'alice');
    assert.deepEqual(commit!.metadata!.bolt, { version: '5.8', userAgent: 'app/1.0', serverConnectionId: 'bolt-7', statements: 2, autoCommit: false, reason: 'commit', mode: 'r', bookmark: 'FB:2' });
    assert.equal(run.events.length, 4);
  });

  it('never carries credentials, and hands every server byte on unchanged', () => {
    assert.ok(!JSON.stringify(run.events).includes('s3cret-pw'));
    const serverBytes = Buffer.concat(autoCommitAndTx.filter((s) => s[0] === 's').map((s) => s[1] as Buffer));
    assert.deepEqual(run.toClient, serverBytes);
    assert.deepEqual(run.passThrough, []);
  });

  it('gives the same events when every packet is split at any one byte, and when sent byte by byte', () => {
    const expected = stable(run.events);
    const longest = Math.max(...autoCommitAndTx.map((s) => (s[0] === 'close' ? 0 : s[1].length)));
    for (let i = 1; i < longest; i++) {
      const r = runTap(autoCommitAndTx, { pieces: (b) => (i < b.length ? [b.subarray(0, i), b.subarray(i)] : [b]) });
      assert.deepEqual(stable(r.events), expected, `split at ${i}`);
      assert.deepEqual(r.passThrough, []);
    }
    const bytewise = runTap(autoCommitAndTx, { pieces: (b) => Array.from({ length: b.length }, (_, k) => b.subarray(k, k + 1)) });
    assert.deepEqual(stable(bytewise.events), expected);
  });

  it('captureParams full gives JSON-safe values, none gives no queryParams; maxQueryChars cuts with a marker', () => {
    const full = runTap(autoCommitAndTx, { captureParams: 'full', maxQueryChars: 10 });
    assert.deepEqual(full.events[0]!.queryParams, { a: 1, s: 'secret-val…[cut by Heimdall: 12 characters in all]' });
    assert.equal(full.events[0]!.query, 'CREATE (n:…[cut by Heimdall: 27 characters in all]');
    assert.equal((full.events[0]!.metadata!.bolt as Record<string, unknown>).queryChars, 27);
    const none = runTap(autoCommitAndTx, { captureParams: 'none' });
    assert.equal('queryParams' in none.events[0]!, false);
  });
});

describe('ConnectionTap: failures', () => {
  it('5.7+ GQL failure inside an explicit transaction: query.failed and its rollback, then nothing for the RESET', () => {
    const run = runTap([
      ...opening58,
      ['c', Buffer.concat([msg(S.BEGIN, {}), msg(S.RUN, 'CREATE (:U {id: $id})', { id: 1 }, {}), msg(S.PULL, { n: 1000 })])],
      [
        's',
        Buffer.concat([
          msg(S.SUCCESS, {}),
          msg(S.SUCCESS, { t_first: 1, fields: [], qid: 0 }),
          msg(S.FAILURE, { neo4j_code: 'Neo.ClientError.Schema.ConstraintValidationFailed', message: 'Node(1) already exists', gql_status: '22N41', description: 'error: data exception', diagnostic_record: { OPERATION: '' } }),
        ]),
      ],
      ['c', msg(S.RESET)],
      ['s', msg(S.SUCCESS, {})],
    ]);
    assert.deepEqual(run.events.map((e) => e.type), ['query.failed', 'transaction.rollback']);
    const [f, rb] = run.events;
    assert.equal(f!.error, 'Neo.ClientError.Schema.ConstraintValidationFailed: Node(1) already exists');
    assert.equal((f!.metadata!.bolt as Record<string, unknown>).gqlStatus, '22N41');
    assert.equal(f!.txId, 'c1:1');
    assert.equal(f!.userId, 'alice');
    assert.equal(rb!.txId, 'c1:1');
    assert.equal(rb!.error, f!.error);
    assert.equal((rb!.metadata!.bolt as Record<string, unknown>).reason, 'failure');
    assert.equal((rb!.metadata!.bolt as Record<string, unknown>).statements, 1);
  });

  it('Bolt 4.4 (legacy handshake, principal in HELLO): {code, message} failure, IGNORED PULL, RESET', () => {
    const run = runTap([
      ['c', clientHandshake([4, 4], [4, 3])],
      ['s', hex('00000404')],
      ['c', msg(S.HELLO, { user_agent: 'py/5', scheme: 'basic', principal: 'bob', credentials: 'pw-44' })],
      ['s', msg(S.SUCCESS, { server: 'Neo4j/5.26.19', connection_id: 'bolt-9' })],
      ['c', Buffer.concat([msg(S.RUN, 'RETRN 1', {}, {}), msg(S.PULL, { n: -1 })])],
      ['s', Buffer.concat([msg(S.FAILURE, { code: 'Neo.ClientError.Statement.SyntaxError', message: "Invalid input 'RETRN'" }), msg(S.IGNORED)])],
      ['c', msg(S.RESET)],
      ['s', msg(S.SUCCESS, {})],
    ]);
    assert.equal(run.events.length, 1);
    const e = run.events[0]!;
    assert.equal(e.type, 'query.failed');
    assert.equal(e.error, "Neo.ClientError.Statement.SyntaxError: Invalid input 'RETRN'");
    assert.equal(e.userId, 'bob');
    assert.equal(e.database, 'neo4j');
    assert.equal((e.metadata!.bolt as Record<string, unknown>).version, '4.4');
    assert.equal((e.metadata!.bolt as Record<string, unknown>).gqlStatus, undefined);
    assert.equal((e.metadata!.bolt as Record<string, unknown>).autoCommit, true);
    assert.ok(!JSON.stringify(run.events).includes('pw-44'));
  });

  it('Bolt 6.0 (offered through the manifest by a newer server) is read like 5.x', () => {
    const run = runTap([
      ['c', clientHandshake([255, 1], [6, 1, 1], [5, 8, 8])],
      ['s', hex('000001ff 02 00010106 00080805 00')],
      ['c', hex('00000006 00')],
      ['c', Buffer.concat([msg(S.HELLO, { user_agent: 'next/6' }), msg(S.LOGON, { scheme: 'basic', principal: 'carol', credentials: 'x' })])],
      ['s', Buffer.concat([msg(S.SUCCESS, {}), msg(S.SUCCESS, {})])],
      ['c', Buffer.concat([msg(S.RUN, 'RETURN $v AS v', { v: [1.5, 2.5] }, {}), msg(S.PULL, { n: -1 })])],
      ['s', Buffer.concat([msg(S.SUCCESS, { fields: ['v'] }), msg(S.RECORD, [[1.5, 2.5]]), msg(S.SUCCESS, { type: 'r', db: 'neo4j' })])],
    ]);
    assert.deepEqual(run.passThrough, []);
    assert.equal(run.events.length, 1);
    assert.equal((run.events[0]!.metadata!.bolt as Record<string, unknown>).version, '6.0');
    assert.equal(run.events[0]!.userId, 'carol');
    assert.deepEqual(run.events[0]!.queryParams, { v: 'List' });
  });

  it('counts a failed LOGON as an authentication failure', () => {
    const run = runTap([
      ...opening58.slice(0, 3),
      ['c', Buffer.concat([msg(S.HELLO, { user_agent: 'a' }), msg(S.LOGON, { scheme: 'basic', principal: 'x', credentials: 'bad' })])],
      ['s', Buffer.concat([msg(S.SUCCESS, {}), msg(S.FAILURE, { neo4j_code: 'Neo.ClientError.Security.Unauthorized', message: 'no', gql_status: '42NFF' })])],
    ]);
    assert.equal(run.counters.authFailures, 1);
    assert.equal(run.events.length, 0);
  });

  it('an explicit ROLLBACK, and a connection closing mid-stream (result incomplete, open transaction rolled back)', () => {
    const run = runTap([
      ...opening58,
      ['c', Buffer.concat([msg(S.BEGIN, {}), msg(S.RUN, 'CREATE ()', {}, {}), msg(S.PULL, { n: -1 }), msg(S.ROLLBACK)])],
      ['s', Buffer.concat([msg(S.SUCCESS, {}), msg(S.SUCCESS, { qid: 0 }), msg(S.SUCCESS, { stats: { 'nodes-created': 1 }, type: 'w' }), msg(S.SUCCESS, {})])],
      ['c', Buffer.concat([msg(S.BEGIN, {}), msg(S.RUN, 'UNWIND range(1, 1000000) AS i RETURN i', {}, {}), msg(S.PULL, { n: -1 })])],
      ['s', Buffer.concat([msg(S.SUCCESS, {}), msg(S.SUCCESS, { qid: 0, t_first: 0 }), msg(S.RECORD, [1]), msg(S.RECORD, [2])])],
      ['close'],
    ]);
    assert.deepEqual(run.events.map((e) => [e.type, (e.metadata!.bolt as Record<string, unknown>).reason ?? null]), [
      ['query.executed', null],
      ['transaction.rollback', 'rollback'],
      ['query.failed', null],
      ['transaction.rollback', 'connection closed'],
    ]);
    const cut = run.events[2]!;
    assert.match(cut.error!, /^Heimdall\.BoltProxy\.ConnectionClosed: /);
    assert.equal((cut.metadata!.bolt as Record<string, unknown>).incomplete, true);
    assert.equal((cut.metadata!.bolt as Record<string, unknown>).records, 2);
    assert.equal(run.events[1]!.txId, 'c1:1');
    assert.equal(run.events[3]!.txId, 'c1:2');
  });
});

describe('ConnectionTap: origin, ROUTE, pass-through', () => {
  it('marks the daemon\'s own connections and transactions with metadata.origin', () => {
    const steps = (ua: string, meta: Record<string, unknown>): Step[] => [
      ...opening58.slice(0, 3),
      ['c', Buffer.concat([msg(S.HELLO, { user_agent: ua }), msg(S.LOGON, { scheme: 'none' })])],
      ['s', Buffer.concat([msg(S.SUCCESS, {}), msg(S.SUCCESS, {})])],
      ['c', Buffer.concat([msg(S.RUN, 'RETURN 1', {}, { tx_metadata: meta }), msg(S.PULL, { n: -1 })])],
      ['s', Buffer.concat([msg(S.SUCCESS, {}), msg(S.RECORD, [1]), msg(S.SUCCESS, { type: 'r' })])],
    ];
    assert.deepEqual(runTap(steps('heimdall', {})).events[0]!.metadata!.origin, { plugin: 'heimdall' });
    assert.deepEqual(runTap(steps('app', { app: 'heimdall', plugin: 'audit', action: 'remediate', invocationId: 'i-1' })).events[0]!.metadata!.origin, {
      plugin: 'audit',
      action: 'remediate',
      invocationId: 'i-1',
    });
    assert.equal(runTap(steps('app', { app: 'shop' })).events[0]!.metadata!.origin, undefined);
  });

  it('rewrites the ROUTE answer (and only it) even when it shares a packet with other answers or is split anywhere', () => {
    const route = msg(S.SUCCESS, { rt: { servers: [{ addresses: ['10.0.0.1:7687'], role: 'WRITE' }, { addresses: ['10.0.0.1:7687', '10.0.0.2:7687'], role: 'READ' }], ttl: 300, db: 'neo4j' } });
    const before = msg(S.SUCCESS, { connection_id: 'bolt-1' });
    const after = Buffer.concat([msg(S.SUCCESS, {}), msg(S.SUCCESS, { fields: [] })]);
    const steps: Step[] = [
      ...opening58.slice(0, 3),
      ['c', Buffer.concat([msg(S.HELLO, { user_agent: 'a' }), msg(S.ROUTE, { address: 'proxy:7688' }, [], { db: 'neo4j' }), msg(S.BEGIN, {}), msg(S.RUN, 'RETURN 1', {}, {})])],
      ['s', Buffer.concat([before, hex('0000'), route, after])],
    ];
    const check = (r: Run, label: string): void => {
      assert.deepEqual(r.passThrough, [], label);
      assert.equal(r.counters.routeRewrites, 1, label);
      const out = r.toClient.subarray(MANIFEST_58.length);
      assert.deepEqual(out.subarray(0, before.length + 2), Buffer.concat([before, hex('0000')]), `${label}: bytes before the ROUTE answer unchanged`);
      assert.deepEqual(out.subarray(out.length - after.length), after, `${label}: bytes after it unchanged`);
      const rewritten = out.subarray(before.length + 2, out.length - after.length);
      const body = rewritten.subarray(2, rewritten.length - 2);
      const s = new PackReader(body).value() as PackStruct;
      const rt = (s.fields[0] as { rt: { servers: Array<{ addresses: string[] }>; ttl: number } }).rt;
      assert.deepEqual(rt.servers.map((x) => x.addresses), [['proxy:7688'], ['proxy:7688']], label);
      assert.equal(rt.ttl, 300);
    };
    check(runTap(steps), 'whole');
    const server = steps[steps.length - 1]![1] as Buffer;
    for (let i = 1; i < server.length; i++) check(runTap(steps, { pieces: (b) => (b === server ? [b.subarray(0, i), b.subarray(i)] : [b]) }), `split at ${i}`);
    check(runTap(steps, { pieces: (b) => (b === server ? Array.from({ length: b.length }, (_, k) => b.subarray(k, k + 1)) : [b]) }), 'byte by byte');
  });

  it('turns a connection it cannot follow into pass-through once, and keeps relaying', () => {
    const garbage = runTap([...opening58, ['c', hex('0002b155 0000')], ['c', msg(S.RUN, 'RETURN 1', {}, {})], ['s', hex('0003b170a0 0000')]]);
    assert.equal(garbage.passThrough.length, 1);
    assert.match(garbage.passThrough[0]!, /0x55 is not a Bolt request signature/);
    assert.ok(garbage.tap.passThrough);
    assert.deepEqual(garbage.events, []);
    const notPack = runTap([...opening58, ['c', hex('0003b110c7 0000')]]);
    assert.equal(notPack.passThrough.length, 1);
    const v3 = runTap([['c', clientHandshake([3, 0])], ['s', hex('00000003')], ['c', msg(S.RUN, 'RETURN 1', {}, {})]]);
    assert.match(v3.passThrough[0]!, /Bolt 3\.0, which this proxy does not read/);
    // A summary that answers nothing (Neo4j sends SUCCESS {} when it shuts down) is ignored; a RECORD with no PULL is not followed.
    const shutdown = runTap([...opening58, ['s', msg(S.SUCCESS, {})]]);
    assert.deepEqual(shutdown.passThrough, []);
    assert.equal(shutdown.tap.session!.unsolicited, 1);
    const orphan = runTap([...opening58, ['s', msg(S.RECORD, [1])]]);
    assert.match(orphan.passThrough[0]!, /RECORD arrived while the next answer was for no request/);
    const notBolt = runTap([['c', Buffer.from('GET / HTTP/1.1\r\n\r\n')]]);
    assert.equal(notBolt.passThrough.length, 1);
    assert.ok(new PackStruct(0, []));
  });
});
