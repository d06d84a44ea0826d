/**
 * The `log` sink: each message as one line of the daemon's log (pino), error → error,
 * warning → warn, everything else → info, with the id, kind, origin and data as fields.
 */
import type { Logger } from 'pino';
import type { BifrostMessage } from '../bus.js';
import type { Sink, SinkStats } from './sink.js';

export class LogSink implements Sink {
  private received = 0;

  constructor(readonly name: string, private readonly log: Logger) {}

  write(m: BifrostMessage): void {
    this.received++;
    const lvl = m.level === 'error' ? 'error' : m.level === 'warning' ? 'warn' : 'info';
    this.log[lvl](
      { bifrostId: m.id, kind: m.kind, bifrostLevel: m.level, origin: m.origin, ...(m.data ? { data: m.data } : {}) },
      `Bifrost ${m.kind}${m.title ? ` "${m.title}"` : ''}: ${m.message}`,
    );
  }

  stats(): SinkStats {
    return { name: this.name, type: 'log', received: this.received, written: this.received, failed: 0, dropped: 0, queued: 0 };
  }

  async close(): Promise<void> {}
}
