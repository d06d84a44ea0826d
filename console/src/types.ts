/**
 * The shapes the page reads from the admin API: the parts of the daemon's answers it uses. They
 * mirror daemon/http/daemon-api.ts, daemon/bifrost/message.ts, daemon/bifrost/confirmations.ts,
 * daemon/invoker/invocation-store.ts and daemon/http/routes-history.ts (kept apart so the page's
 * type check needs no Node.js types).
 */

export type Level = 'info' | 'success' | 'warning' | 'error';
export type Kind = 'message' | 'notification' | 'broadcast' | 'confirmation_request' | 'confirmation_result';

export interface BifrostMessage {
  id: number;
  kind: Kind;
  timestamp: string;
  level: Level;
  title?: string;
  message: string;
  data?: Record<string, unknown>;
  origin: { kind: 'daemon' | 'plugin' | 'operator'; plugin?: string; invocationId?: string };
}

export interface BifrostGap {
  reason: 'evicted' | 'restarted';
  requested: string;
  missed: number | null;
  oldestAvailable: number;
  message: string;
}

export interface BifrostHello {
  epoch: string;
  lastId: number;
  oldestId: number;
  heartbeatMs: number;
  replayed: number;
  clientId: number;
}

export interface QueueCounters {
  received: number;
  delivered: number;
  dropped: Record<string, number>;
  droppedTotal: number;
  failed: number;
  queued: number;
  inFlight: number;
  highWaterMark: number;
  capacity: number;
  whenFull: string;
}

export interface PluginStatus {
  name: string;
  version?: string;
  description?: string;
  path: string;
  state: string;
  reason?: string;
  events: string[];
  actions: string[];
  restarts: number;
  write: boolean;
  counters: QueueCounters;
}

export interface SourceStatus {
  name: string;
  type: string;
  state: string;
  reason?: string;
  emitted: number;
  details?: Record<string, unknown>;
}

export interface DaemonStatus {
  version: string;
  startedAt: string;
  uptimeS: number;
  state: string;
  plugins: PluginStatus[];
  sources: SourceStatus[];
  database: { configured: boolean; connected: boolean; uri?: string; reason?: string };
  llm: { configured: boolean; model?: string; baseURL?: string };
}

export interface ConfirmationInfo {
  id: string;
  action: string;
  requestedBy: string;
  invocationId?: string;
  details: Record<string, unknown>;
  requestedAt: string;
  deadline: string;
  timeoutMs: number;
  state: 'pending' | 'approved' | 'denied' | 'expired' | 'cancelled';
  answeredAt?: string;
  reason?: string;
  messageId: number;
}

export interface ActionResult {
  success: boolean;
  message: string;
  data?: Record<string, unknown>;
}

export interface InvocationRecord {
  id: string;
  kind: 'action' | 'prompt' | 'raw_prompt';
  mode: 'sync' | 'async';
  name: string;
  trigger: { kind: string; plugin?: string };
  status: 'queued' | 'running' | 'succeeded' | 'failed' | 'rejected';
  submittedAt: string;
  startedAt?: string;
  finishedAt?: string;
  queuedMs?: number;
  durationMs?: number;
  params?: Record<string, unknown>;
  prompt?: string;
  rejectedBecause?: string;
  result?: ActionResult;
}

export interface ActionInfo {
  name: string;
  plugin: string | null;
  description: string;
  params: Record<string, unknown>;
  destructive: boolean;
  timeoutMs: number;
}

export interface PluginSample {
  received: number;
  delivered: number;
  dropped: number;
  failed: number;
  queued: number;
  capacity: number;
  receivedPerS: number;
  deliveredPerS: number;
  droppedPerS: number;
  failedPerS: number;
}

export interface HistorySample {
  t: number;
  plugins: Record<string, PluginSample>;
}

export interface MetricsHistory {
  intervalMs: number;
  windowMs: number;
  capacity: number;
  samples: HistorySample[];
}

export interface BifrostStats {
  epoch: string;
  published: number;
  lastId: number;
  oldestId: number;
  bufferSize: number;
  evicted: number;
  stream: { clients: number; maxClients: number; connectedTotal: number; cutOff: number; bufferedBytes: number };
  sinks: Array<Record<string, unknown>>;
  confirmations: Record<string, number>;
}
