/**
 * Event ids (sdk/checks/event-id.ts): random version 4 UUIDs in the form crypto.randomUUID()
 * gives, distinct across many draws of random bytes, and what the schema check fills in.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { newEventId } from '../../sdk/checks/event-id.js';
import { checkEvent } from '../../sdk/checks/event.js';

const V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('newEventId', () => {
  it('gives version 4 UUIDs, each one different, across many draws', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 10_000; i++) {
      const id = newEventId();
      assert.match(id, V4);
      seen.add(id);
    }
    assert.equal(seen.size, 10_000);
  });

  it('uses every hex digit in every place that is random (no byte left unset between draws)', () => {
    const digits = Array.from({ length: 36 }, () => new Set<string>());
    for (let i = 0; i < 2_000; i++) [...newEventId()].forEach((c, k) => digits[k]!.add(c));
    for (const [k, d] of digits.entries()) {
      if ([8, 13, 18, 23].includes(k)) assert.deepStrictEqual([...d], ['-'], `place ${k} is a dash`);
      else if (k === 14) assert.deepStrictEqual([...d], ['4'], 'the version digit');
      else if (k === 19) assert.deepStrictEqual([...d].sort(), ['8', '9', 'a', 'b'], 'the variant digit');
      else assert.equal(d.size, 16, `place ${k} takes all 16 hex digits`);
    }
  });

  it('is what the schema check gives an event that has no id', () => {
    const c = checkEvent({ type: 'node.created' }, { database: 'neo4j', source: 'http' });
    assert.ok(c.ok);
    assert.match(c.event.id, V4);
  });
});
