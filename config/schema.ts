/**
 * JSON Schema (draft 2020-12) of heimdall.config.yaml.
 *
 * This is the ONE place where defaults live: the loader runs Ajv with `useDefaults: true`, so every
 * `default` below is what a missing key becomes. Objects that are defaulted to `{}` get their own
 * keys' defaults filled in turn. The TypeScript types of the loaded config (config/types.ts) are
 * derived from this file, so a key added, removed or defaulted here changes them too: a key with a
 * default is always present in the loaded config, one without is optional.
 *
 * Every object is closed (`additionalProperties: false`) except a plugin's `config` slice (validated
 * later by the plugin's own configSchema) and `llm.headers`.
 *
 * `rules` embeds the rules plugin's RULE_JSON_SCHEMA (without its defaults: the rule compiler fills
 * those, and Ajv ignores defaults under oneOf). The loader reports problems inside a rule with the
 * rule compiler's sentences (config/rules/), which check the same schema.
 */
import { RULE_JSON_SCHEMA } from '../plugins/rules/rule-schema.js';

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
    // embedded and dataDir have no schema default, so that a DatabaseConfig written out in code
    // stays complete without them; their defaults (false, .heimdall/neo4j) are in daemon/embedded-neo4j.ts.
    embedded: {
      type: 'boolean',
      description: "true: start a development Neo4j (Community with APOC, neo4j/ in this repository) as a child process, on the port of uri, with its files in dataDir; needs Java 17 and, for the first start, Maven. Authentication is off (it listens on 127.0.0.1 only) unless password is set. Default false.",
    },
    dataDir: { type: 'string', minLength: 1, description: "Where the embedded Neo4j keeps its database, config and logs (default .heimdall/neo4j); relative to the config file. Only with embedded: true." },
  },
} as const;

/** A Bolt relay with an observe-only tap (daemon/sources/bolt-proxy/README.md). */
const boltProxySource = {
  type: 'object',
  description: 'A Bolt relay applications connect to instead of the database; every query, failure, commit and rollback it sees becomes an event.',
  additionalProperties: false,
  required: ['type'],
  properties: {
    type: { const: 'bolt-proxy' },
    listen: { type: 'string', minLength: 1, default: '127.0.0.1:7688', description: 'host:port applications connect to; a non-loopback address needs tls. Port 0 picks a free port.' },
    upstream: { type: 'string', minLength: 1, pattern: '^(bolt|neo4j)(\\+s|\\+ssc)?://', description: 'The server the proxy relays to: bolt://, bolt+s:// (TLS, verified) or bolt+ssc:// (TLS, any certificate). Default: the host of database.uri, else bolt://127.0.0.1:7687.' },
    advertisedAddress: { type: 'string', minLength: 1, description: 'host:port that ROUTE answers carry for every role, so neo4j:// clients stay on the proxy. Default: listen.' },
    captureParams: { type: 'string', enum: ['none', 'keys', 'full'], default: 'keys', description: 'Query parameters in events: none, keys (names with the type of each value) or full (values).' },
    maxQueryChars: { ...positiveInt, default: 4096, description: 'Query text (and, with full, parameter strings) longer than this is cut with a marker.' },
    tls: {
      type: 'object',
      description: 'Accept bolt+s:// clients with this certificate; needed to listen on an address other than loopback.',
      additionalProperties: false,
      required: ['cert', 'key'],
      properties: {
        cert: { type: 'string', minLength: 1, description: 'PEM certificate file (relative to the config file), or PEM text.' },
        key: { type: 'string', minLength: 1, description: 'PEM private key file (relative to the config file), or PEM text.' },
      },
    },
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
        pollIntervalMs: { ...durationMs, default: 100, description: 'Longest wait between reads of an empty outbox, ms (the wait starts at 5 ms and doubles while the outbox stays empty, after a busy spell only once reads 5 ms apart have gone on as long as the spell did, up to 500 ms; 5 ms after a read that found entries).' },
        batchSize: { ...positiveInt, default: 1000, description: 'Outbox entries read per poll.' },
        backlogWarning: { ...positiveInt, default: 10000, description: 'Warn when the backlog passes this many entries.' },
        ordering: { type: 'string', enum: ['strict', 'relaxed'], default: 'relaxed', description: 'strict: events in commit order (writers serialise on a counter); relaxed: no write-path lock, per-entity order only (see daemon/sources/README.md).' },
        capture: { type: 'string', enum: ['auto', 'trigger', 'listener'], default: 'auto', description: "What writes the outbox entries: trigger (an APOC trigger), listener (the kernel transaction listener of Heimdall's Neo4j extension, neo4j/target/heimdall-capture-plugin.jar in Neo4j's plugins folder; the same entries at a fraction of the write-path cost, see daemon/sources/README.md) or auto (the default: the one already installed in the database, else the listener where the server has the extension and the trigger where it does not)." },
        install: { type: 'boolean', default: true, description: 'Install (or update) the outbox trigger, constraint and counter at start-up; false expects `heimdall db install`.' },
        checkIntervalMs: { ...durationMs, default: 5000, description: 'How often the source checks that capture is still on: trigger installed, current and not paused, sequence not moved backwards, ms.' },
        reinstall: { type: 'boolean', default: true, description: 'Put the outbox back when a check finds it removed, paused or changed (needs install: true); false: only report it (Bifrost error, /readyz 503).' },
      },
    },
    boltProxySource,
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
    toolMode: { type: 'string', enum: TOOL_MODES, default: 'auto', description: 'How actions are offered to the model: native function tools, a JSON reply protocol, or auto (native, falling back to JSON when the server refuses tools).' },
    maxSteps: { ...positiveInt, maximum: 100, default: 6, description: 'Most model/tool round trips per prompt.' },
    contextTokenBudget: { type: 'integer', minimum: 256, default: 8000, description: 'Tokens (estimated) the system prompt and user prompt may use; the oldest context is trimmed first, never the user prompt.' },
  },
} as const;

const promptRateLimitProps = {
  promptsPerMinute: { type: 'integer', minimum: 0, description: 'Prompts one plugin may send per minute; 0 means no limit.' },
  promptsPerHour: { type: 'integer', minimum: 0, description: 'Prompts one plugin may send per hour; 0 means no limit.' },
  identicalPromptCooldownMs: { type: 'integer', minimum: 0, description: 'A plugin may not repeat the same prompt text within this many ms; 0 disables.' },
} as const;

const invoker = {
  type: 'object',
  description: 'Async invocations, their limits, and the model-facing built-in actions.',
  additionalProperties: false,
  default: {},
  properties: {
    queueCapacity: { ...positiveInt, default: 256, description: 'Async invocations that may wait for a free slot; more are refused and counted.' },
    concurrency: { ...positiveInt, default: 4, description: 'Async invocations that run at the same time.' },
    historySize: { ...positiveInt, default: 1000, description: 'Recent invocations kept for GET /v1/invocations.' },
    schemaRefreshMs: { ...durationMs, default: 300000, description: 'How often the database schema summary given to the model is refreshed, ms.' },
    queryRowLimit: { ...positiveInt, default: 100, description: 'Most rows heimdall.db.query returns to the model.' },
    queryMaxBytes: { ...positiveInt, default: 65536, description: 'Most bytes (as JSON) of the rows heimdall.db.query returns to the model; the result is cut before the first row past it.' },
    approvalTimeoutMs: { ...durationMs, default: 300000, description: 'How long a destructive action the model asked for waits for an operator under remediation.mode approve, ms.' },
    rateLimit: {
      type: 'object',
      description: 'Per-plugin prompt limits (each plugin has its own budget). Operator prompts are not limited.',
      additionalProperties: false,
      default: {},
      properties: {
        promptsPerMinute: { ...promptRateLimitProps.promptsPerMinute, default: 10 },
        promptsPerHour: { ...promptRateLimitProps.promptsPerHour, default: 120 },
        identicalPromptCooldownMs: { ...promptRateLimitProps.identicalPromptCooldownMs, default: 60000 },
      },
    },
    pluginRateLimits: {
      type: 'object',
      description: 'Overrides of rateLimit by plugin name.',
      default: {},
      additionalProperties: { type: 'object', additionalProperties: false, properties: promptRateLimitProps },
    },
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

/** What one plugin may write to the daemon's log and to Bifrost (token buckets, per plugin). */
const outputLimitProps = {
  logLinesPerSecond: { type: 'integer', minimum: 0, description: 'Log lines (ctx.log) one plugin may write per second, sustained; 0 means no limit.' },
  logLinesBurst: { type: 'integer', minimum: 1, description: 'Log lines one plugin may write at once before logLinesPerSecond applies.' },
  notificationsPerSecond: { type: 'integer', minimum: 0, description: 'Bifrost messages (sendMessage, sendNotification, broadcast) one plugin may publish per second, sustained; 0 means no limit.' },
  notificationsBurst: { type: 'integer', minimum: 1, description: 'Bifrost messages one plugin may publish at once before notificationsPerSecond applies.' },
} as const;

const remediationProps = {
  mode: { type: 'string', enum: REMEDIATION_MODES, description: 'auto runs repairs, approve asks an operator, dry-run only logs.' },
  allowSchema: { type: 'boolean', description: 'Allow index/constraint statements.' },
  autoApproveDestructive: { type: 'boolean', description: 'Under mode auto, run statements that delete (and destructive actions) without asking an operator.' },
} as const;

const plugin = {
  type: 'object',
  additionalProperties: false,
  // exactly one of path and package (checked by the loader, which says which one to keep)
  properties: {
    path: { type: 'string', minLength: 1, description: 'Plugin module or folder, relative to the config file.' },
    package: { type: 'string', minLength: 1, pattern: '^(@[a-z0-9][a-z0-9._~-]*/)?[a-z0-9][a-z0-9._~-]*$', description: 'An npm package with the plugin as its entry point, found from the config file\'s folder like require() finds it.' },
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
    limits: { type: 'object', additionalProperties: false, properties: outputLimitProps, description: "This plugin's override of limits.plugins." },
  },
} as const;

const limits = {
  type: 'object',
  description: 'Bounds on what events, plugins and actions can do to the daemon.',
  additionalProperties: false,
  default: {},
  properties: {
    events: {
      type: 'object',
      description: "Checked for every source's events before they reach a plugin queue.",
      additionalProperties: false,
      default: {},
      properties: {
        maxDepth: { ...positiveInt, maximum: 1000, default: 64, description: 'Deepest nesting of objects and arrays in one event; deeper events are refused.' },
        maxBytes: { ...positiveInt, default: 1048576, description: 'Largest event, as UTF-8 JSON, bytes; larger events are refused.' },
        startupBufferEvents: { type: 'integer', minimum: 0, default: 10000, description: 'Events POSTed while the daemon starts that are held and delivered once the plugins are up; more are answered 503.' },
        startupBufferBytes: { type: 'integer', minimum: 0, default: 16777216, description: 'Bytes of events held while the daemon starts.' },
      },
    },
    quarantine: {
      type: 'object',
      description: 'Events that took a worker down twice in a row (or whose handler crashed it), kept for GET /v1/quarantine.',
      additionalProperties: false,
      default: {},
      properties: {
        size: { ...positiveInt, default: 100, description: 'Quarantined events kept; the oldest is evicted (and counted) past it.' },
        maxBytes: { ...positiveInt, default: 16777216, description: 'Bytes of quarantined events kept; the oldest are evicted past it.' },
      },
    },
    actions: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        maxDepth: { ...positiveInt, maximum: 100, default: 8, description: 'Most actions in one chain of actions calling actions; the next one fails with HMD_ERR_INVOCATION_DEPTH.' },
        maxResultBytes: { ...positiveInt, default: 1048576, description: "Largest ActionResult, as UTF-8 JSON, bytes; a larger one fails with HMD_ERR_RESULT_TOO_LARGE." },
      },
    },
    plugins: {
      type: 'object',
      description: 'Per-plugin output limits (each plugin has its own budget); plugins[].limits overrides them.',
      additionalProperties: false,
      default: {},
      properties: {
        logLinesPerSecond: { ...outputLimitProps.logLinesPerSecond, default: 1000 },
        logLinesBurst: { ...outputLimitProps.logLinesBurst, default: 2000 },
        notificationsPerSecond: { ...outputLimitProps.notificationsPerSecond, default: 20 },
        notificationsBurst: { ...outputLimitProps.notificationsBurst, default: 100 },
      },
    },
    log: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        bufferBytes: { ...positiveInt, default: 16777216, description: 'Log output waiting for stdout, bytes; lines past it are dropped and counted instead of blocking the daemon.' },
      },
    },
  },
} as const;

/** The built-in rules plugin that runs `rules:` and the `rulesPath` files: its worker, queue and limits. */
const rulesEngine = {
  type: 'object',
  description: 'The built-in rules plugin that runs rules: and the rulesPath files (started only when either is set).',
  additionalProperties: false,
  default: {},
  properties: {
    queue,
    handlerTimeoutMs: { ...durationMs, default: 30000, description: 'Deadline of one event in the rules plugin, ms (firings run beside it).' },
    initTimeoutMs: { ...durationMs, default: 10000, description: 'Deadline of compiling the rules when the plugin starts, ms.' },
    resourceLimits,
    restart,
    remediation: { type: 'object', additionalProperties: false, description: "Override of the remediation policy for the rules' cypher actions.", properties: remediationProps },
    limits: { type: 'object', additionalProperties: false, properties: outputLimitProps, description: "The rules plugin's override of limits.plugins (its log lines and its notify actions' notifications)." },
    deadLetters: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        path: { type: 'string', minLength: 1, default: '.heimdall/rules-dead-letters.jsonl', description: 'JSONL file of actions that failed after their retries; relative to the config file.' },
        max: { ...positiveInt, maximum: 1000000, default: 1000, description: 'Dead letters kept; past it the oldest is evicted (and logged).' },
      },
    },
    statePath: { type: 'string', minLength: 1, default: '.heimdall/rules-state.json', description: 'File that keeps which rules are paused; relative to the config file.' },
    historySize: { ...positiveInt, maximum: 10000, default: 50, description: 'Firings kept per rule for GET /v1/rules/{name}/history.' },
    maxInFlight: { ...positiveInt, maximum: 100000, default: 256, description: 'Firings running at once, all rules; past it the plugin stops taking events and its queue fills.' },
    maxKeys: { ...positiveInt, maximum: 10000000, default: 10000, description: 'Window and cooldown keys kept per rule (least recently used go first).' },
    webhookTimeoutMs: { ...durationMs, maximum: 600000, default: 10000, description: 'Deadline of one webhook attempt that sets no timeoutMs, ms.' },
  },
} as const;

/** `rules:` as the loaded config types it: a list of objects (each checked by the rule compiler). */
const rulesList = {
  type: 'array',
  default: [],
  description: 'Declarative rules (see the README, "Rules"); each is checked on its own.',
  items: { type: 'object' },
} as const;

/** A copy of a schema without its `default` keywords (a property that is named default stays). */
function withoutDefaults(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(withoutDefaults);
  if (schema === null || typeof schema !== 'object') return schema;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(schema)) {
    if (k === 'default') continue;
    out[k] = k === 'properties' ? Object.fromEntries(Object.entries(v as Record<string, unknown>).map(([name, sub]) => [name, withoutDefaults(sub)])) : withoutDefaults(v);
  }
  return out;
}

const BIFROST_LEVELS = ['info', 'success', 'warning', 'error'] as const;
const BIFROST_KINDS = ['message', 'notification', 'broadcast', 'confirmation_request', 'confirmation_result'] as const;

/** Filters shared by every Bifrost sink: a message passes when it matches all that are set. */
const sinkFilter = {
  name: { type: 'string', minLength: 1, description: 'Name of the sink in logs and stats; default type#index.' },
  level: { type: 'string', enum: BIFROST_LEVELS, description: 'Only messages at or above this level (info < success < warning < error).' },
  plugins: { type: 'array', items: { type: 'string', minLength: 1 }, description: "Only messages from these plugins ('daemon' for the daemon's own notices)." },
  kinds: { type: 'array', items: { type: 'string', enum: BIFROST_KINDS }, description: 'Only these message kinds.' },
} as const;

const bifrostSink = {
  type: 'object',
  discriminator: { propertyName: 'type' },
  oneOf: [
    {
      type: 'object',
      description: 'Appends every message as one JSON line, rotating by size.',
      additionalProperties: false,
      required: ['type', 'path'],
      properties: {
        type: { const: 'file' },
        ...sinkFilter,
        path: { type: 'string', minLength: 1, description: 'JSONL file, relative to the config file.' },
        maxBytes: { ...positiveInt, default: 10485760, description: 'Rotate when the file would grow past this size, bytes.' },
        maxFiles: { ...positiveInt, default: 5, description: 'Rotated files kept (path.1 … path.N).' },
      },
    },
    {
      type: 'object',
      description: 'POSTs every message as JSON (or Slack-compatible text) with retries.',
      additionalProperties: false,
      required: ['type', 'url'],
      properties: {
        type: { const: 'webhook' },
        ...sinkFilter,
        url: { type: 'string', pattern: '^https?://', description: 'Where to POST.' },
        format: { type: 'string', enum: ['json', 'slack'], default: 'json', description: 'json: the message object; slack: { text }.' },
        headers: { type: 'object', additionalProperties: { type: 'string' }, description: 'Extra HTTP headers (e.g. Authorization).' },
        timeoutMs: { ...durationMs, default: 5000, description: 'Deadline of one POST, ms.' },
        maxRetries: { type: 'integer', minimum: 0, maximum: 100, default: 5, description: 'Retries of a failed POST before the message is given up.' },
        backoffMs: { ...durationMs, default: 500, description: 'First retry delay, ms; doubles per retry.' },
        maxBackoffMs: { ...durationMs, default: 30000, description: 'Largest retry delay, ms.' },
        queueSize: { ...positiveInt, default: 1000, description: 'Messages waiting to be sent; the oldest is dropped (and counted) when full.' },
      },
    },
    {
      type: 'object',
      description: "Writes every message to the daemon's log (pino).",
      additionalProperties: false,
      required: ['type'],
      properties: { type: { const: 'log' }, ...sinkFilter },
    },
  ],
} as const;

const bifrost = {
  type: 'object',
  description: 'Bifrost, the notification bus operators tail.',
  additionalProperties: false,
  default: {},
  properties: {
    bufferSize: { ...positiveInt, default: 1000, description: 'Notifications kept for replay.' },
    heartbeatMs: { ...durationMs, default: 15000, description: 'Interval of SSE heartbeats, ms.' },
    maxClients: { ...positiveInt, default: 1000, description: 'Most SSE clients connected at once; more are answered 503.' },
    clientBufferBytes: { ...positiveInt, default: 1048576, description: 'Bytes waiting for one SSE client; past it the oldest are skipped, and a client that stays over it for clientStallMs is cut off.' },
    clientBufferMessages: { ...positiveInt, default: 10000, description: 'Messages waiting for one SSE client; past it the oldest are skipped, and a client that stays over it for clientStallMs is cut off.' },
    clientStallMs: { ...durationMs, default: 2000, description: 'How long an SSE client may stay over its buffer limits without reading before it is cut off, ms; until then the oldest waiting messages are skipped (and counted).' },
    confirmationTimeoutMs: { ...durationMs, default: 300000, description: 'Deadline of a confirmation request that sets no timeoutMs, ms.' },
    maxConfirmationTimeoutMs: { ...durationMs, default: 3600000, description: 'Longest deadline a plugin may ask for, ms.' },
    sinks: { type: 'array', items: bifrostSink, default: [{ type: 'log' }], description: 'Where messages are copied besides the stream.' },
  },
} as const;

/** The keys of a loaded config, each with its schema: the document less `$schema` and `x-*`. */
const configProperties = {
  server,
  log,
  database,
  sources: {
    type: 'array',
    items: source,
    default: [{ type: 'http' }, { type: 'system' }],
  },
  llm,
  invoker,
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
      mode: { ...remediationProps.mode, default: 'auto' },
      allowSchema: { ...remediationProps.allowSchema, default: false },
      autoApproveDestructive: { ...remediationProps.autoApproveDestructive, default: false },
      allowProcedures: {
        type: 'array',
        items: { type: 'string', minLength: 1 },
        default: [],
        description: 'Procedures (globs: * any run of characters, ? one) the model and plugins may call besides the built-in read allowlist; procedures that commit on their own, run Cypher from strings, reach files or URLs, or administer the server stay refused.',
      },
      allowFunctions: {
        type: 'array',
        items: { type: 'string', minLength: 1 },
        default: [],
        description: 'Namespaced functions (globs) the model and plugins may call besides the built-in allowlist of functions that only compute.',
      },
      guardTrigger: {
        type: 'boolean',
        default: true,
        description: 'Use the commit guard that checks remediation transactions at commit and samples what a delete would remove (see guardEngine); without it, writes are judged by counters alone.',
      },
      guardEngine: {
        type: 'string',
        enum: ['auto', 'extension', 'apoc'],
        default: 'auto',
        description: "What runs the commit guard: extension (Heimdall's Neo4j extension, neo4j/target/heimdall-capture-plugin.jar in the server's plugins; no APOC trigger), apoc (the APOC trigger heimdall_policy; needs apoc.trigger.enabled and an admin user), auto (the extension where the server has it, else APOC).",
      },
      sampleSize: { type: 'integer', minimum: 0, maximum: 100, default: 10, description: 'Nodes and relationships an approval request shows of what a delete would remove (with the commit guard).' },
    },
  },
  audit: {
    type: 'object',
    additionalProperties: false,
    default: {},
    properties: {
      path: { type: 'string', minLength: 1, default: '.heimdall/audit.jsonl', description: 'Append-only, hash-chained JSONL audit log of every write the daemon made or refused; relative to the config file.' },
      graph: { type: 'boolean', default: false, description: 'Also mirror each audit entry as a (:HeimdallAudit) node in the database.' },
    },
  },
  bifrost,
  limits,
  rules: rulesList,
  rulesPath: { type: 'string', minLength: 1, description: 'Folder of rule files (*.yaml, each one rule or a list), relative to the config file; re-read on reload.' },
  rulesEngine,
} as const;

/**
 * The shape of the config after loading: every key of the file (defaults filled in), without the
 * editor's `$schema` and the `x-*` anchor holders. config/types.ts derives the TypeScript types
 * from it; Ajv never sees it.
 */
export const loadedConfigShape = {
  type: 'object',
  additionalProperties: false,
  properties: configProperties,
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
    ...configProperties,
    rules: { ...rulesList, items: withoutDefaults(RULE_JSON_SCHEMA) as Record<string, unknown> },
  },
} as const;

export type HeimdallConfigSchema = typeof heimdallConfigSchema;
