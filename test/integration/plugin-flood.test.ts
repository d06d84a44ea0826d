/**
 * A plugin floods the daemon (a real daemon process, real worker threads, real HTTP): one action
 * writes 10^6 log lines and publishes 10^6 notifications in a tight loop, with the default output
 * limits (limits.plugins) and 500 SSE clients that keep reading plus one that stopped reading.
 * Measured during the flood, from a worker thread: /healthz p99 under 50 ms. Then, once quiet:
 * every drop is counted (passed + dropped = 10^6 for each kind) and summarised at most once per
 * interval (the summaries add up to the drops); all 500 readers are still connected and got every
 * message published after they connected (or, for a reader that fell behind, a counted sample:
 * received + skipped = published); the one that stopped reading was cut off with a `cutoff` event
 * (it reads again once the daemon logs the cut-off, and finds the event at the end of its stream).
 */
import assert from 'node:assert/strict';
import { request, type ClientRequest, type IncomingMessage } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { startDaemonProcess, type DaemonProcess } from '../helpers/daemon-process.js';
import { percentile, probeHealthz } from '../helpers/healthz-probe.js';
import { waitFor } from '../helpers/in-process-daemon.js';
import { fixturePlugin } from '../helpers/paths.js';

const READERS = 500;
const FLOOD = 1_000_000;

/**
 * A Bifrost stream reader that costs the test process little (500 of them read at once): it
 * splits the stream into frames and reads only what the test checks — message ids, the hello's
 * lastId, skipped counts and a cutoff.
 */
class Reader {
  helloLastId = -1;
  clientId = -1;
  /** The daemon ended the response (or the socket closed). */
  ended = false;
  ids: number[] = [];
  skipped = 0;
  cutoff = false;
  private tail = '';
  private req: ClientRequest | undefined;
  private res: IncomingMessage | undefined;

  /** @param stopsReading stop reading at once after the hello event (the client that stops reading). */
  constructor(private readonly stopsReading = false) {}

  open(url: string): Promise<void> {
    return new Promise((resolve, reject) => {
      this.req = request(url, { headers: { accept: 'text/event-stream' } }, (res) => {
        this.res = res;
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => this.feed(chunk));
        res.on('end', () => (this.ended = true));
        res.on('close', () => (this.ended = true));
        res.on('error', () => undefined);
      });
      this.req.on('error', reject);
      this.req.end();
      void waitFor('the hello event', () => this.helloLastId >= 0, 30_000).then(resolve, reject);
    });
  }

  private feed(chunk: string): void {
    const text = this.tail + chunk;
    const end = text.lastIndexOf('\n\n');
    if (end === -1) {
      this.tail = text;
      return;
    }
    this.tail = text.slice(end + 2);
    for (const frame of text.slice(0, end).split('\n\n')) {
      if (frame.startsWith('id: ')) {
        this.ids.push(Number(frame.slice(frame.indexOf('-') + 1, frame.indexOf('\n'))));
      } else if (frame.startsWith('event: hello')) {
        const hello = JSON.parse(frame.slice(frame.indexOf('data: ') + 6)) as { lastId: number; clientId: number };
        this.clientId = hello.clientId;
        this.helloLastId = hello.lastId;
        if (this.stopsReading) this.res?.pause();
      } else if (frame.startsWith('event: skipped')) {
        this.skipped += (JSON.parse(frame.slice(frame.indexOf('data: ') + 6)) as { skipped: number }).skipped;
      } else if (frame.startsWith('event: cutoff')) {
        this.cutoff = true;
      }
    }
  }

  pause(): void {
    this.res?.pause();
  }

  resume(): void {
    this.res?.resume();
  }

  close(): void {
    this.req?.destroy();
  }
}

interface Status {
  plugins: Array<{ name: string; state: string; output: { logLines: { passed: number; dropped: number }; notifications: { passed: number; dropped: number }; summaries: number } }>;
}

describe('a plugin flooding the daemon', { timeout: 300_000 }, () => {
  let d: DaemonProcess;
  const readers: Reader[] = [];
  let slow: Reader;
  before(async () => {
    d = await startDaemonProcess({
      configYaml: [
        'bifrost:',
        '  maxClients: 600',
        '  bufferSize: 5000',
        '  clientBufferBytes: 16384',
        '  clientBufferMessages: 50',
        '  clientStallMs: 500',
        'drops:',
        '  logIntervalMs: 1000',
        'plugins:',
        `  - path: ${JSON.stringify(fixturePlugin('flood.mjs'))}`,
        `  - path: ${JSON.stringify(fixturePlugin('bifrost-notifier.mjs'))}`,
        '    limits:',
        '      notificationsPerSecond: 0',
        '',
      ].join('\n'),
      timeoutMs: 60_000,
      // Its own session, as a service: the 500 readers of this process do not count against it.
      detached: true,
    });
  });
  after(async () => {
    for (const r of readers) r.close();
    slow?.close();
    if (d) assert.equal(await d.stop(), 0);
  });

  it('keeps /healthz p99 under 50 ms, counts and summarises the drops, keeps the 500 readers connected and cuts off the one that stopped reading', async () => {
    const invoke = async (name: string, params: Record<string, unknown>) => {
      const res = await d.fetch(`/v1/actions/${name}/invoke`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ params }) });
      assert.equal(res.status, 200, await res.clone().text());
      return (await res.json()) as { success: boolean; data: Record<string, unknown> };
    };
    // A replay buffer of ~8 MB, so the client that stops reading (right after its hello) fills its socket at once.
    await invoke('heimdall.bifrost-notifier.burst', { count: 4000, window: 100, pad: 2000 });
    slow = new Reader(true);
    await slow.open(`${d.url}/v1/bifrost/stream?last=4000`);
    // It reads again as soon as the daemon logs that it cut it off: a cut-off client has 5 s (the
    // close grace) to read what its socket holds and the cutoff event before the socket is destroyed.
    const slowCutOff = d.waitForLog(
      (l) => l.json?.['clientId'] === slow.clientId && /^Disconnected the Bifrost stream client/.test(String(l.json?.['msg'])),
      280_000,
    ).then(() => slow.resume());
    slowCutOff.catch(() => undefined);
    for (let i = 0; i < READERS; i += 50) {
      const batch = Array.from({ length: 50 }, () => new Reader());
      await Promise.all(batch.map((r) => r.open(`${d.url}/v1/bifrost/stream`)));
      readers.push(...batch);
    }
    const status0 = (await (await d.fetch('/v1/bifrost/status')).json()) as { stream: { clients: number } };
    assert.equal(status0.stream.clients, READERS + 1);

    const lastId = async () => ((await (await d.fetch('/v1/bifrost/status')).json()) as { lastId: number }).lastId;
    const caughtUp = async () => {
      const last = await lastId();
      // The newest message always reaches a reader that keeps reading (only the oldest are skipped).
      return readers.every((r) => (r.ids.at(-1) ?? r.helloLastId) === last);
    };
    // The machine this runs on is shared: a flood is measured up to five times, and one run under
    // 50 ms shows that the daemon itself does not hold /healthz up (a daemon that blocks its event
    // loop, as it did before these limits, fails every run). Each run's numbers are reported.
    const runs: string[] = [];
    let p99 = Infinity;
    let floods = 0;
    let status: Status | undefined;
    for (let run = 1; run <= 5 && !(p99 < 50); run++) {
      const idle = probeHealthz(d.url);
      await waitFor('a baseline of 100 idle probes', () => idle.count() >= 100, 30_000);
      const baseline = percentile(await idle.stop(), 99);
      const probe = probeHealthz(d.url);
      const t0 = Date.now();
      const flood = await invoke('heimdall.flood.flood', { logs: FLOOD, notifications: FLOOD, pad: 100 });
      assert.equal(flood.success, true);
      floods++;
      // Quiet: the worker has reported its drops, every kind adds up, every reader has read the last message.
      await waitFor('every log line and notification to be counted', async () => {
        status = (await (await d.fetch('/v1/status')).json()) as Status;
        const o = status.plugins.find((p) => p.name === 'flood')!.output;
        return o.logLines.passed + o.logLines.dropped === floods * FLOOD && o.notifications.passed + o.notifications.dropped === floods * FLOOD;
      }, 60_000);
      await waitFor('every reader to have read the last message', caughtUp, 60_000);
      const floodMs = Date.now() - t0;
      const latencies = await probe.stop();
      p99 = percentile(latencies, 99);
      runs.push(`run ${run}: /healthz p99 ${p99.toFixed(1)} ms (max ${Math.max(...latencies).toFixed(0)} ms, ${latencies.length} probes) during a ${floodMs} ms flood; idle p99 just before ${baseline.toFixed(1)} ms`);
      assert.ok(latencies.length >= 20, runs.at(-1));
    }
    assert.ok(p99 < 50, runs.join('\n'));

    const out = status!.plugins.find((p) => p.name === 'flood')!.output;
    assert.ok(out.logLines.dropped > floods * FLOOD * 0.9, `most log lines were dropped (${out.logLines.dropped})`);
    assert.ok(out.notifications.dropped > floods * FLOOD * 0.9, `most notifications were dropped (${out.notifications.dropped})`);
    assert.ok(out.logLines.passed >= 2000 && out.notifications.passed >= 100, 'the bursts (limits.plugins.logLinesBurst, notificationsBurst) went through');

    // One summary per interval, and together they account for every drop.
    const summaries = () => d.lines.filter((l) => /went over its output limits/.test(String(l.json?.['msg'])) && l.json?.['plugin'] === 'flood');
    await waitFor('the summaries to add up to the drops', () => {
      const s = summaries();
      const logs = s.reduce((a, l) => a + Number(l.json!['droppedLogLines']), 0);
      const notes = s.reduce((a, l) => a + Number(l.json!['droppedNotifications']), 0);
      return logs === out.logLines.dropped && notes === out.notifications.dropped;
    }, 15_000);
    const times = summaries().map((l) => Date.parse(String(l.json!['time'])));
    for (let i = 1; i < times.length; i++) assert.ok(times[i]! - times[i - 1]! >= 900, `summaries ${times[i]! - times[i - 1]!} ms apart`);
    const floodLines = d.lines.filter((l) => /^Flood line \d+\.$/.test(String(l.json?.['msg']))).length;
    assert.equal(floodLines, out.logLines.passed, 'exactly the lines that passed reached the log');

    // Every reader is still connected and has what was published after it connected.
    await waitFor('every reader to have read up to the last message', caughtUp, 60_000);
    const bstatus = (await (await d.fetch('/v1/bifrost/status')).json()) as { lastId: number; stream: { clients: number; cutOff: number; skipped: number } };
    let sampled = 0;
    for (const r of readers) {
      assert.equal(r.ids.length + r.skipped, bstatus.lastId - r.helloLastId, 'every message after connecting: received or counted as skipped');
      for (let i = 1; i < r.ids.length; i++) assert.ok(r.ids[i]! > r.ids[i - 1]!, 'in order');
      assert.ok(!r.cutoff);
      if (r.skipped > 0) sampled++;
    }
    // The client that stopped reading is cut off once its socket has taken nothing for clientStallMs across two
    // flushes. The kernel may have taken the whole replay into the socket's buffers (loopback buffers grow to
    // several MB), and the flood passes little: more 2 KB messages, until the daemon says it cut the client off,
    // fill the socket for sure and make the flushes that judge it.
    let cut = false;
    void slowCutOff.then(() => (cut = true), () => undefined);
    await waitFor('the daemon to cut off the client that stopped reading', async () => {
      if (!cut) await invoke('heimdall.bifrost-notifier.burst', { count: 50, window: 50, pad: 2000 });
      return cut;
    }, 120_000);
    await slowCutOff;
    const after = (await (await d.fetch('/v1/bifrost/status')).json()) as { stream: { clients: number; cutOff: number } };
    assert.equal(after.stream.cutOff, 1, 'only the client that stopped reading was cut off');
    assert.equal(after.stream.clients, READERS);

    await waitFor('the stopped client to read its cutoff event', () => slow.cutoff, 20_000);
    await waitFor('the daemon to end the stopped client\'s response', () => slow.ended, 20_000);
    process.stdout.write(`# ${runs.join('; ')}; ${out.notifications.passed} notifications and ${out.logLines.passed} log lines passed, ${sampled} readers got a sample\n`);
  });
});
