/**
 * The daemon's parts as lifecycles: started one after another in the order given, torn down in
 * reverse order of start (what started last stops first), as avvio and Temporal's worker do. A part
 * that fails to start stops everything started before it, and the error goes to the caller; a part
 * that fails to stop is logged and the others still stop.
 */
import type { Logger } from 'pino';

export interface Lifecycle {
  /** What the part is, for log lines ("the admin API", "plugins"). */
  readonly name: string;
  start?(): Promise<void> | void;
  stop(): Promise<void> | void;
}

export class Lifecycles {
  private readonly started: Lifecycle[] = [];
  private stopping: Promise<void> | undefined;

  constructor(private readonly log: Pick<Logger, 'warn'>) {}

  /** Starts each part in order; on a failure stops the ones already started and rethrows. */
  async start(parts: readonly Lifecycle[]): Promise<void> {
    for (const part of parts) {
      try {
        await part.start?.();
      } catch (err) {
        await this.stop();
        throw err;
      }
      this.started.push(part);
    }
  }

  /** Stops every started part, the last started first; runs once, later calls get the same promise. */
  stop(): Promise<void> {
    return (this.stopping ??= (async () => {
      for (const part of this.started.splice(0).reverse()) {
        try {
          await part.stop();
        } catch (err) {
          this.log.warn(`Stopping ${part.name} failed (${(err as Error).message}); the rest of the daemon stops anyway.`);
        }
      }
    })());
  }

  /** Names of the started parts, in start order. */
  names(): string[] {
    return this.started.map((p) => p.name);
  }
}
