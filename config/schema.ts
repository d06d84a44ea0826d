/**
 * JSON Schema (draft 2020-12) of heimdall.config.yaml.
 *
 * This is the ONE place where defaults live: the loader runs Ajv with `useDefaults: true`, so every
 * `default` below is what a missing key becomes. Objects that are defaulted to `{}` get their own
 * keys' defaults filled in turn. Keep config/types.ts in step with this file.
 *
 * Every object is closed (`additionalProperties: false`) except a plugin's `config` slice (validated
 * later by the plugin's own configSchema) and `llm.headers`.
 */

const port = { type: 'integer', minimum: 0, maximum: 65535 } as const;
const positiveInt = { type: 'integer', minimum: 1 } as const;
const durationMs = { type: 'integer', minimum: 1 } as const;

const WHEN_FULL = ['drop_newest', 'drop_oldest'] as const;
const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const;
const REMEDIATION_MODES = ['auto', 'approve', 'dry-run'] as const;
const TOOL_MODES = ['auto', 'native', 'json'] as const;

const server = {
  type: 'object',
  description: 'Admin HTTP API.',
  additionalProperties: false,
  default: {},
  properties: {
    host: { type: 'string', minLength: 1, default: '127.0.0.1', description: 'Bind address; a non-loopback address needs a token.' },
    port: { ...port, default: 8787, description: 'Port; 0 picks a free port.' },
    token: { type: 'string', default: '', description: 'Bearer token for every /v1 route; empty disables auth.' },
    bodyLimitBytes: { ...positiveInt, default: 10485760, description: 'Largest request body accepted, bytes.' },
  },
} as const;

const log = {
  type: 'object',
  additionalProperties: false,
  default: {},
  properties: {
    level: { type: 'string', enum: LOG_LEVELS, default: 'info' },
    pretty: { type: 'boolean', default: false, description: 'Human-readable log lines instead of JSON.' },
  },
} as const;

const database = {
  type: 'object',
  description: 'Neo4j (or any Bolt/Cypher server). Omit to run without a database.',
  additionalProperties: false,
  properties: {
    uri: { type: 'string', minLength: 1, pattern: '^(bolt|neo4j)(\\+s|\\+ssc)?://', default: 'bolt://127.0.0.1:7687' },
    user: { type: 'string', default: 'neo4j' },
    password: { type: 'string', default: '' },
    database: { type: 'string', minLength: 1, default: 'neo4j', description: 'Default logical database.' },
    queryTimeoutMs: { ...durationMs, default: 30000, description: 'Default transaction timeout of plugin queries, ms.' },
    connectTimeoutMs: { ...durationMs, default: 5000, description: 'Driver connection timeout, ms.' },
  },
} as const;

const source = {
  type: 'object',
  discriminator: { propertyName: 'type' },
  oneOf: [
    {
      type: 'object',
      description: 'Events POSTed to /v1/events.',
      additionalProperties: false,
      required: ['type'],
      properties: { type: { const: 'http' } },
    },
    {
      type: 'object',
      description: "The daemon's own lifecycle events (database.started, …).",
      additionalProperties: false,
      required: ['type'],
      properties: { type: { const: 'system' } },
    },
    {
      type: 'object',
      description: 'Polls the outbox that the APOC triggers write.',
      additionalProperties: false,
      required: ['type'],
      properties: {
        type: { const: 'neo4j-apoc' },
        pollIntervalMs: { ...durationMs, default: 100, description: 'Outbox poll interval, ms.' },
        batchSize: { ...positiveInt, default: 1000, description: 'Outbox entries read per poll.' },
        backlogWarning: { ...positiveInt, default: 10000, description: 'Warn when the backlog passes this many entries.' },
      },
    },
  ],
} as const;

const llm = {
  type: 'object',
  description: 'OpenAI-compatible chat completions endpoint. Omit to run without a model.',
  additionalProperties: false,
  required: ['model'],
  properties: {
    baseURL: { type: 'string', format: 'uri', pattern: '^https?://', default: 'https://api.openai.com/v1' },
    model: { type: 'string', minLength: 1 },
    apiKey: { type: 'string', default: '' },
    temperature: { type: 'number', minimum: 0, maximum: 2 },
    maxTokens: { ...positiveInt },
    timeoutMs: { ...durationMs, default: 60000 },
    maxRetries: { type: 'integer', minimum: 0, maximum: 10, default: 2 },
    headers: { type: 'object', additionalProperties: { type: 'string' }, description: 'Extra HTTP headers sent with every request.' },
    toolMode: { type: 'string', enum: TOOL_MODES, default: 'auto', description: 'How actions are offered to the model.' },
    maxSteps: { ...positiveInt, maximum: 100, default: 8, description: 'Most model/tool round trips per prompt.' },
  },
} as const;

const queue = {
  type: 'object',
  additionalProperties: false,
  default: {},
  properties: {
    capacity: { ...positiveInt, default: 1024, description: 'Most events waiting or in flight for this plugin.' },
    whenFull: { type: 'string', enum: WHEN_FULL, default: 'drop_newest', description: 'What to drop when full.' },
    batchSize: { ...positiveInt, default: 256, description: 'Most events handed to the worker in one batch.' },
  },
} as const;

const resourceLimits = {
  type: 'object',
  description: 'worker_threads resourceLimits; unset means the Node.js default.',
  additionalProperties: false,
  default: {},
  properties: {
    maxOldGenerationSizeMb: { ...positiveInt },
    maxYoungGenerationSizeMb: { ...positiveInt },
    stackSizeMb: { type: 'number', exclusiveMinimum: 0 },
  },
} as const;

const restart = {
  type: 'object',
  additionalProperties: false,
  default: {},
  properties: {
    maxRestarts: { type: 'integer', minimum: 0, default: 5, description: 'Crashes allowed inside windowMs before the plugin is failed.' },
    windowMs: { ...durationMs, default: 60000 },
    backoffMs: { type: 'integer', minimum: 0, default: 100, description: 'First restart delay; doubles per crash.' },
    maxBackoffMs: { type: 'integer', minimum: 0, default: 10000 },
  },
} as const;

const remediationProps = {
  mode: { type: 'string', enum: REMEDIATION_MODES, description: 'auto runs repairs, approve asks an operator, dry-run only logs.' },
  allowSchema: { type: 'boolean', description: 'Allow index/constraint statements.' },
} as const;

const plugin = {
  type: 'object',
  additionalProperties: false,
  required: ['path'],
  properties: {
    path: { type: 'string', minLength: 1, description: 'Plugin module or folder, relative to the config file.' },
    enabled: { type: 'boolean', default: true },
    config: { type: 'object', default: {}, description: "The plugin's own settings, checked by its configSchema." },
    queue,
    write: { type: 'boolean', default: false, description: 'Grant writes through ctx.database.query.' },
    receiveOwnEvents: { type: 'boolean', default: false, description: "Deliver events caused by this plugin's own writes." },
    handlerTimeoutMs: { ...durationMs, default: 30000, description: 'Deadline of one onDatabaseEvent call, ms.' },
    initTimeoutMs: { ...durationMs, default: 10000, description: 'Deadline of init(), ms.' },
    resourceLimits,
    restart,
    remediation: { type: 'object', additionalProperties: false, properties: remediationProps },
  },
} as const;

export const heimdallConfigSchema = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  title: 'heimdall.config.yaml',
  type: 'object',
  additionalProperties: false,
  // Top-level x-* keys are ignored: a home for YAML anchors (`x-common: &common …`, then `<<: *common`).
  patternProperties: { '^x-': true },
  properties: {
    $schema: { type: 'string', description: 'Path or URL of this schema, for editors.' },
    server,
    log,
    database,
    sources: {
      type: 'array',
      items: source,
      default: [{ type: 'http' }, { type: 'system' }],
    },
    llm,
    plugins: { type: 'array', items: plugin, default: [] },
    actions: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: { timeoutMs: { ...durationMs, default: 30000, description: 'Deadline of one action call, ms.' } },
    },
    drops: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: { logIntervalMs: { ...durationMs, default: 10000, description: 'Interval of the drop summary, ms.' } },
    },
    shutdown: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: { drainTimeoutMs: { type: 'integer', minimum: 0, default: 10000, description: 'Time given to queues to drain on shutdown, ms.' } },
    },
    remediation: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        mode: { ...remediationProps.mode, default: 'approve' },
        allowSchema: { ...remediationProps.allowSchema, default: false },
      },
    },
    bifrost: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: { bufferSize: { ...positiveInt, default: 1000, description: 'Notifications kept for replay.' } },
    },
  },
} as const;

export type HeimdallConfigSchema = typeof heimdallConfigSchema;
