/**
 * The Bifrost stream and polling endpoints against a real daemon (worker threads, real HTTP on a
 * loopback port) with real HTTP clients: ordering and ids, replay without gap or duplicate, the
 * gap event, filters, 100 concurrent clients, a client that stops reading, auth, limits, shutdown.
 *
 * Two daemons: one with the default buffer (auth on, Bifrost on a fake clock so heartbeats come
 * when the test moves the time; its last test stops it), one with a 10-message buffer and room
 * for two clients. What the tests read about the daemon they read from /v1/bifrost/status.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { BifrostMessage } from '../../daemon/bifrost/bus.js';
import { connectSse, SseHttpError, type SseConnection, type SseEvent } from '../../daemon/bifrost/sse-client.js';
import { FakeClock } from '../helpers/fake-clock.js';
import { pluginYaml, startTestDaemon, waitFor, type TestDaemon } from '../helpers/in-process-daemon.js';
import { fixturePlugin } from '../helpers/paths.js';
import { bifrostStatus, call, postJson } from '../helpers/public-api.js';

// These tests are about the stream, not the per-plugin output limits (limits.plugins, whose default
// burst of 100 notifications they would pass): the notifier publishes without a limit.
const NOTIFIER = pluginYaml(fixturePlugin('bifrost-notifier.mjs'), 'limits:\n  notificationsPerSecond: 0');
const TOKEN = 's3cret';
const AUTH = { authorization: `Bearer ${TOKEN}` };

interface Client {
  conn: SseConnection;
  events: SseEvent[];
  messages: BifrostMessage[];
  lastEventId(): string;
  waitMessages(n: number, timeoutMs?: number): Promise<void>;
}

async function open(d: TestDaemon, path = '/v1/bifrost/stream', headers: Record<string, string> = {}, keep = true): Promise<Client> {
  const events: SseEvent[] = [];
  const messages: BifrostMessage[] = [];
  let last = '';
  const conn = await connectSse(`${d.url}${path}`, {
    headers: { ...(d.token ? { authorization: `Bearer ${d.token}` } : {}), ...headers },
    onEvent: (e) => {
      if (keep) events.push(e);
      if (e.hasId) {
        last = e.lastEventId;
        messages.push(JSON.parse(e.data) as BifrostMessage);
      }
    },
  });
  await waitFor('the hello event', () => !keep || events.some((e) => e.event === 'hello'), 5000);
  return {
    conn, events, messages,
    lastEventId: () => last,
    waitMessages: (n, timeoutMs = 10_000) => waitFor(`${n} messages (have ${messages.length})`, () => messages.length >= n, timeoutMs),
  };
}

async function invoke(d: TestDaemon, action: string, params: Record<string, unknown> = {}): Promise<{ success: boolean; message: string; data?: Record<string, unknown> }> {
  const res = await postJson(d, `/v1/actions/heimdall.${action}/invoke`, { params });
  assert.equal(res.status, 200, await res.clone().text());
  return (await res.json()) as { success: boolean; message: string; data?: Record<string, unknown> };
}

const ids = (ms: readonly BifrostMessage[]) => ms.map((m) => m.id);
const range = (a: number, b: number) => Array.from({ length: b - a + 1 }, (_, i) => a + i);
const lastId = async (d: TestDaemon) => (await bifrostStatus(d)).lastId;
const noClients = (d: TestDaemon) => waitFor('the server to see every client go', async () => (await bifrostStatus(d)).stream.clients === 0);

const LIMIT = 256 * 1024;
/** bifrost.clientStallMs: how long (on Bifrost's clock) a client over its limits may read nothing. */
const STALL_MS = 500;

describe('Bifrost stream on one daemon (the default buffer, auth on, a fake clock)', () => {
  const clock = new FakeClock();
  let d: TestDaemon;
  before(async () => {
    d = await startTestDaemon(
      [NOTIFIER],
      `  token: ${TOKEN}\nbifrost:\n  heartbeatMs: 50\n  sinks: []\n  maxClients: 150\n  clientBufferBytes: ${LIMIT}\n  clientBufferMessages: 100000\n  clientStallMs: ${STALL_MS}\n`,
      { clock },
    );
  });
  after(async () => {
    await d?.stop();
  });

  describe('ordering, replay, filters', () => {
    it('delivers messages in publish order with consecutive ids, `id:` lines of epoch-id, and the event name of the kind', async () => {
      const c = await open(d);
      const { lastId: start, epoch } = await bifrostStatus(d);
      await invoke(d, 'bifrost-notifier.notify', { count: 50, level: 'success', title: 'Order' });
      await c.waitMessages(50);
      c.conn.close();
      assert.deepEqual(ids(c.messages), range(start + 1, start + 50));
      assert.deepEqual(c.messages.map((m) => m.data?.['seq']), range(0, 49));
      const hello = JSON.parse(c.events[0]!.data) as { epoch: string; lastId: number };
      assert.equal(c.events[0]!.event, 'hello');
      assert.equal(hello.epoch, epoch);
      const evs = c.events.filter((e) => e.hasId);
      assert.ok(evs.every((e, i) => e.lastEventId === `${hello.epoch}-${start + 1 + i}` && e.event === 'notification'));
      const m = c.messages[0]!;
      assert.equal(m.level, 'success');
      assert.equal(m.title, 'Order');
      assert.deepEqual(m.origin.plugin, 'bifrost-notifier');
      assert.equal(m.origin.kind, 'plugin');
      assert.ok(m.origin.invocationId, 'a message sent from inside an action carries its invocation id');
      assert.ok(!Number.isNaN(Date.parse(m.timestamp)));
    });

    it('resumes after a disconnect from Last-Event-ID with no gap and no duplicate', async () => {
      const first = await open(d);
      const base = await lastId(d);
      await invoke(d, 'bifrost-notifier.notify', { count: 20 });
      await first.waitMessages(20);
      first.conn.close();
      await noClients(d);
      await invoke(d, 'bifrost-notifier.notify', { count: 30 });
      const second = await open(d, '/v1/bifrost/stream', { 'last-event-id': first.lastEventId() });
      await second.waitMessages(30);
      await invoke(d, 'bifrost-notifier.notify', { count: 10 });
      await second.waitMessages(40);
      second.conn.close();
      assert.equal(second.events.filter((e) => e.event === 'gap').length, 0, 'no gap event');
      assert.equal(JSON.parse(second.events[0]!.data).replayed, 30);
      const all = [...ids(first.messages), ...ids(second.messages)];
      assert.deepEqual(all, range(base + 1, base + 60), 'every message exactly once, in order');
    });

    it('?since= and ?last= replay on a first connect', async () => {
      const base = await lastId(d);
      await invoke(d, 'bifrost-notifier.notify', { count: 5 });
      const since = await open(d, `/v1/bifrost/stream?since=${base + 2}`);
      await since.waitMessages(3);
      const last = await open(d, '/v1/bifrost/stream?last=2');
      await last.waitMessages(2);
      since.conn.close();
      last.conn.close();
      assert.deepEqual(ids(since.messages), range(base + 3, base + 5));
      assert.deepEqual(ids(last.messages), range(base + 4, base + 5));
    });

    it('filters by level (at or above), plugin (daemon for its own notices) and kind, in the replay and live', async () => {
      const base = await lastId(d);
      const warn = await open(d, `/v1/bifrost/stream?level=warning&since=${base}`);
      const daemonOnly = await open(d, `/v1/bifrost/stream?plugin=daemon&since=${base}`);
      const talk = await open(d, `/v1/bifrost/stream?kind=message,broadcast&plugin=bifrost-notifier&since=${base}`);
      await invoke(d, 'bifrost-notifier.notify', { count: 2, level: 'info' });
      await invoke(d, 'bifrost-notifier.notify', { count: 2, level: 'warning' });
      await invoke(d, 'bifrost-notifier.notify', { count: 1, level: 'error' });
      await invoke(d, 'bifrost-notifier.notify', { count: 1, level: 'success' });
      await invoke(d, 'bifrost-notifier.say', { text: 'hello' });
      // No route publishes a daemon notice on demand, so the test reaches into Bifrost for one.
      d.internals.bifrost.notices.publish('warning', 'Daemon notice', 'The daemon says something.');
      // The same filters on a replay.
      const replay = await open(d, `/v1/bifrost/stream?level=error&since=${base}`);
      // Markers published after everything above: each stream is in id order, so a client that has
      // its marker has had every earlier message its filter lets through. The daemon-only stream's
      // marker is the daemon notice itself, the last message before these.
      await invoke(d, 'bifrost-notifier.notify', { count: 1, level: 'error', title: 'End marker' });
      await invoke(d, 'bifrost-notifier.say', { text: 'end' });
      await warn.waitMessages(5);
      await daemonOnly.waitMessages(1);
      await talk.waitMessages(4);
      await replay.waitMessages(2);
      for (const c of [warn, daemonOnly, talk, replay]) c.conn.close();
      assert.deepEqual(warn.messages.map((m) => [m.level, m.title]), [['warning', 'Test'], ['warning', 'Test'], ['error', 'Test'], ['warning', 'Daemon notice'], ['error', 'End marker']]);
      assert.deepEqual(daemonOnly.messages.map((m) => [m.origin.kind, m.title]), [['daemon', 'Daemon notice']]);
      assert.deepEqual(talk.messages.map((m) => [m.kind, m.message]), [['message', 'hello'], ['broadcast', 'broadcast: hello'], ['message', 'end'], ['broadcast', 'broadcast: end']]);
      assert.deepEqual(replay.messages.map((m) => [m.level, m.title]), [['error', 'Test'], ['error', 'End marker']]);
      await noClients(d);
    });

    it('answers bad parameters with a 400 JSON envelope before any stream starts', async () => {
      for (const [q, re] of [
        ['level=loud', /level "loud" is not a Bifrost level/],
        ['kind=email', /kind "email" is not a Bifrost message kind/],
        ['since=yesterday', /since "yesterday" is not a message id/],
        ['last=0', /"last" must be a whole number of at least 1/],
        ['follow=1', /does not take the query parameter "follow"/],
      ] as const) {
        const res = await call(d, `/v1/bifrost/stream?${q}`);
        assert.equal(res.status, 400, q);
        assert.match(res.headers.get('content-type') ?? '', /application\/json/);
        const body = (await res.json()) as { error: { code: string; message: string } };
        assert.equal(body.error.code, 'HMD_ERR_BAD_REQUEST');
        assert.match(body.error.message, re);
      }
    });

    it('polls /v1/bifrost/notifications with since, limit, filters and a resume cursor', async () => {
      const { lastId: base, epoch } = await bifrostStatus(d);
      await invoke(d, 'bifrost-notifier.notify', { count: 7, level: 'warning' });
      const got: number[] = [];
      let since = String(base);
      for (let i = 0; i < 10; i++) {
        const res = await call(d, `/v1/bifrost/notifications?since=${encodeURIComponent(since)}&limit=3&level=warning`);
        assert.equal(res.status, 200);
        const body = (await res.json()) as { messages: BifrostMessage[]; more: boolean; next: string; epoch: string; lastId: number };
        assert.equal(body.epoch, epoch);
        got.push(...ids(body.messages));
        since = body.next;
        if (!body.more) break;
      }
      assert.deepEqual(got, range(base + 1, base + 7));
      const latest = (await (await call(d, '/v1/bifrost/notifications?limit=2')).json()) as { messages: BifrostMessage[] };
      assert.deepEqual(ids(latest.messages), [base + 6, base + 7], 'without since: the latest, oldest first');
      const bad = await call(d, '/v1/bifrost/notifications?limit=ten');
      assert.equal(bad.status, 400);
      assert.match(((await bad.json()) as { error: { message: string } }).error.message, /"limit" must be a whole number/);
    });
  });

  describe('many clients, slow clients', () => {
    it('serves 100 concurrent clients, each getting every message in order; plugins see the connection count', async () => {
      await noClients(d);
      const clients = await Promise.all(Array.from({ length: 100 }, () => open(d)));
      assert.equal((await bifrostStatus(d)).stream.clients, 100);
      const conn = await invoke(d, 'bifrost-notifier.connections');
      assert.deepEqual(conn.data, { connected: true, count: 100 });
      const base = await lastId(d);
      await invoke(d, 'bifrost-notifier.burst', { count: 300, window: 50 });
      await Promise.all(clients.map((c) => c.waitMessages(300, 20_000)));
      for (const c of clients) assert.deepEqual(ids(c.messages), range(base + 1, base + 300));
      for (const c of clients) c.conn.close();
      await noClients(d);
      assert.deepEqual((await invoke(d, 'bifrost-notifier.connections')).data, { connected: false, count: 0 });
    });

    it('cuts off a client that stops reading, tells it why, keeps the fast one going, and keeps the backlog bounded', async () => {
      const slow = await open(d);
      slow.conn.pause();
      let fastCount = 0;
      let fastInOrder = true;
      let prev = -1;
      const fast = await connectSse(`${d.url}/v1/bifrost/stream`, {
        headers: AUTH,
        onEvent: (e) => {
          if (!e.hasId) return;
          const m = JSON.parse(e.data) as BifrostMessage;
          if (m.data?.['seq'] === undefined) return;
          const seq = m.data['seq'] as number;
          if (seq !== prev + 1) fastInOrder = false;
          prev = seq;
          fastCount++;
        },
      });
      let maxBacklog = 0;
      // Sampled in-process: polling /v1/bifrost/status every 2 ms would compete with the stream
      // under test for the daemon's event loop.
      const sampler = setInterval(() => {
        maxBacklog = Math.max(maxBacklog, d.internals.bifrost.hub.stats().maxClientBufferedBytes);
      }, 2);
      const COUNT = 30_000;
      const cutBefore = (await bifrostStatus(d)).stream.cutOff;
      try {
        // Windows of 100: one event-loop turn of the daemon sees at most ~55 KB of new messages.
        await invoke(d, 'bifrost-notifier.burst', { count: COUNT, window: 100, pad: 400 });
        await waitFor(`the fast client to get all ${COUNT}`, () => fastCount === COUNT, 30_000);
      } catch (err) {
        fast.close();
        slow.conn.close();
        throw err;
      } finally {
        clearInterval(sampler);
      }
      assert.ok(fastInOrder, 'the fast client got every message in order');
      assert.equal((await bifrostStatus(d)).stream.cutOff, cutBefore, 'over its limits, but not yet for bifrost.clientStallMs (Bifrost\'s clock has not moved)');
      // Its socket has taken nothing for clientStallMs of Bifrost's clock: the heartbeats on the way judge it.
      clock.advance(STALL_MS);
      const status = await bifrostStatus(d);
      assert.equal(status.stream.cutOff, cutBefore + 1, 'the slow client was cut off');
      // What one client holds is bounded by the limit plus one flush's messages, written in one go to a
      // client that was keeping up and capped at 16 times the limits (sse-hub.ts), never by the ~16 MB
      // published while it did not read. How much one flush holds depends on the machine's speed.
      assert.ok(maxBacklog <= 17 * LIMIT, `a client's backlog reached ${maxBacklog} bytes, over the limit plus one flush of at most 16 times the ${LIMIT}-byte limit`);
      assert.equal(status.stream.clients, 1, 'only the fast client is still connected');
      // The slow client reads again: what the socket held, then the cutoff event, then the end.
      slow.conn.resume();
      let timer: NodeJS.Timeout | undefined;
      const ended = await Promise.race([slow.conn.done, new Promise((r) => (timer = setTimeout(() => r('timeout'), 10_000)))]);
      clearTimeout(timer);
      assert.notEqual(ended, 'timeout', 'the slow client stream ended');
      const lastEvent = slow.events[slow.events.length - 1]!;
      assert.equal(lastEvent.event, 'cutoff');
      assert.match((JSON.parse(lastEvent.data) as { message: string }).message, /did not read fast enough/);
      assert.ok(slow.messages.length < COUNT, 'the slow client did not get everything');
      fast.close();
    });
  });

  describe('heartbeats, auth, shutdown (the last tests of this daemon)', () => {
    it('sends heartbeats, needs the token like every /v1 route, and ends streams with a shutdown event on stop', async () => {
      await noClients(d);
      const denied = await fetch(`${d.url}/v1/bifrost/stream`);
      assert.equal(denied.status, 401);
      assert.equal(((await denied.json()) as { error: { code: string } }).error.code, 'HMD_ERR_UNAUTHORIZED');
      assert.equal((await fetch(`${d.url}/v1/bifrost/notifications`)).status, 401);
      assert.equal((await fetch(`${d.url}/v1/confirmations`)).status, 401);
      const comments: string[] = [];
      const events: SseEvent[] = [];
      const conn = await connectSse(`${d.url}/v1/bifrost/stream`, {
        headers: AUTH,
        onEvent: (e) => events.push(e),
        onComment: (c) => comments.push(c),
      });
      const heartbeats = () => comments.filter((c) => c.startsWith('heartbeat '));
      // heartbeatMs is 50: each 50 ms of Bifrost's clock is one heartbeat, stamped with that time.
      clock.advance(50);
      await waitFor('the first heartbeat', () => heartbeats().length === 1, 3000);
      clock.advance(50);
      await waitFor('the second heartbeat', () => heartbeats().length === 2, 3000);
      assert.equal(heartbeats()[1], `heartbeat ${new Date(clock.now()).toISOString()}`);
      const t0 = Date.now();
      await d.stop();
      assert.ok(Date.now() - t0 < 5000, 'an open stream does not hold up the stop');
      assert.equal(await conn.done, undefined, 'the stream ended cleanly');
      const names = events.map((e) => e.event);
      assert.equal(names[names.length - 1], 'shutdown');
      assert.ok(events.some((e) => e.hasId && /Heimdall is stopping/.test(e.data)), 'the daemon said it is stopping');
    });
  });
});

describe('Bifrost stream on a daemon with a 10-message buffer and room for two clients: gaps, maxClients', () => {
  let d: TestDaemon;
  before(async () => {
    d = await startTestDaemon([NOTIFIER], 'bifrost:\n  bufferSize: 10\n  maxClients: 2\n  sinks: []\n');
  });
  after(async () => {
    await d?.stop();
  });

  it('starts with a gap event when the requested id is older than the buffer, then replays what is left', async () => {
    await invoke(d, 'bifrost-notifier.notify', { count: 30 });
    const { lastId: last, epoch } = await bifrostStatus(d);
    const c = await open(d, '/v1/bifrost/stream', { 'last-event-id': `${epoch}-5` });
    await c.waitMessages(10);
    c.conn.close();
    assert.deepEqual(c.events.slice(0, 2).map((e) => e.event), ['hello', 'gap']);
    const gap = JSON.parse(c.events[1]!.data) as { reason: string; missed: number; oldestAvailable: number; message: string };
    assert.equal(gap.reason, 'evicted');
    assert.equal(gap.missed, last - 10 - 5);
    assert.equal(gap.oldestAvailable, last - 9);
    assert.match(gap.message, /are no longer in the replay buffer/);
    assert.deepEqual(ids(c.messages), range(last - 9, last));
  });

  it('says the daemon restarted when the Last-Event-ID comes from another run', async () => {
    const c = await open(d, '/v1/bifrost/stream', { 'last-event-id': 'aaaaaaaa-3' });
    await c.waitMessages(10);
    c.conn.close();
    const gap = c.events.find((e) => e.event === 'gap');
    assert.ok(gap, 'a gap event');
    assert.equal((JSON.parse(gap.data) as { reason: string }).reason, 'restarted');
  });
  it('refuses clients past maxClients with a 429 that says which setting to raise', async () => {
    await noClients(d);
    const a = await open(d);
    const b = await open(d);
    try {
      await assert.rejects(connectSse(`${d.url}/v1/bifrost/stream`, { onEvent: () => undefined }), (err: unknown) => {
        assert.ok(err instanceof SseHttpError);
        assert.equal(err.status, 429);
        const body = JSON.parse(err.body) as { error: { code: string; message: string } };
        assert.equal(body.error.code, 'HMD_ERR_RATE_LIMITED');
        assert.match(body.error.message, /raise bifrost\.maxClients/);
        return true;
      });
    } finally {
      a.conn.close();
      b.conn.close();
    }
  });
});
