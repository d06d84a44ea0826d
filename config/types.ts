/**
 * The shape of a validated, defaulted, frozen heimdall.config.yaml.
 * The JSON Schema in schema.ts is the source of truth for defaults; keep the two in step.
 */

export type WhenFull = 'drop_newest' | 'drop_oldest';
export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal';
export type RemediationMode = 'auto' | 'approve' | 'dry-run';

export interface ServerConfig {
  /** Bind address. Default 127.0.0.1. A non-loopback address needs a token. */
  host: string;
  /** Port. Default 8787 (0 picks a free port). */
  port: number;
  /** Bearer token for every /v1 route; empty string disables auth. Default ''. */
  token: string;
  /** Largest request body accepted, bytes. Default 10 MiB. */
  bodyLimitBytes: number;
}

export interface DatabaseConfig {
  uri: string;
  user: string;
  password: string;
  /** Default logical database. Default 'neo4j'. */
  database: string;
  /** Default transaction timeout for plugin queries, ms. Default 30000. */
  queryTimeoutMs: number;
  /** Driver connection timeout, ms. Default 5000. */
  connectTimeoutMs: number;
}

export interface HttpSourceConfig { type: 'http' }
export interface SystemSourceConfig { type: 'system' }
export interface Neo4jApocSourceConfig {
  type: 'neo4j-apoc';
  /** Outbox poll interval, ms. Default 100. */
  pollIntervalMs: number;
  /** Outbox entries read per poll. Default 1000. */
  batchSize: number;
  /** Warn when the outbox backlog passes this many entries. Default 10000. */
  backlogWarning: number;
  /** strict: commit order (writers serialise on a counter); relaxed: per-entity order, no lock. Default strict. */
  ordering: 'strict' | 'relaxed';
  /** Install or update the outbox at start-up. Default true. */
  install: boolean;
}
export type SourceConfig = HttpSourceConfig | SystemSourceConfig | Neo4jApocSourceConfig;

export interface LlmConfig {
  baseURL: string;
  model: string;
  apiKey: string;
  temperature?: number;
  maxTokens?: number;
  timeoutMs: number;
  maxRetries: number;
  headers?: Record<string, string>;
  /** auto (native tools, JSON mode when the server refuses tools), native or json. Default auto. */
  toolMode: 'auto' | 'native' | 'json';
  /** Most model/tool round trips per prompt. Default 6. */
  maxSteps: number;
  /** Estimated tokens the system prompt plus user prompt may use. Default 8000. */
  contextTokenBudget: number;
}

export interface PromptRateLimitConfig {
  /** Prompts per plugin per minute; 0 = no limit. Default 10. */
  promptsPerMinute: number;
  /** Prompts per plugin per hour; 0 = no limit. Default 120. */
  promptsPerHour: number;
  /** Identical prompt text from one plugin is refused within this window, ms; 0 disables. Default 60000. */
  identicalPromptCooldownMs: number;
}

export interface InvokerConfig {
  /** Async invocations that may wait for a slot. Default 256. */
  queueCapacity: number;
  /** Async invocations running at once. Default 4. */
  concurrency: number;
  /** Recent invocations kept for /v1/invocations. Default 1000. */
  historySize: number;
  /** Refresh interval of the schema summary, ms. Default 300000. */
  schemaRefreshMs: number;
  /** Row limit of heimdall.db.query. Default 100. */
  queryRowLimit: number;
  /** Wait for an operator's approval of a model-requested destructive action, ms. Default 300000. */
  approvalTimeoutMs: number;
  rateLimit: PromptRateLimitConfig;
  /** Per-plugin overrides of rateLimit. Default {}. */
  pluginRateLimits: Record<string, Partial<PromptRateLimitConfig>>;
}

export interface QueueConfig {
  /** Most events waiting or in flight for this plugin. Default 1024. */
  capacity: number;
  /** What to drop when full. Default drop_newest. */
  whenFull: WhenFull;
  /** Most events handed to the worker in one batch. Default 256. */
  batchSize: number;
}

export interface ResourceLimitsConfig {
  maxOldGenerationSizeMb?: number;
  maxYoungGenerationSizeMb?: number;
  stackSizeMb?: number;
}

export interface RestartConfig {
  /** Crashes allowed inside windowMs before the plugin is marked failed. Default 5. */
  maxRestarts: number;
  /** Window for counting crashes, ms. Default 60000. */
  windowMs: number;
  /** First restart delay, ms; doubles per crash. Default 100. */
  backoffMs: number;
  /** Largest restart delay, ms. Default 10000. */
  maxBackoffMs: number;
}

export interface RemediationConfig {
  /** auto (default): writes run, deleting ones need approval; approve: every write needs approval; dry-run: nothing runs. */
  mode: RemediationMode;
  /** Allow index/constraint statements. Default false. */
  allowSchema: boolean;
  /** Under auto, run deleting statements and destructive actions without approval. Default false. */
  autoApproveDestructive?: boolean;
}

export interface AuditConfig {
  /** Hash-chained JSONL audit log, relative to the config file. Default .heimdall/audit.jsonl. */
  path: string;
  /** Mirror entries as (:HeimdallAudit) nodes. Default false. */
  graph: boolean;
}

export interface PluginConfig {
  /** Path of the plugin module or folder (index.ts / index.mjs / index.js), relative to the config file. */
  path: string;
  /** Default true. */
  enabled: boolean;
  /** The plugin's own config slice, validated by its configSchema. Default {}. */
  config: Record<string, unknown>;
  queue: QueueConfig;
  /** Grant writes through ctx.database.query. Default false. */
  write: boolean;
  /** Deliver events caused by this plugin's own writes. Default false. */
  receiveOwnEvents: boolean;
  /** Deadline of one onDatabaseEvent call, ms; the worker is terminated past it. Default 30000. */
  handlerTimeoutMs: number;
  /** Deadline of init(), ms. Default 10000. */
  initTimeoutMs: number;
  resourceLimits: ResourceLimitsConfig;
  restart: RestartConfig;
  /** Per-plugin override of the remediation policy. */
  remediation?: Partial<RemediationConfig>;
}

export type BifrostLevel = 'info' | 'success' | 'warning' | 'error';
export type BifrostKindName = 'message' | 'notification' | 'broadcast' | 'confirmation_request' | 'confirmation_result';

/** Filters of one Bifrost sink; a message passes when it matches every filter that is set. */
export interface BifrostSinkFilterConfig {
  /** Name in logs and stats. Default `<type>#<index>`. */
  name?: string;
  /** Only messages at or above this level (info < success < warning < error). */
  level?: BifrostLevel;
  /** Only messages from these plugins ('daemon' for the daemon's own notices). */
  plugins?: string[];
  kinds?: BifrostKindName[];
}

export interface FileSinkConfig extends BifrostSinkFilterConfig {
  type: 'file';
  /** JSONL file, relative to the config file. */
  path: string;
  /** Rotate before the file would pass this size, bytes. Default 10 MiB. */
  maxBytes: number;
  /** Rotated files kept (path.1 … path.N). Default 5. */
  maxFiles: number;
}

export interface WebhookSinkConfig extends BifrostSinkFilterConfig {
  type: 'webhook';
  url: string;
  /** json: the message object; slack: { text }. Default json. */
  format: 'json' | 'slack';
  headers?: Record<string, string>;
  /** Deadline of one POST, ms. Default 5000. */
  timeoutMs: number;
  /** Retries before a message is given up. Default 5. */
  maxRetries: number;
  /** First retry delay, ms; doubles per retry. Default 500. */
  backoffMs: number;
  /** Largest retry delay, ms. Default 30000. */
  maxBackoffMs: number;
  /** Messages waiting to be sent; the oldest is dropped (and counted) when full. Default 1000. */
  queueSize: number;
}

export interface LogSinkConfig extends BifrostSinkFilterConfig {
  type: 'log';
}

export type BifrostSinkConfig = FileSinkConfig | WebhookSinkConfig | LogSinkConfig;

export interface BifrostConfig {
  /** Messages kept for replay. Default 1000. */
  bufferSize: number;
  /** Interval of SSE heartbeats, ms. Default 15000. */
  heartbeatMs: number;
  /** Most SSE clients at once. Default 1000. */
  maxClients: number;
  /** Bytes waiting for one SSE client before it is cut off. Default 1 MiB. */
  clientBufferBytes: number;
  /** Messages waiting for one SSE client before it is cut off. Default 10000. */
  clientBufferMessages: number;
  /** Deadline of a confirmation request without timeoutMs, ms. Default 300000. */
  confirmationTimeoutMs: number;
  /** Longest deadline a plugin may ask for, ms. Default 3600000. */
  maxConfirmationTimeoutMs: number;
  /** Where messages are copied besides the stream. Default [{ type: log }]. */
  sinks: BifrostSinkConfig[];
}

export interface HeimdallConfig {
  server: ServerConfig;
  log: { level: LogLevel; pretty: boolean };
  database?: DatabaseConfig;
  sources: SourceConfig[];
  llm?: LlmConfig;
  invoker: InvokerConfig;
  plugins: PluginConfig[];
  actions: { timeoutMs: number };
  /** Interval of the per-plugin drop summary in the log, ms. Default 10000. */
  drops: { logIntervalMs: number };
  shutdown: { drainTimeoutMs: number };
  remediation: RemediationConfig;
  audit: AuditConfig;
  bifrost: BifrostConfig;
  /** Absolute path of the config file this came from (set by the loader), or undefined. */
  readonly configPath?: string;
  /** Folder that relative paths in the config are resolved against (the config file's folder). */
  readonly baseDir: string;
}
