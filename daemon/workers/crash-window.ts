/**
 * The crash window of one plugin (plugins[].restart): the crashes of the last `windowMs`, each
 * with its cause (poison-events.ts). The plugin is marked failed when more than `maxRestarts`
 * distinct causes crashed it inside the window — so one poison event, however many crashes it took
 * to find it, counts once, and a plugin that crashes on everything is still failed. The restart
 * delay doubles with every crash in the window, from `backoffMs` up to `maxBackoffMs`.
 */
import type { RestartConfig } from '../../config/types.js';

export class CrashWindow {
  private crashes: Array<{ t: number; cause: object }> = [];

  constructor(
    private readonly cfg: RestartConfig,
    private readonly now: () => number,
  ) {}

  /**
   * Records a crash; `reattribute` names an earlier cause now known to be this one's. Answers how
   * many crashes and distinct causes the window holds, and whether that marks the plugin failed.
   */
  record(cause: object, reattribute?: object): { crashes: number; causes: number; failed: boolean } {
    const now = this.now();
    this.crashes = this.crashes.filter((c) => now - c.t < this.cfg.windowMs);
    if (reattribute) for (const c of this.crashes) if (c.cause === reattribute) c.cause = cause;
    this.crashes.push({ t: now, cause });
    const causes = new Set(this.crashes.map((c) => c.cause)).size;
    return { crashes: this.crashes.length, causes, failed: causes > this.cfg.maxRestarts };
  }

  /** The delay before the next restart, ms. */
  backoffMs(): number {
    return Math.min(this.cfg.maxBackoffMs, this.cfg.backoffMs * 2 ** Math.max(0, this.crashes.length - 1));
  }
}
