/** /metrics in Prometheus text format agrees with /v1/status: per-plugin counters, queue depth, handler histogram, restarts. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pluginYaml, startTestDaemon, waitFor } from '../helpers/in-process-daemon.js';
import { fixturePlugin } from '../helpers/paths.js';
import { bifrostStatus } from '../helpers/public-api.js';

function metric(text: string, name: string, labels: Record<string, string>): number | undefined {
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    const inner = line.slice(name.length + 1, line.indexOf('}'));
    const parts = inner.split(',');
    if (want.every((w) => parts.includes(w))) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return undefined;
}

test('/metrics reports per-plugin counters, drops by reason, queue depth, restarts and the handler latency histogram', async () => {
  const d = await startTestDaemon([
    pluginYaml(fixturePlugin('faulty.mjs'), 'restart:\n  backoffMs: 20'),
    pluginYaml(fixturePlugin('slow.mjs'), 'config:\n  delayMs: 30\nqueue:\n  capacity: 3\n  batchSize: 1'),
  ]);
  try {
    d.api.ingest([{ type: 'node.created', properties: { fault: 'throw' } }, { type: 'node.created' }, { type: 'node.created', properties: { fault: 'exit' } }, { type: 'node.created' }], 'http');
    await waitFor('faulty restarted and settled', () => {
      const p = d.api.plugins().find((x) => x.name === 'faulty')!;
      return p.restarts === 1 && p.counters.delivered === 4;
    });
    const res = await fetch(`${d.url}/metrics`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type')!, /text\/plain/);
    const text = await res.text();
    const st = d.api.plugins();
    for (const p of st) {
      assert.equal(metric(text, 'heimdall_events_received_total', { plugin: p.name }), p.counters.received, `received of ${p.name}`);
      assert.equal(metric(text, 'heimdall_events_failed_total', { plugin: p.name }), p.counters.failed);
    }
    assert.equal(metric(text, 'heimdall_events_failed_total', { plugin: 'faulty' }), 2);
    assert.equal(metric(text, 'heimdall_plugin_restarts_total', { plugin: 'faulty' }), 1);
    assert.equal(metric(text, 'heimdall_events_dropped_total', { plugin: 'slow', reason: 'queue_full' }), 1, 'capacity 3, four events at once');
    assert.ok(metric(text, 'heimdall_queue_depth', { plugin: 'slow' })! >= 0);
    assert.equal(metric(text, 'heimdall_queue_high_water_mark', { plugin: 'slow' }), 3);
    const count = metric(text, 'heimdall_handler_duration_seconds_count', { plugin: 'faulty' });
    assert.ok(count !== undefined && count >= 1, `histogram count ${count}`);
    assert.equal(metric(text, 'heimdall_handler_duration_seconds_bucket', { plugin: 'faulty', le: '+Inf' }), count);
    assert.match(text, /heimdall_process_resident_memory_bytes/);
    assert.match(text, /heimdall_bifrost_sink_messages_total\{sink="[^"]+",outcome="written"\} \d+/);
    assert.equal(Number(/^heimdall_bifrost_published_total (\d+)/m.exec(text)?.[1]), (await bifrostStatus(d)).published);
  } finally {
    await d.stop();
  }
});
