/**
 * The shapes the page reads from the admin API: the parts of the daemon's answers it uses. They
 * mirror daemon/http/daemon-api.ts, daemon/bifrost/message.ts, daemon/bifrost/confirmations.ts,
 * daemon/invoker/invocation-store.ts, daemon/http/routes-history.ts, and for the rules
 * daemon/http/rules-api.ts with the rules plugin's answers (plugins/rules/plugin-actions.ts,
 * dry-run.ts, gates.ts, stats.ts, dead-letters.ts) (kept apart so the page's type check needs no
 * Node.js types).
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
  /** The rules part (daemon/http/rules-api.ts RulesSummary). */
  rules?: RulesStatus;
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

/** A rule that has a problem: left out, the others run. */
export interface InvalidRule {
  /** Its name, or where it is (`rules[3]`) when it has no usable name. */
  name: string;
  /** `file:line:col`, when the daemon read it from a file. */
  at?: string;
  problems: string[];
}

/** GET /v1/status → rules. */
export interface RulesStatus {
  configured: boolean;
  rules: number;
  invalid: InvalidRule[];
  /** The rules plugin's state, when configured. */
  state?: string;
}

export type RuleState = 'active' | 'paused' | 'disabled';

export interface RuleSummary {
  name: string;
  description?: string;
  state: RuleState;
  priority: number;
  on: string[];
  matched: number;
  fired: number;
  /** Matching events that did not fire, by reason (window, cooldown, debounce, concurrency). */
  suppressed: Record<string, number>;
  deadLettered: number;
  lastFiredAt?: string;
}

/** GET /v1/rules. */
export interface RulesList {
  message: string;
  configured: boolean;
  rules: RuleSummary[];
  invalid: InvalidRule[];
}

/** POST /v1/rules/{name}/pause and /resume. */
export interface PauseAnswer {
  message: string;
  name: string;
  state: RuleState;
  changed: boolean;
}

export interface GatePreview {
  window?: { count: number; withinMs: number; inWindow: number; completes: boolean };
  debounce?: { ms: number; pending: boolean };
  cooldown?: { ms: number; active: boolean; remainingMs: number };
  concurrency?: { max: number; inFlight: number; full: boolean };
  blockedBy?: string;
}

export interface DryRunAction {
  index: number;
  type: string;
  timing: 'sync' | 'async';
  continueOnError: boolean;
  retry: { maxAttempts: number; initialDelayMs: number; backoff: string; maxDelayMs: number };
  input?: unknown;
  error?: string;
}

/** POST /v1/rules/{name}/test. */
export interface DryRun {
  message: string;
  rule: string;
  state: RuleState;
  event: Record<string, unknown>;
  matched: boolean;
  reasons: string[];
  key?: string;
  gates: GatePreview;
  wouldFire: boolean;
  summary: string;
  actions: DryRunAction[];
}

export interface FiredAction {
  index: number;
  type: string;
  timing: 'sync' | 'async';
  status: 'succeeded' | 'failed' | 'skipped';
  attempts: number;
  durationMs: number;
  input?: unknown;
  result?: Record<string, unknown>;
  error?: string;
  deadLetterId?: string;
}

export interface Firing {
  id: string;
  rule: string;
  startedAt: string;
  finishedAt: string;
  durationMs: number;
  eventId: string;
  eventType: string;
  key?: string;
  windowCount: number;
  status: 'succeeded' | 'failed' | 'partial';
  actions: FiredAction[];
}

/** GET /v1/rules/{name}/history. */
export interface RuleHistory {
  message: string;
  firings: Firing[];
}

export interface DeadLetter {
  id: string;
  at: string;
  rule: string;
  eventId: string;
  actionIndex: number;
  action: string;
  attempts: number;
  lastError: string;
  input: unknown;
  retry: { maxAttempts: number; initialDelayMs: number; backoff: string; maxDelayMs: number };
  event: Record<string, unknown>;
  window: { count: number };
  retries: number;
  lastRetryAt?: string;
}

/** GET /v1/dead-letters. */
export interface DeadLetterList {
  message: string;
  configured?: false;
  count: number;
  max?: number;
  added?: number;
  evicted?: number;
  retried?: number;
  unreadable?: number;
  entries: DeadLetter[];
}

/** POST /v1/dead-letters/{id}/retry (200 also when it failed again). */
export interface RetryAnswer {
  success: boolean;
  message: string;
  id: string;
  removed: boolean;
  attempts: number;
  result?: unknown;
  error?: string;
}
