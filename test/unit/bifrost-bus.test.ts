/** The Bifrost bus (ids, ring buffer, replay and gaps), filters, since parsing, the SSE parser and text formats. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { BifrostBus, type BifrostInput, type BifrostMessage } from '../../daemon/bifrost/bus.js';
import { compileFilter, parseFilter } from '../../daemon/bifrost/filter.js';
import { formatLine, slackText } from '../../daemon/bifrost/format.js';
import { parseSince } from '../../daemon/bifrost/since.js';
import { SseParser, type SseEvent } from '../../daemon/bifrost/sse-client.js';
import { messageFrame } from '../../daemon/bifrost/sse-format.js';
import { FakeClock } from '../helpers/fake-clock.js';

const silent = pino({ level: 'silent' });
const note = (i: number, extra: Partial<BifrostInput> = {}): BifrostInput => ({
  kind: 'notification', level: 'info', title: `T${i}`, message: `m${i}`, origin: { kind: 'plugin', plugin: 'p' }, ...extra,
});
const ids = (ms: readonly BifrostMessage[]) => ms.map((m) => m.id);
const range = (a: number, b: number) => Array.from({ length: b - a + 1 }, (_, i) => a + i);

describe('BifrostBus', () => {
  it('gives consecutive ids from 1, timestamps and origins, and hands each message to subscribers in order', () => {
    const bus = new BifrostBus(5, silent);
    const seen: number[] = [];
    const off = bus.subscribe((m) => seen.push(m.id));
    const before = Date.now();
    for (let i = 0; i < 8; i++) bus.publish(note(i));
    off();
    bus.publish(note(8));
    assert.deepEqual(seen, range(1, 8));
    assert.equal(bus.lastId(), 9);
    assert.equal(bus.oldestId(), 5);
    assert.equal(bus.evicted, 4);
    const m = bus.get(9)!;
    assert.equal(m.message, 'm8');
    assert.equal(m.level, 'info');
    assert.deepEqual(m.origin, { kind: 'plugin', plugin: 'p' });
    assert.ok(Date.parse(m.timestamp) >= before - 1);
    assert.equal(bus.get(4), undefined, 'evicted messages are gone');
    assert.equal(bus.publish({ kind: 'message', message: 'x', origin: { kind: 'daemon' } }).level, 'info', 'the level defaults to info');
  });

  it('keeps the old since() contract: ids after `since`, oldest first, at most limit', () => {
    const bus = new BifrostBus(4, silent);
    for (let i = 0; i < 6; i++) bus.publish(note(i));
    assert.deepEqual(ids(bus.since(0)), [3, 4, 5, 6]);
    assert.deepEqual(ids(bus.since(4)), [5, 6]);
    assert.deepEqual(ids(bus.since(3, 2)), [4, 5]);
    assert.deepEqual(ids(bus.since(6)), []);
  });

  it('replays after an id without a gap when nothing was evicted, and with an exact gap when some was', () => {
    const bus = new BifrostBus(10, silent);
    for (let i = 0; i < 25; i++) bus.publish(note(i));
    const ok = bus.query({ since: { kind: 'id', id: 20, epoch: bus.epoch } });
    assert.deepEqual(ids(ok.messages), range(21, 25));
    assert.equal(ok.gap, undefined);
    const edge = bus.query({ since: { kind: 'id', id: 15 } });
    assert.deepEqual(ids(edge.messages), range(16, 25));
    assert.equal(edge.gap, undefined, 'the oldest kept message follows directly: no gap');
    const gap = bus.query({ since: { kind: 'id', id: 3 }, sinceText: '3' });
    assert.deepEqual(ids(gap.messages), range(16, 25));
    assert.equal(gap.gap?.reason, 'evicted');
    assert.equal(gap.gap?.missed, 12);
    assert.equal(gap.gap?.oldestAvailable, 16);
    assert.match(gap.gap!.message, /12 messages after 3 \(ids 4 to 15\) are no longer in the replay buffer/);
  });

  it('reports a restart when the id comes from another run (another epoch); an id this run has not reached is ahead, not a restart', () => {
    const bus = new BifrostBus(10, silent);
    for (let i = 0; i < 3; i++) bus.publish(note(i));
    const other = bus.query({ since: { kind: 'id', id: 2, epoch: 'zzzzzz' }, sinceText: 'zzzzzz-2' });
    assert.equal(other.gap?.reason, 'restarted');
    assert.deepEqual(ids(other.messages), [1, 2, 3], 'everything of this run is replayed');
    const ahead = bus.query({ since: { kind: 'id', id: 99 }, sinceText: '99' });
    assert.equal(ahead.gap, undefined, 'an id from the future is not a restart');
    assert.deepEqual(ids(ahead.messages), []);
    assert.match(ahead.ahead!, /^99 is after the newest message of this run \(3, epoch /);
    const sameEpoch = bus.query({ since: { kind: 'id', id: 99, epoch: bus.epoch } });
    assert.equal(sameEpoch.gap, undefined);
    assert.ok(sameEpoch.ahead);
  });

  it('replays from a time, and says so when messages of that period were evicted', () => {
    const clock = new FakeClock();
    const bus = new BifrostBus(3, silent, clock);
    bus.publish(note(0));
    clock.advance(5);
    const t = clock.now();
    clock.advance(5);
    bus.publish(note(1));
    bus.publish(note(2));
    const fine = bus.query({ since: { kind: 'time', at: t } });
    assert.deepEqual(ids(fine.messages), [2, 3]);
    assert.equal(fine.gap, undefined);
    bus.publish(note(3));
    bus.publish(note(4)); // evicts 2, published after t
    const gap = bus.query({ since: { kind: 'time', at: t } });
    assert.deepEqual(ids(gap.messages), [3, 4, 5]);
    assert.equal(gap.gap?.reason, 'evicted');
    assert.equal(gap.gap?.missed, null);
  });

  it('stamps messages with the injected clock', () => {
    const clock = new FakeClock(Date.parse('2024-05-01T12:00:00Z'));
    const bus = new BifrostBus(3, silent, clock);
    assert.equal(bus.publish(note(0)).timestamp, '2024-05-01T12:00:00.000Z');
    clock.advance(1500);
    assert.equal(bus.publish(note(1)).timestamp, '2024-05-01T12:00:01.500Z');
    assert.match(bus.epoch, /^[0-9a-z]{6,}$/, 'the epoch stays an SSE-id prefix');
  });

  it('filters, takes the latest `last`, and pages with limit/more/next so that every message comes exactly once', () => {
    const bus = new BifrostBus(100, silent);
    const levels = ['info', 'success', 'warning', 'error'] as const;
    for (let i = 0; i < 40; i++) bus.publish(note(i, { level: levels[i % 4] }));
    const latest = bus.query({ last: 3, filter: { level: 'warning' } });
    assert.deepEqual(ids(latest.messages), [35, 36, 39, 40].slice(1));
    const seen: number[] = [];
    let since = { kind: 'id' as const, id: 0 };
    for (let pages = 0; pages < 20; pages++) {
      const r = bus.query({ since, limit: 7, filter: { level: 'error' } });
      seen.push(...ids(r.messages));
      const next = parseSince(r.next);
      assert.ok(next.ok && next.since.kind === 'id');
      since = { kind: 'id', id: next.since.id };
      if (!r.more) break;
    }
    assert.deepEqual(seen, range(1, 10).map((i) => i * 4));
  });
});

describe('Bifrost filters', () => {
  const msg = (level: BifrostMessage['level'], kind: BifrostMessage['kind'], origin: BifrostMessage['origin']): BifrostMessage =>
    ({ id: 1, kind, level, timestamp: new Date().toISOString(), message: 'x', origin });

  it('ranks info < success < warning < error and matches plugins (daemon for daemon notices) and kinds', () => {
    const atLeastSuccess = compileFilter({ level: 'success' })!;
    assert.equal(atLeastSuccess(msg('info', 'notification', { kind: 'daemon' })), false);
    assert.equal(atLeastSuccess(msg('success', 'notification', { kind: 'daemon' })), true);
    assert.equal(atLeastSuccess(msg('error', 'notification', { kind: 'daemon' })), true);
    const daemonOnly = compileFilter({ plugins: ['daemon'] })!;
    assert.equal(daemonOnly(msg('info', 'notification', { kind: 'daemon' })), true);
    assert.equal(daemonOnly(msg('info', 'notification', { kind: 'plugin', plugin: 'a' })), false);
    const kinds = compileFilter({ kinds: ['broadcast'] })!;
    assert.equal(kinds(msg('info', 'broadcast', { kind: 'plugin', plugin: 'a' })), true);
    assert.equal(kinds(msg('info', 'message', { kind: 'plugin', plugin: 'a' })), false);
    assert.equal(compileFilter({}), undefined, 'an empty filter lets everything through');
  });

  it('parses query-style values and explains mistakes', () => {
    const ok = parseFilter({ level: 'WARN', plugin: ['a,b', 'c'], kind: 'message, broadcast' });
    assert.deepEqual(ok, { ok: true, filter: { level: 'warning', plugins: ['a', 'b', 'c'], kinds: ['message', 'broadcast'] } });
    const bad = parseFilter({ level: 'loud' });
    assert.equal(bad.ok, false);
    assert.match((bad as { message: string }).message, /level "loud" is not a Bifrost level; use one of info, success, warning, error/);
    assert.match((parseFilter({ kind: 'email' }) as { message: string }).message, /kind "email" is not a Bifrost message kind/);
  });
});

describe('parseSince', () => {
  it('accepts ids, SSE ids, durations and ISO times, and refuses the rest with the accepted forms', () => {
    assert.deepEqual(parseSince('42'), { ok: true, since: { kind: 'id', id: 42 } });
    assert.deepEqual(parseSince('lx9k2a1f-42'), { ok: true, since: { kind: 'id', id: 42, epoch: 'lx9k2a1f' } });
    assert.deepEqual(parseSince('10m', 1_000_000), { ok: true, since: { kind: 'time', at: 400_000 } });
    assert.deepEqual(parseSince('1.5s', 10_000), { ok: true, since: { kind: 'time', at: 8_500 } });
    assert.deepEqual(parseSince('2024-05-01T12:00:00Z'), { ok: true, since: { kind: 'time', at: Date.parse('2024-05-01T12:00:00Z') } });
    const bad = parseSince('yesterday');
    assert.equal(bad.ok, false);
    assert.match((bad as { message: string }).message, /a duration \(30s, 10m, 2h, 1d\)/);
  });
});

describe('SseParser', () => {
  it('parses frames split anywhere, CRLF and CR line ends, multi-line data, comments and sticky ids', () => {
    const events: SseEvent[] = [];
    const comments: string[] = [];
    const p = new SseParser((e) => events.push(e), (c) => comments.push(c));
    const text = 'retry: 500\r\n\r\n: hi there\r\nid: e-1\r\nevent: notification\r\ndata: {"a":1}\r\n\r\nevent: gap\rdata: line1\rdata: line2\r\rdata: plain\n\n';
    for (const ch of text) p.feed(ch);
    assert.deepEqual(comments, ['hi there']);
    assert.equal(p.retryMs, 500);
    assert.deepEqual(events, [
      { event: 'notification', data: '{"a":1}', lastEventId: 'e-1', hasId: true },
      { event: 'gap', data: 'line1\nline2', lastEventId: 'e-1', hasId: false },
      { event: 'message', data: 'plain', lastEventId: 'e-1', hasId: false },
    ]);
  });

  it('reads back what messageFrame writes', () => {
    const m: BifrostMessage = { id: 7, kind: 'broadcast', timestamp: new Date().toISOString(), level: 'info', message: 'two\nlines', origin: { kind: 'plugin', plugin: 'p' } };
    const events: SseEvent[] = [];
    new SseParser((e) => events.push(e)).feed(messageFrame('ep', m));
    assert.equal(events.length, 1);
    assert.equal(events[0]!.lastEventId, 'ep-7');
    assert.equal(events[0]!.event, 'broadcast');
    assert.deepEqual(JSON.parse(events[0]!.data), m);
  });
});

describe('text formats', () => {
  const m: BifrostMessage = {
    id: 3, kind: 'notification', timestamp: '2024-05-01T12:00:00.000Z', level: 'warning', title: 'Disk', message: 'almost full',
    data: { pct: 91 }, origin: { kind: 'plugin', plugin: 'security' },
  };
  it('formats one line with level, origin, title and message, colours only when asked, data with verbose', () => {
    const plain = formatLine(m, { colour: false });
    assert.match(plain, /^\d\d:\d\d:\d\d\.000 WARNING security\s+Disk: almost full$/);
    assert.ok(!plain.includes('\x1b['));
    assert.ok(formatLine(m, { colour: true }).includes('\x1b[33m'));
    assert.match(formatLine(m, { colour: false, verbose: true }), /\n\s+"pct": 91/);
  });
  it('makes Slack-compatible text, escaping mrkdwn control characters', () => {
    assert.equal(slackText({ ...m, message: 'a <b> & c' }), ':warning: *Disk* a &lt;b&gt; &amp; c _(security, notification #3)_');
  });
});
