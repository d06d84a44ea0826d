/**
 * limits.events alone: the measuring walk (depth, size, plain JSON; iterative, so neither a 5,000-
 * deep value nor a cycle hurts it), the http source refusing such items one by one with the limit
 * named while the rest of the batch goes in, the router refusing them for every other source
 * (counted by source and limit, logged once per interval), and the start-up buffer of the http
 * source.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { DatabaseEvent } from '../../sdk/index.js';
import { measureValue, safePreview } from '../../daemon/router/event-limits.js';
import { Router, type QueueTarget } from '../../daemon/router/router.js';
import { HttpSource } from '../../daemon/sources/http-source.js';

const LIMITS = { maxDepth: 64, maxBytes: 1024 * 1024 };

/** An object nested `levels` deep: { a: { a: … } }. */
function deep(levels: number): Record<string, unknown> {
  const root: Record<string, unknown> = {};
  let o = root;
  for (let i = 1; i < levels; i++) {
    const next: Record<string, unknown> = {};
    o['a'] = next;
    o = next;
  }
  return root;
}

class Target implements QueueTarget {
  readonly name = 't';
  readonly receiveOwnEvents = false;
  readonly got: DatabaseEvent[] = [];
  subscribes(): boolean {
    return true;
  }
  offer(e: DatabaseEvent): void {
    this.got.push(e);
  }
}

const ev = (id: string, extra: Partial<DatabaseEvent> = {}): DatabaseEvent => ({ id, type: 'node.created', timestamp: '2025-01-01T00:00:00.000Z', database: 'neo4j', source: 'outbox-test', ...extra });

describe('measureValue', () => {
  it('measures a plain event as JSON.stringify writes it', () => {
    const e = { id: 'x', type: 'node.created', properties: { n: 1.5, s: 'héllo', b: true, z: null, list: [1, 'two', { three: 3 }] } };
    const m = measureValue(e, LIMITS);
    assert.ok(m.ok);
    assert.equal(m.bytes, Buffer.byteLength(JSON.stringify(e)));
  });

  it('measures alike after a large walk, and when a getter of the value measures something itself', () => {
    const wide = { type: 'node.created', properties: Object.fromEntries(Array.from({ length: 2000 }, (_, i) => [`k${i}`, [i, 'é']])) };
    const a = measureValue(wide, { maxDepth: 64, maxBytes: 1 << 20 });
    assert.ok(a.ok);
    assert.equal(a.bytes, Buffer.byteLength(JSON.stringify(wide)));
    const small = { id: 'x', s: '€uro', list: [1, { two: 2 }] };
    const b = measureValue(small, LIMITS);
    assert.ok(b.ok);
    assert.equal(b.bytes, Buffer.byteLength(JSON.stringify(small)));
    let inner: ReturnType<typeof measureValue> | undefined;
    const sneaky = {
      a: [1, 2, 3],
      get b() {
        inner = measureValue({ deep: deep(100) }, LIMITS);
        return 'bee';
      },
      c: { d: 'dee' },
    };
    const m = measureValue(sneaky, LIMITS);
    assert.ok(m.ok);
    assert.equal(m.bytes, Buffer.byteLength(JSON.stringify(sneaky)));
    assert.equal(inner?.ok, false, 'the nested measure saw its own value');
  });

  it('refuses a 10 KB value nested 5,000 levels deep, naming the limit and the field, without overflowing the stack', () => {
    const m = measureValue({ type: 'node.created', properties: deep(5000) }, LIMITS);
    assert.equal(m.ok, false);
    assert.equal(!m.ok && m.limit, 'depth');
    assert.match(!m.ok ? m.reason : '', /^The event is nested more than 64 levels deep \(in its field "properties"\), past limits\.events\.maxDepth \(64\)/);
    assert.ok(measureValue({ p: deep(63) }, LIMITS).ok, '64 levels (the event plus 63) are allowed');
    assert.equal(measureValue({ p: deep(64) }, LIMITS).ok, false);
  });

  it('refuses a value larger than maxBytes, naming the limit', () => {
    const m = measureValue({ type: 'node.created', properties: { blob: 'x'.repeat(2000) } }, { maxDepth: 64, maxBytes: 1000 });
    assert.equal(!m.ok && m.limit, 'bytes');
    assert.match(!m.ok ? m.reason : '', /larger than 1000 bytes as JSON \(in its field "properties"\), past limits\.events\.maxBytes \(1000\)/);
  });

  it('refuses values that are not plain JSON, and ends on a cycle as "too deep"', () => {
    for (const bad of [{ n: 10n }, { f: () => 1 }, { d: new Date() }, { m: new Map() }, { s: Symbol('x') }]) {
      const m = measureValue(bad, LIMITS);
      assert.equal(!m.ok && m.limit, 'value', JSON.stringify(Object.keys(bad)));
    }
    const cyclic: Record<string, unknown> = { type: 'node.created' };
    cyclic['self'] = cyclic;
    const m = measureValue(cyclic, LIMITS);
    assert.equal(!m.ok && m.limit, 'depth');
  });

  it('gives a preview of an over-limit value that JSON can always write', () => {
    const preview = safePreview({ id: 'x', properties: deep(5000), big: 'y'.repeat(5000) }, { maxDepth: 4, maxBytes: 200 });
    const text = JSON.stringify(preview);
    assert.match(text, /nested deeper than 4 levels/);
    assert.match(text, /truncated/);
    assert.ok(text.length < 1000);
  });
});

describe('Router with limits.events', () => {
  it('refuses events of any source past the limits, counts them by source and limit, and routes the rest in order', () => {
    const warnings: string[] = [];
    const r = new Router({ limits: LIMITS, log: { warn: (_o: unknown, msg?: string) => void warnings.push(msg ?? String(_o)) } as never, summaryIntervalMs: 60_000 });
    const t = new Target();
    r.setTargets([t]);
    r.route([ev('1'), ev('deep', { properties: deep(5000) }), ev('2'), ev('big', { source: 'bolt-proxy', properties: { b: 'x'.repeat(2 * 1024 * 1024) } }), ev('3')]);
    assert.deepEqual(t.got.map((e) => e.id), ['1', '2', '3']);
    assert.equal(r.routed, 3);
    assert.deepEqual(r.stats().refused, { total: 2, bySource: { 'outbox-test': { depth: 1 }, 'bolt-proxy': { bytes: 1 } } });
    assert.equal(warnings.length, 1, 'the first refusal of an interval is logged, the next wait for its summary');
    assert.match(warnings[0]!, /The router refused event deep from the source outbox-test: The event is nested more than 64 levels deep/);
    r.close();
  });

  it('does not walk an event the http source already measured', () => {
    const r = new Router({ limits: { maxDepth: 2, maxBytes: 100 } });
    const t = new Target();
    r.setTargets([t]);
    const s = new HttpSource({ emit: (e, o) => r.route(e, o), database: 'neo4j', limits: { maxDepth: 64, maxBytes: 10_000 } });
    void s.start();
    const res = s.ingest([{ type: 'node.created', properties: { a: { b: 1 } } }]);
    assert.equal(res.accepted, 1);
    assert.equal(t.got.length, 1, 'measured at ingest with the http limits');
    // the same event from any other source is walked, and refused
    r.route([{ id: 'x', type: 'node.created', timestamp: 't', database: 'neo4j', source: 'other', properties: { a: { b: 1 } } }]);
    assert.equal(t.got.length, 1);
    assert.equal(r.stats().refused.total, 1);
    r.close();
  });
});

describe('HttpSource with limits.events', () => {
  it('rejects the deep and the huge item with the limit named and accepts the other items of the batch', async () => {
    const emitted: DatabaseEvent[] = [];
    const s = new HttpSource({ emit: (e) => emitted.push(...e), database: 'neo4j', limits: { maxDepth: 64, maxBytes: 4096 } });
    await s.start();
    const r = s.ingest([{ id: 'ok-1', type: 'node.created' }, { id: 'deep', type: 'node.created', properties: deep(5000) }, { type: 'node.created', properties: { s: 'x'.repeat(5000) } }, { id: 'ok-2', type: 'node.created' }]);
    assert.equal(r.accepted, 2);
    assert.deepEqual(r.ids, ['ok-1', 'ok-2']);
    assert.deepEqual(r.rejected.map((x) => [x.index, x.id]), [[1, 'deep'], [2, undefined]]);
    assert.match(r.rejected[0]!.reason, /limits\.events\.maxDepth \(64\)/);
    assert.match(r.rejected[1]!.reason, /limits\.events\.maxBytes \(4096\)/);
    assert.deepEqual(emitted.map((e) => e.id), ['ok-1', 'ok-2']);
  });

  it('holds valid events while starting, up to its buffer, and emits them in order when it starts', async () => {
    const emitted: DatabaseEvent[] = [];
    const s = new HttpSource({ emit: (e) => emitted.push(...e), database: 'neo4j', startupBuffer: { events: 2, bytes: 1 << 20 } });
    const r = s.ingest([{ id: 'a', type: 'node.created' }, { type: 'bogus' }, { id: 'b', type: 'node.created' }, { id: 'c', type: 'node.created' }]);
    assert.equal(r.accepted, 2);
    assert.deepEqual(r.ids, ['a', 'b']);
    assert.deepEqual(r.rejected.map((x) => x.index), [1, 3]);
    assert.match(r.rejected[1]!.reason, /The daemon is starting .*start-up buffer.*is full/);
    assert.equal(s.holding, 2);
    assert.equal(emitted.length, 0, "nothing reaches the router before the source starts");
    await s.start();
    assert.deepEqual(emitted.map((e) => e.id), ['a', 'b']);
    assert.equal(s.status().emitted, 2);
    assert.equal(s.ingest([{ id: 'd', type: 'node.created' }]).accepted, 1);
    assert.deepEqual(emitted.map((e) => e.id), ['a', 'b', 'd']);
  });

  it('drops (and counts) what it held when it stops before it ever ran', async () => {
    const s = new HttpSource({ emit: () => assert.fail('nothing may be emitted'), database: 'neo4j', startupBuffer: { events: 10, bytes: 1 << 20 } });
    s.ingest([{ type: 'node.created' }, { type: 'node.created' }]);
    await s.stop();
    assert.equal(s.droppedAtStop, 2);
    assert.deepEqual(s.status().details, { heldDuringStartup: 0, droppedAtStop: 2 });
  });
});

