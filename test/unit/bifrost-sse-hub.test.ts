/**
 * The SSE hub alone, with fake clients and a fake clock: replay from an id, the gap notice when the
 * id is older than the buffer, the per-client caps cutting off a client that stopped reading while
 * the others keep receiving, heartbeats on the injected clock, refusals and the shutdown event.
 * Writes are coalesced once per event-loop turn (minFlushIntervalMs 0, except where a test sets it
 * with a fake flush clock); `flushed()` waits for that one turn, never a time.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { BifrostBus, type BifrostInput } from '../../daemon/bifrost/bus.js';
import { SseHub, type SseHubOptions } from '../../daemon/bifrost/sse-hub.js';
import { FakeClock } from '../helpers/fake-clock.js';
import { FakeSseResponse } from '../helpers/fake-sse-response.js';

const silent = pino({ level: 'silent' });
const note = (i: number, message = `m${i}`): BifrostInput => ({ kind: 'notification', level: 'info', title: `T${i}`, message, origin: { kind: 'plugin', plugin: 'p' } });
const range = (a: number, b: number) => Array.from({ length: b - a + 1 }, (_, i) => a + i);
/** The hub's coalesced writes run in the next event-loop turn (setImmediate); this waits for it. */
const flushed = () => new Promise<void>((r) => setImmediate(r));

function setup(opts: Partial<SseHubOptions> & { bufferSize?: number } = {}) {
  const clock = new FakeClock();
  const bus = new BifrostBus(opts.bufferSize ?? 100, silent, clock);
  const warnings: string[] = [];
  const log = pino({ level: 'warn' }, { write: (line: string) => void warnings.push(JSON.parse(line).msg) });
  const hub = new SseHub(bus, {
    heartbeatMs: 15_000, maxClients: 10, clientBufferBytes: 1 << 20, clientBufferMessages: 10_000, closeGraceMs: 5000, minFlushIntervalMs: 0, ...opts,
  }, log);
  const connect = (req: Parameters<SseHub['open']>[1] = {}, highWaterMark?: number) => {
    const res = new FakeSseResponse(highWaterMark);
    const opened = hub.open(res.asResponse(), req);
    return { res, opened };
  };
  return { clock, bus, hub, connect, warnings };
}

describe('SseHub', () => {
  it('opens with retry and hello, replays after an id without a gap, then streams live messages once each', async () => {
    const { bus, hub, connect } = setup();
    for (let i = 1; i <= 5; i++) bus.publish(note(i));
    const { res, opened } = connect({ since: { kind: 'id', id: 2, epoch: bus.epoch }, sinceText: `${bus.epoch}-2` });
    assert.equal(res.statusCode, 200);
    assert.match(res.headers['content-type']!, /^text\/event-stream/);
    assert.deepEqual(opened, { clientId: 1, replayed: 3 });
    assert.equal(res.events[0]!.event, 'hello', 'hello comes first');
    assert.deepEqual(res.dataOf('hello')[0], { epoch: bus.epoch, lastId: 5, oldestId: 1, heartbeatMs: 15_000, replayed: 3, clientId: 1 });
    assert.deepEqual(res.dataOf('gap'), []);
    assert.deepEqual(res.messageIds(), [3, 4, 5]);
    assert.equal(res.events[1]!.lastEventId, `${bus.epoch}-3`, 'ids carry the epoch, for Last-Event-ID');

    bus.publish(note(6));
    bus.publish(note(7));
    assert.deepEqual(res.messageIds(), [3, 4, 5], 'live messages wait for the end of the turn');
    await flushed();
    assert.deepEqual(res.messageIds(), [3, 4, 5, 6, 7]);
    assert.equal(res.writes.length, 2, 'the opening is one write and the turn\'s two messages another');
    assert.equal(hub.size, 1);
  });

  it('sends a gap event before the replay when the id is older than the buffer', () => {
    const { bus, connect } = setup({ bufferSize: 3 });
    for (let i = 1; i <= 10; i++) bus.publish(note(i));
    const { res, opened } = connect({ since: { kind: 'id', id: 2, epoch: bus.epoch }, sinceText: `${bus.epoch}-2` });
    assert.deepEqual(res.events.map((e) => e.event), ['hello', 'gap', 'notification', 'notification', 'notification']);
    const [gap] = res.dataOf('gap');
    assert.equal(gap!['reason'], 'evicted');
    assert.equal(gap!['missed'], 5);
    assert.equal(gap!['oldestAvailable'], 8);
    assert.match(String(gap!['message']), /5 messages after .*-2 \(ids 3 to 7\) are no longer in the replay buffer/);
    assert.deepEqual(opened.gap, gap);
    assert.deepEqual(res.messageIds(), [8, 9, 10]);
  });

  it('replays the latest `last` without since, and honours the filter live', async () => {
    const { bus, connect } = setup();
    for (let i = 1; i <= 6; i++) bus.publish({ ...note(i), level: i % 2 ? 'info' : 'error' });
    const { res } = connect({ last: 2, filter: { level: 'error' } });
    assert.deepEqual(res.messageIds(), [4, 6]);
    bus.publish({ ...note(7), level: 'info' });
    bus.publish({ ...note(8), level: 'error' });
    await flushed();
    assert.deepEqual(res.messageIds(), [4, 6, 8]);
  });

  it('cuts off a client that stays over clientBufferBytes without reading for clientStallMs across turns; until then it skips the oldest; the others get everything', async () => {
    const { bus, hub, clock, connect, warnings } = setup({ clientBufferBytes: 4096, clientStallMs: 1000 });
    const fast = connect();
    const slow = connect({}, 1024);
    slow.res.pause();
    const body = 'x'.repeat(200);
    let published = 0;
    // Until the slow client's socket buffer is full, its writes are accepted (and sit unread).
    while (slow.res.writableLength < 1024) {
      bus.publish(note(++published, body));
      await flushed();
    }
    const writesWhenBlocked = slow.res.writes.length;
    // Now messages wait in the hub for it; past the cap the oldest are skipped, and it is not cut
    // off inside a turn, nor before it has stayed over the cap for clientStallMs.
    for (let turn = 0; turn < 4; turn++) {
      for (let i = 0; i < 10; i++) bus.publish(note(++published, body));
      await flushed();
    }
    assert.equal(hub.size, 2, 'over the cap, but not yet for clientStallMs');
    assert.ok(hub.stats().skipped > 0, 'the oldest messages waiting for it were skipped');
    assert.ok(hub.stats().maxClientBufferedBytes <= 4096 + 1024 + 512, `its backlog stays bounded (${hub.stats().maxClientBufferedBytes} bytes)`);
    clock.advance(999);
    bus.publish(note(++published, body));
    await flushed();
    assert.equal(hub.size, 2, 'not before clientStallMs');
    clock.advance(1);
    bus.publish(note(++published, body));
    await flushed();
    assert.equal(hub.size, 1);
    assert.equal(hub.stats().cutOff, 1);
    assert.equal(bus.clients, 1);
    assert.match(warnings.join('\n'), /Disconnected the Bifrost stream client 2 \(unknown\) because it stopped reading: for 1000 ms/);
    assert.equal(slow.res.ended, true);
    assert.equal(slow.res.writes.length, writesWhenBlocked + 1, 'only the cutoff event is written after it blocked');

    for (let i = 0; i < 5; i++) bus.publish(note(++published));
    await flushed();
    assert.deepEqual(fast.res.messageIds(), range(1, published), 'the reading client got every message, in order');
    assert.equal(slow.res.writes.length, writesWhenBlocked + 1, 'nothing more is written to the cut-off client');

    // The client reads again: it finds what its socket held and the reason it was cut off.
    slow.res.resume();
    const [cutoff] = slow.res.dataOf('cutoff');
    assert.equal(cutoff!['reason'], 'slow_client');
    assert.match(String(cutoff!['message']), /over the limit of 10000 messages or 4096 bytes/);
    assert.ok(Number(cutoff!['pendingBytes']) > 0);
    const lastSeen = slow.res.messageIds().at(-1)!;
    assert.ok(lastSeen < published, 'it can resume with Last-Event-ID from the last message it read');
    assert.equal(slow.res.destroyed, false);
  });

  it('keeps a client that reads slowly connected: it gets a counted sample with a skipped event naming the ids left out', async () => {
    const { bus, hub, clock, connect } = setup({ clientBufferMessages: 5, clientStallMs: 1000 });
    const slow = connect({}, 1);
    slow.res.pause();
    bus.publish(note(1));
    await flushed(); // message 1 fills its socket: from here on messages wait in the hub
    for (let i = 2; i <= 20; i++) bus.publish(note(i));
    await flushed();
    clock.advance(900);
    slow.res.resume(); // it reads (drains) before clientStallMs has passed
    assert.equal(hub.size, 1);
    const [skipped] = slow.res.dataOf('skipped');
    assert.deepEqual({ skipped: skipped!['skipped'], firstId: skipped!['firstId'], lastId: skipped!['lastId'] }, { skipped: 14, firstId: 2, lastId: 15 });
    assert.match(String(skipped!['message']), /GET \/v1\/bifrost\/notifications\?since=1 has them/);
    assert.deepEqual(slow.res.messageIds(), [1, 16, 17, 18, 19, 20]);
    clock.advance(5000);
    bus.publish(note(21));
    await flushed();
    await flushed();
    assert.equal(hub.size, 1, 'a drained client starts afresh');
    assert.equal(hub.stats().skipped, 14);
  });

  it('destroys the socket of a cut-off client that never reads, exactly at closeGraceMs', async () => {
    const { bus, hub, clock, connect } = setup({ clientBufferMessages: 3, closeGraceMs: 2000, clientStallMs: 500 });
    const slow = connect({}, 1);
    slow.res.pause();
    bus.publish(note(1));
    await flushed(); // message 1 fills its socket: from here on messages wait in the hub
    for (let i = 2; i < 10; i++) bus.publish(note(i));
    await flushed();
    clock.advance(500);
    for (let i = 10; hub.size > 0 && i < 20; i++) {
      bus.publish(note(i));
      await flushed();
    }
    assert.equal(hub.stats().cutOff, 1, 'the message cap, held for clientStallMs, cuts it off too');
    clock.advance(1999);
    assert.equal(slow.res.destroyed, false, 'not before the grace has passed');
    clock.advance(1);
    assert.equal(slow.res.destroyed, true);
    assert.equal(clock.pending, 1, 'only the heartbeat interval is left');
  });

  it('sends heartbeats on the injected clock, with its time, only to clients that keep up', async () => {
    const { bus, clock, connect } = setup({ heartbeatMs: 15_000 });
    const a = connect();
    const b = connect();
    const blocked = connect({}, 1);
    blocked.res.pause();
    bus.publish(note(1));
    await flushed();
    clock.advance(14_999);
    assert.deepEqual(a.res.comments, [], 'no heartbeat before heartbeatMs');
    clock.advance(1);
    assert.deepEqual(a.res.comments, ['heartbeat 2024-05-01T12:00:15.000Z']);
    assert.deepEqual(b.res.comments, ['heartbeat 2024-05-01T12:00:15.000Z']);
    clock.advance(30_000);
    assert.equal(a.res.comments.length, 3);
    assert.equal(a.res.comments[2], 'heartbeat 2024-05-01T12:00:45.000Z');
    blocked.res.resume();
    assert.deepEqual(blocked.res.comments, [], 'a client whose socket is full gets no heartbeat');
    assert.deepEqual(blocked.res.messageIds(), [1]);
  });

  it('refuses past maxClients and while closing; close ends every stream with shutdown and stops the heartbeat', async () => {
    const { bus, hub, clock, connect } = setup({ maxClients: 1 });
    assert.equal(hub.refusal(), undefined);
    const a = connect();
    assert.deepEqual(hub.refusal()?.status, 429);
    assert.equal(hub.refusal()?.code, 'HMD_ERR_RATE_LIMITED');
    bus.publish(note(1, 'stopping'));
    hub.close();
    assert.equal(hub.refusal()?.status, 503);
    assert.equal(hub.refusal()?.code, 'HMD_ERR_SHUTTING_DOWN');
    assert.deepEqual(a.res.messageIds(), [1], 'what was queued goes out before the shutdown event');
    assert.equal(a.res.events.at(-1)!.event, 'shutdown');
    assert.equal(a.res.ended, true);
    assert.equal(hub.size, 0);
    await new Promise((r) => process.nextTick(r));
    assert.equal(clock.pending, 0, 'no heartbeat interval and no close grace left once the client has read its end');
    bus.publish(note(2));
    await flushed();
    assert.deepEqual(a.res.messageIds(), [1]);
  });

  it('flushes at most every minFlushIntervalMs on its flush clock: what was published meanwhile goes out in one write', async () => {
    const flushClock = new FakeClock();
    const { bus, connect } = setup({ minFlushIntervalMs: 20, flushClock });
    const clock = flushClock;
    const a = connect();
    bus.publish(note(1));
    await flushed();
    assert.deepEqual(a.res.messageIds(), [1], 'the first flush is not held back');
    bus.publish(note(2));
    await flushed();
    bus.publish(note(3));
    await flushed();
    assert.deepEqual(a.res.messageIds(), [1], 'the next flush waits for the interval (the clock has not moved)');
    clock.advance(19);
    assert.deepEqual(a.res.messageIds(), [1]);
    clock.advance(1);
    assert.deepEqual(a.res.messageIds(), [1, 2, 3]);
    assert.equal(a.res.writes.length, 3, 'the opening, message 1, then messages 2 and 3 in one write');
  });

  it('keeps writing to a client whose write returned false while its socket took every byte, and waits for drain only when the socket holds bytes', async () => {
    const { bus, connect } = setup();
    // As Node does for a write larger than the socket's high-water mark: false, however much the kernel took.
    const kernel = { writeQueueSize: 0 };
    const a = connect();
    Object.assign(a.res, { socket: { _handle: kernel, setNoDelay: () => undefined } });
    a.res.write = ((w) => (chunk: string | Buffer) => (w(chunk), false))(a.res.write.bind(a.res));
    bus.publish(note(1));
    await flushed();
    bus.publish(note(2));
    await flushed();
    assert.deepEqual(a.res.messageIds(), [1, 2], 'no drain was needed: the kernel had taken message 1');
    kernel.writeQueueSize = 500;
    bus.publish(note(3));
    await flushed();
    bus.publish(note(4));
    await flushed();
    assert.deepEqual(a.res.messageIds(), [1, 2, 3], 'message 3 is still in the socket: message 4 waits');
    kernel.writeQueueSize = 0;
    a.res.emit('drain');
    assert.deepEqual(a.res.messageIds(), [1, 2, 3, 4]);
  });

  it('waits minFlushIntervalMs after a cheap flush, and eight times as long as a costly flush took, up to maxFlushIntervalMs', async () => {
    const flushClock = new FakeClock();
    const { bus, connect } = setup({ minFlushIntervalMs: 2, maxFlushIntervalMs: 20, flushClock });
    const a = connect();
    bus.publish(note(1));
    await flushed();
    bus.publish(note(2));
    await flushed();
    assert.deepEqual(a.res.messageIds(), [1]);
    flushClock.advance(1);
    assert.deepEqual(a.res.messageIds(), [1]);
    flushClock.advance(1);
    assert.deepEqual(a.res.messageIds(), [1, 2], 'a flush that took no time is followed after minFlushIntervalMs');
    // The next flush's writes take 1.5 ms (on the flush clock): the one after waits 12 ms.
    const write = a.res.write.bind(a.res);
    let writeTakes = 1.5;
    a.res.write = (chunk: string | Buffer) => (flushClock.advance(writeTakes), write(chunk));
    flushClock.advance(10);
    bus.publish(note(3));
    await flushed();
    assert.deepEqual(a.res.messageIds(), [1, 2, 3]);
    bus.publish(note(4));
    await flushed();
    flushClock.advance(9.5); // 11 ms after the flush of message 3 started (1.5 of them in its write)
    assert.deepEqual(a.res.messageIds(), [1, 2, 3]);
    flushClock.advance(1);
    assert.deepEqual(a.res.messageIds(), [1, 2, 3, 4]);
    // Writes of 10 ms: the gap is capped at maxFlushIntervalMs.
    writeTakes = 10;
    flushClock.advance(20);
    bus.publish(note(5));
    await flushed();
    bus.publish(note(6));
    await flushed();
    flushClock.advance(9); // 19 ms after the flush of message 5 started
    assert.deepEqual(a.res.messageIds(), [1, 2, 3, 4, 5]);
    flushClock.advance(1);
    assert.deepEqual(a.res.messageIds(), [1, 2, 3, 4, 5, 6]);
  });

  it('writes the same bytes (one encoding, no copy per client) to every client that got the same messages in a flush', async () => {
    const { bus, connect } = setup();
    const clients = [connect(), connect(), connect()];
    const errorsOnly = connect({ filter: { level: 'error' } });
    bus.publish(note(1));
    bus.publish({ ...note(2), level: 'error' });
    await flushed();
    const last = clients.map((c) => c.res.chunks.at(-1));
    assert.ok(Buffer.isBuffer(last[0]));
    const first = last[0] as Buffer;
    assert.ok(
      last.every((b) => Buffer.isBuffer(b) && b.buffer === first.buffer && b.byteOffset === first.byteOffset && b.length === first.length),
      'every client writes a view of the same memory, encoded once',
    );
    for (const c of clients) assert.deepEqual(c.res.messageIds(), [1, 2]);
    assert.deepEqual(errorsOnly.res.messageIds(), [2], 'a client that got other messages gets its own chunk');
  });

  it('slices a flush to many clients over event-loop turns, and every client gets every message in order', async () => {
    // flushSliceMs 0: every slice ends after its first 8 clients.
    const { bus, hub, connect } = setup({ maxClients: 30, flushSliceMs: 0 });
    const clients = Array.from({ length: 20 }, () => connect());
    bus.publish(note(1));
    bus.publish(note(2));
    const served = () => clients.filter((c) => c.res.messageIds().length > 0).length;
    await flushed();
    assert.equal(served(), 8, 'the first turn wrote to 8 clients');
    await flushed();
    assert.equal(served(), 16);
    bus.publish(note(3)); // published while the flush is part-way: it is not lost, and order holds
    const done = () => clients.every((c) => c.res.messageIds().length === 3);
    for (let turn = 0; turn < 10 && !done(); turn++) await flushed();
    for (const c of clients) assert.deepEqual(c.res.messageIds(), [1, 2, 3]);
    assert.equal(hub.size, 20);
  });

  it('forgets a client that disconnects', async () => {
    const { bus, hub, connect } = setup();
    const a = connect();
    const b = connect();
    a.res.disconnect();
    assert.equal(hub.size, 1);
    assert.equal(bus.clients, 1);
    bus.publish(note(1));
    await flushed();
    assert.deepEqual(a.res.messageIds(), []);
    assert.deepEqual(b.res.messageIds(), [1]);
    assert.equal(hub.stats().connectedTotal, 2);
  });
});
