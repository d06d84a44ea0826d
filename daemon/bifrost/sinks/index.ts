/**
 * Builds the sinks of `bifrost.sinks` and feeds them from the bus, each through its own filters.
 * A sink that throws is reported once and skipped for that message; sinks never slow the bus.
 */
import { isAbsolute, resolve } from 'node:path';
import type { Logger } from 'pino';
import type { BifrostSinkConfig } from '../../../config/types.js';
import type { BifrostBus, BifrostMessage } from '../bus.js';
import { systemClock, type Clock } from '../clock.js';
import { compileFilter } from '../filter.js';
import { FileSink } from './file-sink.js';
import { LogSink } from './log-sink.js';
import type { Sink, SinkStats } from './sink.js';
import { WebhookSink } from './webhook-sink.js';

export type { Sink, SinkStats } from './sink.js';

interface Entry {
  sink: Sink;
  pass: ((m: BifrostMessage) => boolean) | undefined;
  threw: boolean;
}

export function createSink(cfg: BifrostSinkConfig, index: number, baseDir: string, log: Logger, clock: Clock = systemClock): Sink {
  const name = cfg.name ?? `${cfg.type}#${index}`;
  switch (cfg.type) {
    case 'file':
      return new FileSink(name, { ...cfg, path: isAbsolute(cfg.path) ? cfg.path : resolve(baseDir, cfg.path) }, log, clock);
    case 'webhook':
      return new WebhookSink(name, cfg, log, clock);
    case 'log':
      return new LogSink(name, log);
  }
}

export class SinkSet {
  private readonly entries: Entry[];
  private readonly unsubscribe: () => void;

  /** @param clock Retry backoffs and error-log intervals of the sinks; default the bus's clock. */
  constructor(bus: BifrostBus, configs: readonly BifrostSinkConfig[], baseDir: string, private readonly log: Logger, clock: Clock = bus.clock) {
    this.entries = configs.map((cfg, i) => ({
      sink: createSink(cfg, i, baseDir, log.child({ sink: cfg.name ?? `${cfg.type}#${i}` }), clock),
      pass: compileFilter({ ...(cfg.level ? { level: cfg.level } : {}), ...(cfg.plugins ? { plugins: cfg.plugins } : {}), ...(cfg.kinds ? { kinds: cfg.kinds } : {}) }),
      threw: false,
    }));
    this.unsubscribe = this.entries.length > 0 ? bus.subscribe((m) => this.dispatch(m)) : () => undefined;
  }

  private dispatch(m: BifrostMessage): void {
    for (const e of this.entries) {
      if (e.pass && !e.pass(m)) continue;
      try {
        e.sink.write(m);
      } catch (err) {
        if (!e.threw) {
          e.threw = true;
          this.log.error(`The Bifrost sink ${e.sink.name} failed on message ${m.id} (${(err as Error).message}); this is a bug, the sink keeps receiving messages and further failures are not logged.`);
        }
      }
    }
  }

  stats(): SinkStats[] {
    return this.entries.map((e) => e.sink.stats());
  }

  /** Stops feeding the sinks and lets each flush until the deadline. */
  async close(deadline: number): Promise<void> {
    this.unsubscribe();
    await Promise.all(this.entries.map((e) => e.sink.close(deadline).catch(() => undefined)));
  }
}
