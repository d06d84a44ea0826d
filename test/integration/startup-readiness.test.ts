/**
 * Start-up and readiness, on a real daemon with real HTTP: events POSTed while the plugins start
 * are accepted, held and delivered in order once they are up (past the start-up buffer the answer
 * is 503 HMD_ERR_NOT_READY with Retry-After, never 400); /readyz is 503 with Retry-After while
 * starting, then 200 with the init-failed plugin in its reasons; readiness changes are logged once
 * at warn (not every probe at error); a Bifrost since id from the future is a 400, not a restart.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, describe, it } from 'node:test';
import { pino } from 'pino';
import { parseConfig } from '../../config/loader.js';
import { startDaemon, type RunningDaemon } from '../../daemon/daemon.js';
import { pluginYaml, waitFor } from '../helpers/in-process-daemon.js';
import { REPO_ROOT, fixturePlugin } from '../helpers/paths.js';

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** A pino logger that keeps every line. */
function recording(): { logger: pino.Logger; lines: Array<{ level: number; msg: string }> } {
  const lines: Array<{ level: number; msg: string }> = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(l) as { level: number; msg: string });
      done();
    },
  });
  return { logger: pino({ level: 'info' }, stream), lines };
}

const postEvents = (url: string, body: unknown) => fetch(`${url}/v1/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

describe('start-up and readiness', () => {
  const dir = mkdtempSync(join(tmpdir(), 'heimdall-startup-'));
  const release = join(dir, 'release');
  let d: RunningDaemon | undefined;
  after(async () => {
    writeFileSync(release, 'go');
    await d?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('holds events sent while the daemon starts and delivers them in order once the plugins are up; past the buffer it answers 503 with Retry-After', async () => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const text = [
      `server:\n  port: ${port}`,
      `audit:\n  path: ${JSON.stringify(join(dir, 'audit.jsonl'))}`,
      'limits:\n  events:\n    startupBufferEvents: 3',
      'plugins:',
      pluginYaml(fixturePlugin('slow-init.mjs'), `config:\n  release: ${JSON.stringify(release)}\ninitTimeoutMs: 60000`),
      pluginYaml(fixturePlugin('http-init-fails.mjs')),
    ].join('\n');
    const config = parseConfig(`${text}\n`, { file: `${REPO_ROOT}/test-inline.yaml`, env: {} });
    const { logger, lines } = recording();
    const starting = startDaemon({ config, logger });
    // The admin API listens before the plugins start; the slow plugin holds the start-up until released.
    await waitFor('the admin API to listen', async () => (await fetch(`${url}/healthz`).catch(() => undefined))?.status === 200, 20_000);

    const first = await postEvents(url, [{ id: 'a', type: 'node.created' }, { id: 'b', type: 'node.created' }]);
    assert.equal(first.status, 200);
    assert.deepEqual(((await first.json()) as { accepted: number; ids: string[] }).ids, ['a', 'b']);
    const third = await postEvents(url, [{ id: 'c', type: 'node.created' }, { id: 'd', type: 'node.created' }]);
    assert.equal(third.status, 200, 'one more fits the buffer of 3; the other is refused per item');
    const thirdBody = (await third.json()) as { accepted: number; rejected: Array<{ id: string; reason: string }> };
    assert.equal(thirdBody.accepted, 1);
    assert.match(thirdBody.rejected[0]!.reason, /start-up buffer.*is full/);
    const full = await postEvents(url, { id: 'e', type: 'node.created' });
    assert.equal(full.status, 503, 'never 400 for an event refused only because the daemon is starting');
    assert.equal(full.headers.get('retry-after'), '1');
    assert.equal(((await full.json()) as { error: { code: string } }).error.code, 'HMD_ERR_NOT_READY');
    const invalid = await postEvents(url, { type: 'not.a.type' });
    assert.equal(invalid.status, 400, 'an invalid event is still a 400 while starting');

    for (let i = 0; i < 5; i++) {
      const ready = await fetch(`${url}/readyz`);
      assert.equal(ready.status, 503);
      assert.equal(ready.headers.get('retry-after'), '1');
      const body = (await ready.json()) as { error: { code: string; details: { reasons: string[] } } };
      assert.equal(body.error.code, 'HMD_ERR_NOT_READY');
      assert.ok(body.error.details.reasons.includes('The daemon is starting.'), JSON.stringify(body.error.details.reasons));
    }
    const notReady = lines.filter((l) => l.msg.startsWith('Heimdall is not ready'));
    assert.equal(notReady.length, 1, 'five 503 probes, one log line');
    assert.equal(notReady[0]!.level, 40, 'at warn');
    assert.ok(!lines.some((l) => l.level >= 50 && /readyz|not ready|NOT_READY|starting/i.test(l.msg)), 'no 503 of /readyz or /v1/events logged at error');

    writeFileSync(release, 'go');
    d = await starting;
    await waitFor('the held events to be delivered', () => d!.api.plugins().find((p) => p.name === 'slow-init')!.counters.delivered === 3);
    const seen = await d.api.invokeAction('heimdall.slow-init.seen', {}, { kind: 'operator' });
    assert.deepEqual(seen.data!['seen'], ['a', 'b', 'c'], 'in the order they were sent');
    assert.equal(d.api.status().sources.find((s) => s.name === 'http')!.emitted, 3);
  });

  it('is ready once the plugins are up even though one failed its init, and lists it in the reasons; the change is logged once', async () => {
    assert.ok(d, 'the previous test started the daemon');
    const res = await fetch(`${d!.url}/readyz`);
    assert.equal(res.status, 200);
    const body = (await res.json()) as { status: string; reasons: string[] };
    assert.equal(body.status, 'ready');
    assert.equal(body.reasons.length, 1);
    assert.match(body.reasons[0]!, /The plugin http-init-fails is failed: .*refuses to start .*failed for good/);
    assert.equal((await fetch(`${d!.url}/readyz`)).status, 200);
  });

  it('answers a Bifrost since id from the future with a 400 that says what the newest id is, not with a restart', async () => {
    const newest = d!.internals.bus.lastId();
    const poll = await fetch(`${d!.url}/v1/bifrost/notifications?since=${newest + 1000}`);
    assert.equal(poll.status, 400);
    const err = ((await poll.json()) as { error: { code: string; message: string; details: { lastId: number } } }).error;
    assert.equal(err.code, 'HMD_ERR_BAD_REQUEST');
    assert.match(err.message, new RegExp(`since ${newest + 1000} is after the newest message of this run \\(${newest}, epoch `));
    assert.equal(err.details.lastId, newest);
    const stream = await fetch(`${d!.url}/v1/bifrost/stream?since=${d!.internals.bus.epoch}-${newest + 5}`);
    assert.equal(stream.status, 400, 'the same epoch and an id it has not reached: a mistake, not a restart');
    const current = await fetch(`${d!.url}/v1/bifrost/notifications?since=${newest}`);
    assert.equal(current.status, 200, 'the newest id itself is fine: nothing after it yet');
  });
});
