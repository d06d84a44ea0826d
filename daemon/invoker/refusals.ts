/**
 * Reports async invocations refused before they ran (queue full, rate limited) on Bifrost and in
 * the log without flooding either: the first refusal per plugin and reason is published at once,
 * the ones after it are summed into one summary per interval.
 */
import type { Logger } from 'pino';
import type { BifrostBus } from '../bifrost/bus.js';
import type { InvocationRecord } from './invocation-store.js';

interface Pending {
  plugin: string | undefined;
  reason: string;
  count: number;
  lastMessage: string;
}

export class RefusalReporter {
  private readonly pending = new Map<string, Pending>();
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly bus: BifrostBus,
    private readonly log: Logger,
    private readonly intervalMs: number,
  ) {
    this.timer = setInterval(() => this.flush(), intervalMs);
    this.timer.unref();
  }

  refused(rec: InvocationRecord, reason: string, message: string): void {
    const plugin = rec.trigger.plugin;
    const key = `${plugin ?? ''}|${reason}`;
    const p = this.pending.get(key);
    if (p) {
      p.count++;
      p.lastMessage = message;
      return;
    }
    this.pending.set(key, { plugin, reason, count: 0, lastMessage: message });
    const who = plugin ? `the plugin ${plugin}` : 'an operator';
    this.log.warn({ invocationId: rec.id, plugin, reason }, `An async ${rec.kind} of ${who} was refused (${reason}): ${message}`);
    this.bus.publish({
      kind: 'notification',
      level: 'warning',
      title: `Invocation refused (${reason})`,
      message,
      data: { invocationId: rec.id, kind: rec.kind, name: rec.name, ...(plugin ? { plugin } : {}), reason, success: false },
      origin: { kind: plugin ? 'plugin' : 'operator', ...(plugin ? { plugin } : {}), invocationId: rec.id },
    });
  }

  /** Publishes one summary per plugin and reason that had more refusals since the last one. */
  flush(): void {
    for (const [key, p] of this.pending) {
      if (p.count === 0) {
        this.pending.delete(key);
        continue;
      }
      const who = p.plugin ? `the plugin ${p.plugin}` : 'operators';
      const text = `${p.count} more async invocations of ${who} were refused (${p.reason}) in the last ${Math.round(this.intervalMs / 1000)} s. Last reason: ${p.lastMessage}`;
      this.log.warn({ plugin: p.plugin, reason: p.reason, count: p.count }, text);
      this.bus.publish({
        kind: 'notification',
        level: 'warning',
        title: `Invocations refused (${p.reason})`,
        message: text,
        data: { ...(p.plugin ? { plugin: p.plugin } : {}), reason: p.reason, count: p.count },
        origin: { kind: p.plugin ? 'plugin' : 'operator', ...(p.plugin ? { plugin: p.plugin } : {}) },
      });
      p.count = 0;
    }
  }

  close(): void {
    clearInterval(this.timer);
    this.flush();
  }
}
