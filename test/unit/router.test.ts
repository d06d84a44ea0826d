/**
 * The router alone: subscriptions decide who gets an event, a plugin does not get events caused by
 * its own writes unless it asks to, every target sees its events in the router's order; and a real
 * PluginHost (on a fake worker pool) applies its declared `events` subscription as a target.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import type { DatabaseEvent, EventType } from '../../sdk/index.js';
import { eventTypeMatches } from '../../sdk/index.js';
import { Router, type QueueTarget } from '../../daemon/router/router.js';
import { PluginHost } from '../../daemon/workers/plugin-host.js';
import { FakePools, pluginConfig } from '../helpers/fake-worker-pool.js';

const silent = pino({ level: 'silent' });

class Target implements QueueTarget {
  readonly got: DatabaseEvent[] = [];
  constructor(readonly name: string, private readonly patterns: string[] = ['*'], readonly receiveOwnEvents = false) {}
  subscribes(type: string): boolean {
    return this.patterns.some((p) => eventTypeMatches(p, type));
  }
  offer(event: DatabaseEvent): void {
    this.got.push(event);
  }
  ids(): string[] {
    return this.got.map((e) => e.id);
  }
}

const ev = (id: string, type: EventType, originPlugin?: string): DatabaseEvent => ({
  id,
  type,
  timestamp: '2025-01-01T00:00:00.000Z',
  database: 'neo4j',
  source: 'test',
  ...(originPlugin ? { metadata: { origin: { plugin: originPlugin } } } : {}),
});

describe('Router', () => {
  it('offers each event only to the targets that subscribe to its type, in order', () => {
    const all = new Target('all');
    const nodes = new Target('nodes', ['node.*']);
    const failures = new Target('failures', ['query.failed', 'relationship.deleted']);
    const r = new Router();
    r.setTargets([all, nodes, failures]);
    r.route([ev('1', 'node.created'), ev('2', 'query.failed'), ev('3', 'node.deleted'), ev('4', 'relationship.deleted'), ev('5', 'query.executed')]);
    assert.deepEqual(all.ids(), ['1', '2', '3', '4', '5']);
    assert.deepEqual(nodes.ids(), ['1', '3']);
    assert.deepEqual(failures.ids(), ['2', '4']);
    assert.equal(r.routed, 5);
  });

  it('keeps events caused by a plugin away from that plugin unless it sets receiveOwnEvents', () => {
    const writer = new Target('writer');
    const curious = new Target('curious', ['*'], true);
    const other = new Target('other');
    const r = new Router();
    r.setTargets([writer, curious, other]);
    r.route([ev('a', 'node.created', 'writer'), ev('b', 'node.created', 'curious'), ev('c', 'node.created')]);
    assert.deepEqual(writer.ids(), ['b', 'c'], 'its own write (a) is not delivered to writer');
    assert.deepEqual(curious.ids(), ['a', 'b', 'c'], 'receiveOwnEvents delivers its own write (b)');
    assert.deepEqual(other.ids(), ['a', 'b', 'c']);
  });

  it('routes to the targets set last; with none it only counts', () => {
    const first = new Target('first');
    const second = new Target('second');
    const r = new Router();
    r.route([ev('0', 'node.created')]);
    assert.equal(r.routed, 1);
    r.setTargets([first]);
    r.route([ev('1', 'node.created')]);
    r.setTargets([second]);
    r.route([ev('2', 'node.created')]);
    assert.deepEqual(first.ids(), ['1']);
    assert.deepEqual(second.ids(), ['2']);
  });

  it("uses a plugin host's declared events subscription (exact types and families) as a target", { timeout: 10_000 }, async (t) => {
    const pools = new FakePools({ name: 'filtered', version: '1.0.0', events: ['node.*', 'query.failed'], actions: [] });
    const host = new PluginHost('filtered', '/fake/filtered.mjs', pluginConfig({ queue: { batchSize: 10 } }), silent, () => async () => undefined, { onReady: () => undefined, onUnavailable: () => undefined }, { createPool: pools.factory });
    const everything = new Target('everything');
    const r = new Router();
    r.setTargets([host, everything]);
    await host.start();
    t.after(() => host.stop(Date.now() + 100));
    assert.equal(host.subscribes('node.updated'), true);
    assert.equal(host.subscribes('relationship.created'), false);
    const input = [ev('n1', 'node.created'), ev('r1', 'relationship.created'), ev('q1', 'query.failed'), ev('q2', 'query.executed'), ev('n2', 'node.deleted')];
    r.route(input);
    assert.deepEqual(everything.ids(), ['n1', 'r1', 'q1', 'q2', 'n2']);
    assert.equal(host.queue.counters().received, 3, 'filtered events are never offered, so not counted');
    // the host hands what one route() queued to its (fake) worker at once, as one batch
    const pool = pools.current;
    assert.deepEqual(pool.sent.map((b) => b.map((e) => e.id)), [['n1', 'q1', 'n2']], 'only node.* and query.failed were queued, in order, in one batch');
    pool.answer();
    await host.stop(Date.now() + 1000);
    assert.equal(host.state, 'stopped');
  });
});
