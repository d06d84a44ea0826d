/** The example plugins in real workers: the security → anomaly flow as far as this build allows. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { pluginYaml, startTestDaemon, waitFor } from '../helpers/in-process-daemon.js';
import { REPO_ROOT } from '../helpers/paths.js';
import { bifrostMessages } from '../helpers/public-api.js';

const ex = (n: string) => resolve(REPO_ROOT, 'plugins', n);

test('five query.failed events make security call anomaly.detect asynchronously and send a prompt; results reach Bifrost', async () => {
  const d = await startTestDaemon([pluginYaml(ex('security'), 'config:\n  threshold: 5'), pluginYaml(ex('anomaly')), pluginYaml(ex('deletion-summary')), pluginYaml(ex('audit'))]);
  try {
    assert.deepEqual(d.api.plugins().map((p) => [p.name, p.state]), [['security', 'running'], ['anomaly', 'running'], ['deletion-summary', 'running'], ['audit', 'running']]);
    d.api.ingest(Array.from({ length: 5 }, (_, i) => ({ type: 'query.failed', query: 'MATCH (n) RETURN n.x', error: `failure ${i}` })), 'http');
    await waitFor('the anomaly notification and both async results', async () => {
      const m = await bifrostMessages(d);
      return m.some((x) => x.title === 'Anomaly detected') && m.some((x) => x.data?.name === 'heimdall.anomaly.detect') && m.some((x) => x.data?.kind === 'prompt');
    });
    const msgs = await bifrostMessages(d);
    const detect = msgs.find((x) => x.data?.name === 'heimdall.anomaly.detect')!;
    assert.equal(detect.level, 'success');
    assert.equal(detect.origin.plugin, 'security');
    assert.match(detect.message, /Detected 5 events of kind query_failures/);
    const prompt = msgs.find((x) => x.data?.kind === 'prompt')!;
    assert.equal(prompt.data!.success, false);
    // anomaly and audit subscribe to nothing; deletion-summary only to node.deleted
    for (const n of ['anomaly', 'audit', 'deletion-summary']) assert.equal(d.api.plugins().find((p) => p.name === n)!.counters.received, 0, n);
    const audit = await d.api.invokeAction('heimdall.audit.remediate', { summary: 'x' }, { kind: 'operator' });
    assert.equal(audit.success, false);
    assert.match(audit.message, /No database is configured/);
  } finally {
    await d.stop();
  }
});
