/**
 * Plugin threads and CPU priority (daemon/workers/busy-thread.ts), with real worker threads: a plugin
 * that keeps its thread busy is lowered to nice 10 within a few seconds, while a plugin that only
 * handles its events keeps the daemon's priority and goes on receiving them; the status says which.
 */
import assert from 'node:assert/strict';
import { getPriority } from 'node:os';
import { after, test } from 'node:test';
import { pluginYaml, startTestDaemon, waitFor, type TestDaemon } from '../helpers/in-process-daemon.js';
import { fixturePlugin } from '../helpers/paths.js';
import { PLUGIN_THREAD_NICENESS } from '../../daemon/workers/busy-thread.js';

let d: TestDaemon | undefined;
after(async () => d?.stop());

test('a plugin that keeps its thread busy is lowered to nice 10; a quiet plugin keeps the daemon\'s priority', { skip: process.platform !== 'linux' }, async () => {
  d = await startTestDaemon([pluginYaml(fixturePlugin('cpu-hog.mjs')), pluginYaml(fixturePlugin('recorder.mjs'))], '', { listen: false });
  const host = (name: string) => d!.internals.hosts.find((h) => h.name === name)!;
  const hogTid = host('cpu-hog').info?.threadId;
  const quietTid = host('recorder').info?.threadId;
  assert.equal(typeof hogTid, 'number', 'the worker reports its thread id');
  assert.equal(typeof quietTid, 'number');
  assert.notEqual(hogTid, quietTid);
  const base = getPriority(0);
  assert.equal(getPriority(quietTid!), base, 'plugin threads start at the daemon\'s priority');

  await waitFor('the busy plugin\'s thread to be lowered', () => getPriority(hogTid!) === Math.max(PLUGIN_THREAD_NICENESS, base), 15_000);
  assert.equal(getPriority(quietTid!), base, 'the quiet plugin keeps its priority');
  assert.equal(host('cpu-hog').status().lowPriority, true, '/v1/status says so');
  assert.equal(host('recorder').status().lowPriority, undefined);
  assert.equal(getPriority(0), base, 'and so does the daemon\'s own thread');

  d.internals.router.route([{ id: 'probe-1', type: 'node.created', timestamp: new Date().toISOString(), database: 'neo4j', source: 'test', nodeId: '4:x:1', properties: {} }]);
  await waitFor('the quiet plugin to handle the event', async () => {
    const res = await d!.api.invokeAction('heimdall.recorder.seen', {}, { kind: 'operator' });
    return (res.data as { count: number }).count === 1;
  });
});
