/**
 * The drop summary alone: one drops event per plugin per interval with drops, its log line on the
 * plugin's logger, its subscribers (metric, notice), and advice that fits the cause — a full queue
 * needs capacity or a faster handler, a failed plugin needs fixing.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BoundedQueue } from '../../daemon/queue/bounded-queue.js';
import { DropSummary, describeDrops, dropsNotice, type DropsEvent, type DroppingPlugin } from '../../daemon/queue/drop-summary.js';

class Plugin implements DroppingPlugin {
  readonly lines: Array<{ level: 'warn' | 'error'; msg: string }> = [];
  readonly log = {
    warn: (_o: object, msg: string) => void this.lines.push({ level: 'warn', msg }),
    error: (_o: object, msg: string) => void this.lines.push({ level: 'error', msg }),
  } as unknown as DroppingPlugin['log'];
  readonly queue = new BoundedQueue<number>(2, 'drop_newest');
  constructor(readonly name: string, public state = 'running', public reason: string | undefined = undefined) {}
}

describe('DropSummary', () => {
  it('emits one event per plugin that dropped since the last flush, logs it, and hands it to every subscriber', () => {
    const slow = new Plugin('slow');
    const quiet = new Plugin('quiet');
    const seen: DropsEvent[] = [];
    const counted: string[] = [];
    const s = new DropSummary({ intervalMs: 5000, plugins: () => [slow, quiet] }).subscribe((e) => seen.push(e)).subscribe((e) => counted.push(e.plugin));
    for (let i = 0; i < 5; i++) slow.queue.push(i);
    quiet.queue.push(1);
    const first = s.flush();
    assert.equal(first.length, 1, 'only the plugin that dropped');
    assert.deepEqual({ plugin: first[0]!.plugin, dropped: first[0]!.dropped, total: first[0]!.total, intervalMs: first[0]!.intervalMs }, { plugin: 'slow', dropped: { queue_full: 3 }, total: 3, intervalMs: 5000 });
    assert.deepEqual(seen, first);
    assert.deepEqual(counted, ['slow']);
    assert.deepEqual(slow.lines, [{ level: 'warn', msg: describeDrops(first[0]!) }]);
    assert.match(slow.lines[0]!.msg, /^The plugin slow dropped 3 events in the last 5 s \(queue_full: 3\); it has received 5, delivered 0, dropped 3 in all\. Raise queue\.capacity or make the handler faster\.$/);
    assert.deepEqual(s.flush(), [], 'nothing new dropped, nothing emitted');
    slow.queue.push(9);
    assert.equal(s.flush()[0]!.total, 1, 'the next interval counts only its own drops');
    assert.equal(quiet.lines.length, 0);
  });

  it('tells a failed plugin that it is failed and why, not to make its handler faster', () => {
    const broken = new Plugin('broken', 'failed', 'The plugin path plugins/broken does not exist (resolved to /srv/plugins/broken); fix plugins[].path in the config.');
    for (let i = 0; i < 4; i++) broken.queue.refuse('plugin_failed');
    const [ev] = new DropSummary({ intervalMs: 10_000, plugins: () => [broken] }).flush();
    assert.equal(ev!.failedBecause, broken.reason);
    const text = describeDrops(ev!);
    assert.doesNotMatch(text, /handler faster|queue\.capacity/);
    assert.match(text, /^The plugin broken is failed, so the 4 events sent to it in the last 10 s were dropped \(plugin_failed: 4\);/);
    assert.match(text, /It failed because: The plugin path plugins\/broken does not exist .*; fix plugins\[\]\.path in the config\. Fix the plugin and restart it \(`heimdall plugins restart broken`\)\.$/);
    assert.deepEqual(broken.lines.map((l) => l.level), ['error']);
    const notice = dropsNotice(ev!);
    assert.equal(notice.level, 'error');
    assert.equal(notice.title, 'Plugin broken is dropping events');
    assert.deepEqual(notice.data, { plugin: 'broken', dropped: { plugin_failed: 4 } });
  });

  it('explains shutdown drops and stays a warning for a running plugin', () => {
    const p = new Plugin('late');
    p.queue.push(1);
    p.queue.push(2);
    p.queue.dropAll('shutdown');
    const [ev] = new DropSummary({ intervalMs: 1000, plugins: () => [p] }).flush();
    assert.match(describeDrops(ev!), /raise shutdown\.drainTimeoutMs/);
    assert.equal(dropsNotice(ev!).level, 'warning');
  });
});
