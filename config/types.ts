/**
 * The shape of a validated, defaulted, deep-frozen heimdall.config.yaml, derived from the JSON
 * Schema in schema.ts: the schema is the only description of the config, so the two cannot
 * drift. A key with a `default` there is always present here; one without is optional. What each
 * key means is in its `description` in the schema.
 *
 * The names below are the ones the rest of the code imports; each is a part of {@link HeimdallConfig}.
 */
import type { FromSchema } from 'json-schema-to-ts';
import type { RuleSet } from './rule-set.js';
import type { loadedConfigShape } from './schema.js';

/** Every key of the file, defaults filled in. */
type LoadedConfig = FromSchema<typeof loadedConfigShape>;

export type HeimdallConfig = LoadedConfig & {
  /** Absolute path of the config file this came from (set by the loader), or undefined. */
  readonly configPath?: string;
  /** Folder that relative paths in the config are resolved against (the config file's folder). */
  readonly baseDir: string;
  /** The rules of `rules:` and the `rulesPath` files, checked (set by the loader). */
  readonly ruleSet?: RuleSet;
};

export type ServerConfig = LoadedConfig['server'];
export type LogLevel = LoadedConfig['log']['level'];
export type DatabaseConfig = NonNullable<LoadedConfig['database']>;

export type SourceConfig = LoadedConfig['sources'][number];
export type HttpSourceConfig = Extract<SourceConfig, { type: 'http' }>;
export type SystemSourceConfig = Extract<SourceConfig, { type: 'system' }>;
export type Neo4jApocSourceConfig = Extract<SourceConfig, { type: 'neo4j-apoc' }>;
/** A `- type: bolt-proxy` entry as loaded (upstream filled in from database.uri when it had none). */
export type BoltProxySourceEntry = Extract<SourceConfig, { type: 'bolt-proxy' }>;

export type LlmConfig = NonNullable<LoadedConfig['llm']>;

export type InvokerConfig = LoadedConfig['invoker'];
export type PromptRateLimitConfig = InvokerConfig['rateLimit'];

export type PluginConfig = LoadedConfig['plugins'][number];
export type QueueConfig = PluginConfig['queue'];
export type WhenFull = QueueConfig['whenFull'];
export type ResourceLimitsConfig = PluginConfig['resourceLimits'];
export type RestartConfig = PluginConfig['restart'];

export type RulesEngineConfig = LoadedConfig['rulesEngine'];

export type RemediationConfig = LoadedConfig['remediation'];
export type RemediationMode = RemediationConfig['mode'];
export type AuditConfig = LoadedConfig['audit'];

export type LimitsConfig = LoadedConfig['limits'];
export type EventLimitsConfig = LimitsConfig['events'];
export type QuarantineConfig = LimitsConfig['quarantine'];
export type ActionLimitsConfig = LimitsConfig['actions'];
export type OutputLimitsConfig = LimitsConfig['plugins'];

export type BifrostConfig = LoadedConfig['bifrost'];
export type BifrostSinkConfig = BifrostConfig['sinks'][number];
export type FileSinkConfig = Extract<BifrostSinkConfig, { type: 'file' }>;
export type WebhookSinkConfig = Extract<BifrostSinkConfig, { type: 'webhook' }>;
export type LogSinkConfig = Extract<BifrostSinkConfig, { type: 'log' }>;
/** Filters of one Bifrost sink; a message passes when it matches every filter that is set. */
export type BifrostSinkFilterConfig = Omit<LogSinkConfig, 'type'>;
export type BifrostLevel = NonNullable<BifrostSinkFilterConfig['level']>;
export type BifrostKindName = NonNullable<BifrostSinkFilterConfig['kinds']>[number];
