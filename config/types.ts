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
  toolMode: 'auto' | 'native' | 'json';
  maxSteps: number;
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
  mode: RemediationMode;
  allowSchema: boolean;
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

export interface HeimdallConfig {
  server: ServerConfig;
  log: { level: LogLevel; pretty: boolean };
  database?: DatabaseConfig;
  sources: SourceConfig[];
  llm?: LlmConfig;
  plugins: PluginConfig[];
  actions: { timeoutMs: number };
  /** Interval of the per-plugin drop summary in the log, ms. Default 10000. */
  drops: { logIntervalMs: number };
  shutdown: { drainTimeoutMs: number };
  remediation: RemediationConfig;
  bifrost: { bufferSize: number };
  /** Absolute path of the config file this came from (set by the loader), or undefined. */
  readonly configPath?: string;
  /** Folder that relative paths in the config are resolved against (the config file's folder). */
  readonly baseDir: string;
}
