/**
 * What the admin HTTP API needs from Bifrost (DaemonApi.bifrost). daemon/http talks to this
 * interface only.
 */
import type { ServerResponse } from 'node:http';
import type { BifrostGap, BifrostQuery, BifrostQueryResult } from './bus.js';
import type { ConfirmationInfo } from './confirmations.js';
import type { SinkStats } from './sinks/sink.js';
import type { SseHubStats, StreamRefusal, StreamRequest } from './sse-hub.js';

export type { BifrostFilter } from './filter.js';
export type { BifrostGap, BifrostKind, BifrostMessage, BifrostQuery, BifrostQueryResult } from './bus.js';
export type { ConfirmationInfo, ConfirmationState } from './confirmations.js';
export type { StreamRefusal, StreamRequest } from './sse-hub.js';

export interface BifrostStats {
  epoch: string;
  published: number;
  lastId: number;
  oldestId: number;
  bufferSize: number;
  /** Messages pushed out of the replay buffer. */
  evicted: number;
  stream: SseHubStats;
  sinks: SinkStats[];
  confirmations: { pending: number; requested: number; approved: number; denied: number; expired: number; cancelled: number };
}

export interface BifrostApi {
  readonly bufferSize: number;
  /** Replay / polling out of the ring buffer. */
  query(q: BifrostQuery): BifrostQueryResult & { epoch: string; lastId: number; oldestId: number };
  /** Why a new stream cannot be opened now (too many clients, shutting down), or undefined. */
  streamRefusal(): StreamRefusal | undefined;
  /** Ends every stream with a `shutdown` event (the HTTP server is closing). */
  closeStreams(): void;
  /** Takes over `res` as an SSE stream. */
  openStream(res: ServerResponse, req: StreamRequest): { clientId: number; replayed: number; gap?: BifrostGap };
  listConfirmations(): ConfirmationInfo[];
  getConfirmation(id: string): ConfirmationInfo | undefined;
  /** Throws HMD_ERR_NOT_FOUND / HMD_ERR_CONFLICT (HeimdallError) when it cannot be answered. */
  answerConfirmation(id: string, approve: boolean, reason?: string): ConfirmationInfo;
  stats(): BifrostStats;
}
