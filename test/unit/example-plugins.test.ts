/** The example plugins' logic, through the SDK testing kit (their worker behaviour is covered by the integration tests). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createTestKit } from '../../sdk/testing.js';
import security from '../../plugins/security/index.js';
import anomaly from '../../plugins/anomaly/index.js';
import deletionSummary from '../../plugins/deletion-summary/index.js';

test('security: five query.failed in the window trigger anomaly.detect and a prompt once, then reset', async () => {
  const kit = createTestKit(security, { config: { threshold: 5, windowMs: 60_000 } });
  for (let i = 0; i < 4; i++) await kit.emit({ type: 'query.failed', error: `boom ${i}` });
  assert.equal(kit.calls.invokeActionAsync.length, 0);
  await kit.emit({ type: 'query.failed', error: 'boom 4' });
  assert.deepEqual(kit.calls.invokeActionAsync, [{ name: 'heimdall.anomaly.detect', params: { trigger: 'autonomous', reason: 'query_failures', count: 5 } }]);
  assert.equal(kit.calls.sendPromptAsync.length, 1);
  assert.match(kit.calls.sendPromptAsync[0]!.prompt, /Multiple query failures detected/);
  const status = await kit.invoke('status');
  assert.equal(status.data!.inWindow, 0);
  assert.equal(status.data!.triggers, 1);
});

test('anomaly.detect classifies by count and notifies', async () => {
  const kit = createTestKit(anomaly);
  const r = await kit.invoke('detect', { trigger: 'autonomous', reason: 'query_failures', count: 25 });
  assert.equal(r.data!.severity, 'high');
  assert.equal(kit.calls.notifications[0]!.level, 'error');
});

test('deletion-summary writes one summary per 10 deletions in write mode', async () => {
  const kit = createTestKit(deletionSummary, { config: { every: 10 }, write: true, database: [] });
  for (let i = 0; i < 25; i++) await kit.emit({ type: 'node.deleted', nodeLabels: ['Person'] });
  assert.equal(kit.calls.query.length, 2);
  assert.match(kit.calls.query[0]!.cypher, /CREATE \(s:DeletionSummary/);
  assert.deepEqual(kit.calls.query[0]!.opts, { mode: 'write' });
  assert.equal(kit.calls.query[0]!.params.count, 10);
});
