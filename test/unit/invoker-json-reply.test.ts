/** The JSON reply protocol parser (JSON mode of the tool loop). */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseJsonReply } from '../../daemon/invoker/json-reply.js';

describe('parseJsonReply', () => {
  it('reads a bare action object', () => {
    assert.deepEqual(parseJsonReply('{"action": "heimdall.a.b", "params": {"x": 1}}'), { kind: 'calls', calls: [{ action: 'heimdall.a.b', params: { x: 1 } }] });
  });

  it('reads an action inside a code fence with prose around it', () => {
    const text = 'Let me look that up.\n```json\n{"action": "heimdall.a.b", "params": {"key": "k"}}\n```\nThanks.';
    assert.deepEqual(parseJsonReply(text), { kind: 'calls', calls: [{ action: 'heimdall.a.b', params: { key: 'k' } }] });
  });

  it('keeps braces and quotes inside strings intact', () => {
    const text = 'Sure: {"action":"heimdall.db.query","params":{"cypher":"MATCH (n {name: \\"a}b\\"}) RETURN n"}} and nothing else';
    const r = parseJsonReply(text);
    assert.equal(r.kind, 'calls');
    assert.equal((r as unknown as { calls: Array<{ params: { cypher: string } }> }).calls[0]!.params.cypher, 'MATCH (n {name: "a}b"}) RETURN n');
  });

  it('accepts a list of calls, "arguments" for params, params as a JSON string, and trailing commas', () => {
    const r = parseJsonReply('[{"action":"heimdall.a.x","arguments":{"n":1},}, {"action":"heimdall.a.y","params":"{\\"m\\":2}"}]');
    assert.deepEqual(r, { kind: 'calls', calls: [{ action: 'heimdall.a.x', params: { n: 1 } }, { action: 'heimdall.a.y', params: { m: 2 } }] });
  });

  it('treats plain text as the answer, and {"answer": ...} too', () => {
    assert.deepEqual(parseJsonReply('All 5 failures came from one user.'), { kind: 'answer', text: 'All 5 failures came from one user.' });
    assert.deepEqual(parseJsonReply('{"answer": "done"}'), { kind: 'answer', text: 'done' });
    assert.deepEqual(parseJsonReply('The map {a: 1} is not an action.'), { kind: 'answer', text: 'The map {a: 1} is not an action.' });
  });

  it('reports a broken action object as malformed instead of answering with it', () => {
    const r = parseJsonReply('{"action": "heimdall.a.b", "params": {"key": "x"');
    assert.equal(r.kind, 'malformed');
    assert.match((r as { error: string }).error, /no valid JSON object/);
    const r2 = parseJsonReply('{"action": 42}');
    assert.equal(r2.kind, 'malformed');
    const r3 = parseJsonReply('{"action": "heimdall.a.b", "params": [1]}');
    assert.equal(r3.kind, 'malformed');
    assert.match((r3 as { error: string }).error, /must be a JSON object/);
  });
});
