/**
 * The http and system sources and the source set alone: each emits through its callback only
 * while running, counts what it emitted and reports its own status; the set builds what the
 * config lists.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import type { DatabaseEvent } from '../../sdk/index.js';
import { HttpSource } from '../../daemon/sources/http-source.js';
import { SourceSet } from '../../daemon/sources/source-set.js';
import { SystemSource, type ConnectivityWatch } from '../../daemon/sources/system-source.js';

const silent = pino({ level: 'silent' });

class Watch implements ConnectivityWatch {
  readonly defaultDatabase = 'graph';
  private fns = new Set<(up: boolean, reason: string) => void>();
  onConnectivity(fn: (up: boolean, reason: string) => void): () => void {
    this.fns.add(fn);
    return () => this.fns.delete(fn);
  }
  change(up: boolean, reason: string): void {
    for (const f of this.fns) f(up, reason);
  }
  get listeners(): number {
    return this.fns.size;
  }
}

describe('HttpSource', () => {
  it('validates, fills defaults, emits the valid items in order and counts them; refuses everything while not running', async () => {
    const emitted: DatabaseEvent[][] = [];
    const s = new HttpSource({ emit: (e) => emitted.push(e), database: 'graph' });
    const early = s.ingest([{ type: 'node.created' }]);
    assert.equal(early.accepted, 0);
    assert.match(early.rejected[0]!.reason, /The daemon is starting and accepts no new events yet/);
    assert.equal(s.status().state, 'starting');
    await s.start();
    const r = s.ingest([{ id: 'a', type: 'node.created' }, { type: 'no.such' }, 'text', { id: 'b', type: 'query.failed', database: 'other' }]);
    assert.equal(r.accepted, 2);
    assert.deepEqual(r.ids, ['a', 'b']);
    assert.deepEqual(r.rejected.map((x) => x.index), [1, 2]);
    assert.match(r.rejected[1]!.reason, /An event must be a JSON object; got string/);
    assert.deepEqual(emitted.flat().map((e) => [e.id, e.database, e.source]), [['a', 'graph', 'http'], ['b', 'other', 'http']]);
    assert.ok(emitted.flat().every((e) => typeof e.timestamp === 'string'));
    assert.deepEqual(s.status(), { name: 'http', type: 'http', state: 'running', emitted: 2 });
    await s.stop();
    const late = s.ingest([{ type: 'bad' }, { id: 'c', type: 'node.created' }]);
    assert.equal(late.accepted, 0);
    assert.deepEqual(late.rejected.map((x) => [x.index, x.id]), [[0, undefined], [1, 'c']], 'refused items keep their index in the request');
    assert.match(late.rejected[1]!.reason, /The daemon is stopping and accepts no new events/);
    assert.equal(emitted.length, 1);
    assert.equal(s.status().emitted, 2);
  });
});

describe('SystemSource', () => {
  it('emits database.started and database.shutdown from the connectivity watch only while running, and counts them', async () => {
    const watch = new Watch();
    const emitted: DatabaseEvent[] = [];
    const s = new SystemSource({ emit: (e) => emitted.push(...e), db: watch, uri: 'bolt://db:7687' });
    watch.change(true, 'before start');
    await s.start();
    watch.change(false, 'connection refused');
    watch.change(true, 'it answered a health query');
    assert.deepEqual(emitted.map((e) => [e.type, e.database, e.source, e.metadata]), [
      ['database.shutdown', 'graph', 'system', { reason: 'connection refused', uri: 'bolt://db:7687' }],
      ['database.started', 'graph', 'system', { reason: 'it answered a health query', uri: 'bolt://db:7687' }],
    ]);
    assert.deepEqual(s.status(), { name: 'system', type: 'system', state: 'running', emitted: 2 });
    await s.stop();
    assert.equal(watch.listeners, 0, 'it stops listening');
    watch.change(false, 'after stop');
    assert.equal(emitted.length, 2);
    assert.equal(s.status().state, 'stopped');
  });

  it('runs without a database and emits nothing', async () => {
    const s = new SystemSource({ emit: () => assert.fail('nothing to emit') });
    await s.start();
    assert.deepEqual(s.status(), { name: 'system', type: 'system', state: 'running', emitted: 0 });
  });
});

describe('SourceSet', () => {
  it('builds the sources the config lists, starts and stops them, and refuses POSTed events without an http source', async () => {
    const both = new SourceSet({ config: { sources: [{ type: 'http' }, { type: 'system' }] }, db: undefined, emit: () => undefined, queues: () => [], logger: silent });
    assert.deepEqual(both.statuses().map((s) => [s.name, s.state]), [['http', 'starting'], ['system', 'starting']]);
    await both.start();
    assert.deepEqual(both.statuses().map((s) => s.state), ['running', 'running']);
    assert.equal(both.ingest([{ type: 'node.created' }]).accepted, 1);
    assert.equal(both.outboxBacklog(), undefined, 'no outbox without a neo4j-apoc source');
    await both.stop();
    assert.deepEqual(both.statuses().map((s) => s.state), ['stopped', 'stopped']);

    const systemOnly = new SourceSet({ config: { sources: [{ type: 'system' }] }, db: undefined, emit: () => assert.fail('nothing may be emitted'), queues: () => [], logger: silent });
    await systemOnly.start();
    const r = systemOnly.ingest([{ type: 'node.created' }, { type: 'node.deleted' }]);
    assert.equal(r.accepted, 0);
    assert.deepEqual(r.rejected.map((x) => x.index), [0, 1]);
    assert.match(r.rejected[0]!.reason, /sources: in the config has no `- type: http` entry/);
    await systemOnly.stop();
  });
});
