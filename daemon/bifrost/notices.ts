/**
 * The daemon's own notices on Bifrost, for the parts of the daemon that watch something that can
 * go down and come back (the database, the language model). Each notice is published on a change
 * of state only — "down" once, then "back" once — never once per failed call.
 */
import type { BifrostBus, BifrostMessage } from './bus.js';
import type { Clock } from './clock.js';

export type WatchedService = 'database' | 'model';

const LABEL: Record<WatchedService, string> = { database: 'The database', model: 'The language model' };

export class DaemonNotices {
  private readonly down = new Map<WatchedService, { since: number; reason: string }>();

  private readonly clock: Clock;

  /** @param clock Times outages; default the bus's clock. */
  constructor(private readonly bus: BifrostBus, clock?: Clock) {
    this.clock = clock ?? bus.clock;
  }

  /** A daemon notice (origin daemon). */
  publish(level: BifrostMessage['level'], title: string, message: string, data?: Record<string, unknown>): BifrostMessage {
    return this.bus.publish({ kind: 'notification', level, title, message, ...(data ? { data } : {}), origin: { kind: 'daemon' } });
  }

  /** Reports that `service` cannot be reached; published only when it was up before. */
  unavailable(service: WatchedService, reason: string, where?: string): BifrostMessage | undefined {
    if (this.down.has(service)) return undefined;
    this.down.set(service, { since: this.clock.now(), reason });
    const at = where ? ` at ${where}` : '';
    const effect = service === 'database'
      ? 'ctx.database queries fail and database events stop until it is back'
      : 'prompts answer success:false until it is back';
    return this.publish('error', `${LABEL[service]} is unreachable`,
      `${LABEL[service]}${at} cannot be reached: ${reason.replace(/\.$/, '')}. ${effect[0]!.toUpperCase()}${effect.slice(1)}; Heimdall keeps retrying.`,
      { service, ...(where ? { where } : {}), reason });
  }

  /** Reports that `service` is reachable again; published only after an outage. */
  available(service: WatchedService, where?: string): BifrostMessage | undefined {
    const d = this.down.get(service);
    if (!d) return undefined;
    this.down.delete(service);
    const downMs = this.clock.now() - d.since;
    const at = where ? ` at ${where}` : '';
    return this.publish('success', `${LABEL[service]} is back`,
      `${LABEL[service]}${at} can be reached again after ${Math.round(downMs / 1000)} s.`,
      { service, ...(where ? { where } : {}), downMs });
  }

  isDown(service: WatchedService): boolean {
    return this.down.has(service);
  }

  /**
   * Publishes "Database is down" when the database router loses the database and "Database is back"
   * when it returns after that; the router's first "reachable" at start-up is no return, so it is
   * not announced.
   */
  watchDatabase(db: { onConnectivity(fn: (up: boolean, reason: string) => void): unknown }, uri: string): void {
    db.onConnectivity((up, reason) => {
      if (up) {
        if (!this.down.has('database')) return;
        this.down.delete('database');
        this.publish('success', 'Database is back', `The database at ${uri} is reachable again.`);
      } else if (!this.down.has('database')) {
        this.down.set('database', { since: this.clock.now(), reason });
        this.publish('error', 'Database is down', `The database at ${uri} cannot be reached: ${reason}. Heimdall keeps running; plugin queries fail fast until it is back.`);
      }
    });
  }

  /** Reports the language model's reachability, as the model client notices it, through unavailable/available. */
  watchModel(client: { onReachability: ((reachable: boolean, reason?: string) => void) | undefined }, baseURL: string): void {
    client.onReachability = (up, reason) => {
      if (up) this.available('model', baseURL);
      else this.unavailable('model', reason ?? 'no answer', baseURL);
    };
  }
}
