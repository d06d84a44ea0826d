/**
 * No poison events, on real worker threads and real HTTP: the 5,000-deep event is refused at ingest
 * with the limit named (the other items of the batch go in); the same event injected past ingest
 * through a source's emit is refused by the router, counted, and no plugin crashes; injected past
 * the router straight into a plugin's queue, it takes the worker down twice and is quarantined
 * while the plugin keeps running; an event whose handler kills its worker is quarantined, listed
 * and retried over HTTP and with the CLI, and the counters' invariant holds throughout.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { RunningDaemon } from '../../daemon/daemon.js';
import type { DatabaseEvent } from '../../sdk/index.js';
import { runCli } from '../helpers/daemon-process.js';
import { pluginYaml, startTestDaemon, waitFor } from '../helpers/in-process-daemon.js';
import { fixturePlugin } from '../helpers/paths.js';

/** { a: [[[…]]] }: `levels` levels deep, about 2 bytes a level (10 KB for 5,000). */
function deep(levels: number): Record<string, unknown> {
  let v: unknown[] = [];
  for (let i = 2; i < levels; i++) v = [v];
  return { a: v };
}

const plugin = (d: RunningDaemon, name: string) => d.api.plugins().find((p) => p.name === name)!;
const invariant = (d: RunningDaemon) => {
  for (const p of d.api.plugins()) {
    const c = p.counters;
    assert.equal(c.received, c.delivered + c.droppedTotal + c.queued, `invariant broken for ${p.name}: ${JSON.stringify(c)}`);
  }
};
const post = (d: RunningDaemon, path: string, body: unknown) => fetch(`${d.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

describe('poison events', () => {
  let d: RunningDaemon;
  let dir: string;
  let armed: string;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'heimdall-poison-'));
    armed = join(dir, 'armed');
    d = await startTestDaemon(
      [pluginYaml(fixturePlugin('recorder.mjs'), 'restart:\n  backoffMs: 20\n  maxRestarts: 1'), pluginYaml(fixturePlugin('poison.mjs'), `config:\n  armed: ${JSON.stringify(armed)}\nrestart:\n  backoffMs: 20\n  maxRestarts: 1`)],
      'drops:\n  logIntervalMs: 60000\n',
    );
  });
  after(async () => {
    await d?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses the 5,000-deep event at ingest with the limit named, per item: the rest of the batch is accepted', async () => {
    const text = `{"id":"deep-1","type":"node.created","properties":{"a":${'['.repeat(4998)}${']'.repeat(4998)}}}`;
    assert.ok(text.length < 11_000, 'a 10 KB event');
    const alone = await fetch(`${d.url}/v1/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: text });
    assert.equal(alone.status, 400);
    const err = ((await alone.json()) as { error: { code: string; message: string; details: { rejected: Array<{ reason: string }> } } }).error;
    assert.equal(err.code, 'HMD_ERR_INVALID_EVENT');
    assert.match(err.details.rejected[0]!.reason, /nested more than 64 levels deep \(in its field "properties"\), past limits\.events\.maxDepth \(64\)/);
    const huge = { type: 'node.created', properties: { blob: 'x'.repeat(1024 * 1024 + 1) } };
    const batch = await fetch(`${d.url}/v1/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-ndjson' },
      body: [JSON.stringify({ id: 'fine-1', type: 'node.created' }), text, JSON.stringify(huge), JSON.stringify({ id: 'fine-2', type: 'node.created' })].join('\n'),
    });
    assert.equal(batch.status, 200);
    const answer = (await batch.json()) as { accepted: number; ids: string[]; rejected: Array<{ index: number; reason: string }> };
    assert.equal(answer.accepted, 2);
    assert.deepEqual(answer.ids, ['fine-1', 'fine-2']);
    assert.deepEqual(answer.rejected.map((r) => r.index), [1, 2]);
    assert.match(answer.rejected[1]!.reason, /past limits\.events\.maxBytes \(1048576\)/);
    await waitFor('both plugins to handle the two fine events', () => d.api.plugins().every((p) => p.counters.delivered === 2 && p.counters.queued === 0));
    invariant(d);
  });

  it('refuses the same event when a source emits it (past ingest): counted by source, and no plugin crashes', async () => {
    const before = d.api.plugins().map((p) => p.counters.received);
    const fromSource: DatabaseEvent = { id: 'db:1:0', type: 'node.updated', timestamp: new Date().toISOString(), database: 'neo4j', source: 'neo4j-apoc', properties: deep(5000) };
    // What every source's emit callback is: the router.
    d.internals.router.route([fromSource, { ...fromSource, id: 'db:1:1', properties: { ok: true } }]);
    await waitFor('the admissible event to be handled', () => d.api.plugins().every((p) => p.counters.queued === 0));
    assert.deepEqual(d.api.plugins().map((p) => p.counters.received), before.map((n) => n + 1), 'only the admissible event reached the queues');
    const status = (await (await fetch(`${d.url}/v1/status`)).json()) as { router: { refused: { total: number; bySource: Record<string, Record<string, number>> } } };
    assert.deepEqual(status.router.refused.bySource['neo4j-apoc'], { depth: 1 });
    for (const p of d.api.plugins()) assert.deepEqual([p.state, p.restarts], ['running', 0], `${p.name} did not crash`);
    invariant(d);
  });

  it('put straight into a plugin queue (past the router), it takes the worker down twice, is quarantined, and the plugin stays running', async () => {
    const host = d.internals.hosts.find((h) => h.name === 'recorder')!;
    const start = plugin(d, 'recorder');
    // Deep enough that structured clone overflows whatever stack is left (5,000 levels may or may not).
    host.offer({ id: 'past-router', type: 'node.created', timestamp: new Date().toISOString(), database: 'neo4j', source: 'test', properties: deep(200_000) });
    host.offer({ id: 'behind-it', type: 'node.created', timestamp: new Date().toISOString(), database: 'neo4j', source: 'test' });
    await waitFor('the poison event to be quarantined', () => plugin(d, 'recorder').quarantined === 1, 15_000);
    await waitFor('the recorder to run and drain', () => plugin(d, 'recorder').state === 'running' && plugin(d, 'recorder').counters.queued === 0, 15_000);
    const p = plugin(d, 'recorder');
    assert.equal(p.restarts - start.restarts, 2, 'two crashes in a row, then quarantined');
    assert.equal(p.counters.failed - start.counters.failed, 1, 'counted as failed');
    // The event behind it was handled (by the first worker, which skipped the batch it could not
    // read, or by the restarted one): delivered and not failed.
    assert.equal(p.counters.delivered - start.counters.delivered, 2, 'the quarantined event is delivered+failed; the one behind it was handled');
    const list = (await (await fetch(`${d.url}/v1/quarantine?plugin=recorder`)).json()) as { quarantine: Array<{ eventId: string; attempts: number; preview?: boolean; event: unknown; error: string }> };
    assert.equal(list.quarantine.length, 1);
    assert.deepEqual([list.quarantine[0]!.eventId, list.quarantine[0]!.attempts, list.quarantine[0]!.preview], ['past-router', 2, true]);
    assert.match(JSON.stringify(list.quarantine[0]!.event), /nested deeper than 64 levels/);
    assert.match(list.quarantine[0]!.error, /Maximum call stack size exceeded/);
    invariant(d);
  });

  it('an event whose handler kills the worker is quarantined at once; list and retry over HTTP and with the CLI put it back at the head as a new receive', async () => {
    writeFileSync(armed, 'yes');
    const r = d.api.ingest([{ id: 'kills-1', type: 'node.created', properties: { poison: true } }, { id: 'after-1', type: 'node.created' }], 'http');
    assert.equal(r.accepted, 2);
    await waitFor('kills-1 in quarantine', () => plugin(d, 'poison').quarantined === 1, 15_000);
    await waitFor('the poison plugin to run and drain', () => plugin(d, 'poison').state === 'running' && plugin(d, 'poison').counters.queued === 0, 15_000);
    let p = plugin(d, 'poison');
    assert.equal(p.restarts, 1, 'a handler crash names its event at once: one crash');
    invariant(d);

    const cliList = await runCli(['quarantine', 'list', '--url', d.url, '--plugin', 'poison']);
    assert.equal(cliList.code, 0, cliList.stderr);
    assert.match(cliList.stdout, /kills-1/);
    assert.match(cliList.stdout, /heimdall quarantine retry <id>/);
    const json = JSON.parse((await runCli(['quarantine', 'list', '--url', d.url, '--plugin', 'poison', '--json'])).stdout) as { quarantine: Array<{ id: string; eventId: string; event: DatabaseEvent }> };
    const entry = json.quarantine[0]!;
    assert.equal(entry.eventId, 'kills-1');
    assert.deepEqual(entry.event.properties, { poison: true });

    // Still armed: a retry over HTTP puts it back; it kills the worker again and returns to quarantine.
    const received = p.counters.received;
    const retried = await post(d, `/v1/quarantine/${entry.id}/retry`, {});
    assert.equal(retried.status, 200);
    assert.deepEqual(await retried.json(), { retried: true, id: entry.id, plugin: 'poison', eventId: 'kills-1' });
    await waitFor('kills-1 back in quarantine under a new id', () => {
      const q = d.internals.plugins.quarantined('poison');
      return q.length === 1 && q[0]!.id !== entry.id;
    }, 15_000);
    await waitFor('the poison plugin to run again', () => plugin(d, 'poison').state === 'running', 15_000);
    p = plugin(d, 'poison');
    assert.equal(p.counters.received, received + 1, 'a retry is a new receive');
    invariant(d);

    // Disarmed: the CLI retry delivers it.
    rmSync(armed);
    assert.ok(!existsSync(armed));
    const again = d.internals.plugins.quarantined('poison')[0]!;
    const cliRetry = await runCli(['quarantine', 'retry', again.id, '--url', d.url]);
    assert.equal(cliRetry.code, 0, cliRetry.stderr);
    assert.match(cliRetry.stdout, /Put event kills-1 .* back at the head of the queue of the plugin poison/);
    await waitFor('kills-1 handled', async () => ((await d.api.invokeAction('heimdall.poison.handled', {}, { kind: 'operator' })).data!['handled'] as string[]).includes('kills-1'), 15_000);
    assert.equal(plugin(d, 'poison').quarantined, 0);
    await waitFor('quiet', () => plugin(d, 'poison').counters.queued === 0);
    const c = plugin(d, 'poison').counters;
    assert.equal(c.failed, 2, 'each crash counted once as failed');
    assert.equal(plugin(d, 'poison').state, 'running', 'one event, however often retried, never marked the plugin failed (maxRestarts 1)');
    invariant(d);

    const unknown = await runCli(['quarantine', 'retry', 'q999', '--url', d.url]);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /There is no quarantined event q999/);
    const bad = await runCli(['quarantine', 'retry', 'nope', '--url', d.url]);
    assert.equal(bad.code, 2);
    const status = (await (await fetch(`${d.url}/v1/status`)).json()) as { quarantine: { size: number; added: number; retried: number } };
    assert.deepEqual({ size: status.quarantine.size, retried: status.quarantine.retried }, { size: 1, retried: 2 }, 'the recorder\'s deep event is still there');
    const notFound = await post(d, '/v1/quarantine/q999/retry', {});
    assert.equal(notFound.status, 404);
  });
});
