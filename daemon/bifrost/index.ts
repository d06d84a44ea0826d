/**
 * Bifrost assembled: the bus (built by the daemon), the SSE hub, confirmations, sinks and the
 * daemon's notices, with the API the HTTP layer uses and an orderly close. Every part runs on the
 * bus's clock.
 */
import type { Logger } from 'pino';
import type { HeimdallConfig } from '../../config/types.js';
import type { BifrostBus } from './bus.js';
import { ConfirmationManager } from './confirmations.js';
import { DaemonNotices } from './notices.js';
import { SinkSet } from './sinks/index.js';
import { SseHub } from './sse-hub.js';
import type { BifrostApi, BifrostStats } from './types.js';

export interface Bifrost {
  bus: BifrostBus;
  hub: SseHub;
  confirmations: ConfirmationManager;
  sinks: SinkSet;
  notices: DaemonNotices;
  api: BifrostApi;
  stats(): BifrostStats;
  /** Denies pending confirmations, ends every stream with a `shutdown` event and flushes the sinks until `deadline`. */
  close(deadline?: number): Promise<void>;
}

export function createBifrost(bus: BifrostBus, config: HeimdallConfig, log: Logger): Bifrost {
  const c = config.bifrost;
  const hub = new SseHub(bus, { heartbeatMs: c.heartbeatMs, maxClients: c.maxClients, clientBufferBytes: c.clientBufferBytes, clientBufferMessages: c.clientBufferMessages, clientStallMs: c.clientStallMs }, log.child({ part: 'stream' }));
  const confirmations = new ConfirmationManager(bus, { defaultTimeoutMs: c.confirmationTimeoutMs, maxTimeoutMs: c.maxConfirmationTimeoutMs }, log.child({ part: 'confirmations' }));
  const sinks = new SinkSet(bus, c.sinks, config.baseDir, log.child({ part: 'sinks' }), bus.clock);
  const notices = new DaemonNotices(bus);

  const stats = (): BifrostStats => ({
    epoch: bus.epoch,
    published: bus.published,
    lastId: bus.lastId(),
    oldestId: bus.oldestId(),
    bufferSize: bus.capacity,
    evicted: bus.evicted,
    stream: hub.stats(),
    sinks: sinks.stats(),
    confirmations: { pending: confirmations.list().length, ...confirmations.counts },
  });

  const api: BifrostApi = {
    bufferSize: bus.capacity,
    query: (q) => ({ ...bus.query(q), epoch: bus.epoch, lastId: bus.lastId(), oldestId: bus.oldestId() }),
    streamRefusal: () => hub.refusal(),
    closeStreams: () => hub.close(),
    openStream: (res, req) => hub.open(res, req),
    listConfirmations: () => confirmations.list(),
    getConfirmation: (id) => confirmations.get(id),
    answerConfirmation: (id, approve, reason) => confirmations.answer(id, approve, reason),
    stats,
  };

  let closing: Promise<void> | undefined;
  return {
    bus, hub, confirmations, sinks, notices, api, stats,
    close: (deadline = bus.clock.now() + 5000) =>
      (closing ??= (async () => {
        confirmations.cancelAll('the daemon is stopping');
        hub.close();
        await sinks.close(deadline);
      })()),
  };
}
