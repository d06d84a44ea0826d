/**
 * The JSON Schema of one rule (2020-12) and of each action type, and duration strings. The
 * compiler checks a rule's structure with these before it compiles expressions and templates;
 * RULE_JSON_SCHEMA (actions as a oneOf) is the form a config schema can embed.
 */
import { EVENT_TYPES } from '../../sdk/index.js';
import { ACTION_TYPES, type ActionType } from './types.js';

/** '500ms', '2s', '1.5s', '5m', '1h', '1d'. */
export const DURATION_PATTERN = '^[0-9]+(\\.[0-9]+)?(ms|s|m|h|d)$';
const DURATION_RE = new RegExp(DURATION_PATTERN);
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Milliseconds of a duration string, or undefined when it is not one. */
export function parseDuration(s: unknown): number | undefined {
  if (typeof s !== 'string' || !DURATION_RE.test(s)) return undefined;
  const m = /^([0-9.]+)([a-z]+)$/.exec(s)!;
  return Math.round(Number(m[1]) * UNIT_MS[m[2]!]!);
}

/** Event families a rule may name as `family.*`. */
export const EVENT_FAMILIES = [...new Set(EVENT_TYPES.map((t) => t.split('.')[0]!))];
const ON_PATTERN = `^(\\*|(${EVENT_FAMILIES.join('|')})\\.\\*|${EVENT_TYPES.map((t) => t.replace('.', '\\.')).join('|')})$`;

const duration = { type: 'string', pattern: DURATION_PATTERN, description: "A duration such as '500ms', '2s', '5m' or '1h'." } as const;
/** A string or a non-empty list of strings (no oneOf, so a mistake gives one clear error). */
const oneOrMany = (description: string, pattern?: string) => ({
  description,
  type: ['string', 'array'],
  minLength: 1,
  ...(pattern ? { pattern } : {}),
  minItems: 1,
  items: { type: 'string', minLength: 1, ...(pattern ? { pattern } : {}) },
});

const retry = {
  type: 'object',
  additionalProperties: false,
  description: 'How a failed action is tried again.',
  properties: {
    maxAttempts: { type: 'integer', minimum: 1, maximum: 100, default: 1, description: 'Attempts in all, the first included.' },
    initialDelayMs: { type: 'integer', minimum: 0, maximum: 3_600_000, default: 1000, description: 'Delay before the second attempt, ms.' },
    backoff: { enum: ['fixed', 'exponential'], default: 'exponential', description: 'fixed: the same delay each time; exponential: doubled per retry.' },
    maxDelayMs: { type: 'integer', minimum: 0, maximum: 3_600_000, default: 30_000, description: 'Upper bound on one delay, ms.' },
  },
} as const;

/** Keys every action may carry next to its type key. */
export const ACTION_COMMON_PROPERTIES = {
  timing: { enum: ['sync', 'async'], default: 'sync', description: 'sync: the next action waits for this one; async: start it and go on.' },
  retry,
  continueOnError: { type: 'boolean', default: false, description: 'Run the next actions even when this one failed after its retries.' },
} as const;

const obj = (required: string[], properties: Record<string, unknown>) => ({ type: 'object', additionalProperties: false, required, properties });

/** The body of each action type (the value under its key). */
export const ACTION_BODY_SCHEMAS: Record<ActionType, Record<string, unknown>> = {
  notify: obj(['message'], {
    level: { enum: ['info', 'warning', 'error', 'success'], default: 'info' },
    title: { type: 'string', minLength: 1 },
    message: { type: 'string', minLength: 1 },
    data: { type: 'object' },
  }),
  invoke: obj(['action'], {
    action: { type: 'string', minLength: 1, description: 'heimdall.<plugin>.<action> or a built-in action.' },
    params: { type: 'object' },
    async: { type: 'boolean', default: false, description: 'Queue it (invokeActionAsync) and go on with its invocation id.' },
  }),
  prompt: obj(['text'], {
    text: { type: 'string', minLength: 1 },
    async: { type: 'boolean', default: false, description: 'Queue the prompt (sendPromptAsync) instead of waiting for the answer.' },
  }),
  cypher: obj(['statement'], {
    statement: { type: 'string', minLength: 1, description: 'Cypher with $parameters; never templated.' },
    params: { type: 'object' },
  }),
  webhook: obj(['url'], {
    url: { type: 'string', minLength: 1 },
    method: { enum: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'], default: 'POST' },
    headers: { type: 'object', additionalProperties: { type: 'string' } },
    body: {},
    timeoutMs: { type: 'integer', minimum: 1, maximum: 600_000 },
  }),
  log: obj(['message'], {
    level: { enum: ['debug', 'info', 'warn', 'error'], default: 'info' },
    message: { type: 'string', minLength: 1 },
  }),
};

/** One action: exactly one type key plus the common keys. */
export function actionSchema(type: ActionType): Record<string, unknown> {
  return { type: 'object', additionalProperties: false, required: [type], properties: { [type]: ACTION_BODY_SCHEMAS[type], ...ACTION_COMMON_PROPERTIES } };
}

/** A rule; `actions` items are only required to be objects here (the compiler checks each by type). */
export const RULE_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'on', 'actions'],
  properties: {
    name: { type: 'string', pattern: '^[a-z][a-z0-9-]*$', maxLength: 100 },
    description: { type: 'string' },
    enabled: { type: 'boolean', default: true },
    priority: { type: 'integer', default: 100, description: 'Lower runs first.' },
    on: oneOrMany('Event types or families such as node.* (or * for all).', ON_PATTERN),
    match: {
      type: 'object',
      additionalProperties: false,
      properties: {
        labels: oneOrMany('The node has one of these labels.'),
        relationshipType: oneOrMany('The relationship has one of these types.'),
        database: oneOrMany('The event comes from one of these databases.'),
        source: oneOrMany('The event comes from one of these sources.'),
      },
    },
    when: { type: 'string', minLength: 1, description: 'A CEL expression over event.' },
    window: {
      type: 'object',
      additionalProperties: false,
      required: ['count', 'within'],
      properties: {
        count: { type: 'integer', minimum: 1, maximum: 100_000 },
        within: duration,
        by: { type: 'string', minLength: 1, description: 'A CEL expression over event: one window per value.' },
      },
    },
    debounce: duration,
    cooldown: duration,
    maxConcurrent: { type: 'integer', minimum: 1, maximum: 10_000 },
    actions: { type: 'array', minItems: 1, maxItems: 50, items: { type: 'object' } },
  },
} as const;

/** The whole rule with its actions as a oneOf, for embedding in a config schema. */
export const RULE_JSON_SCHEMA = {
  ...RULE_SCHEMA,
  properties: { ...RULE_SCHEMA.properties, actions: { ...RULE_SCHEMA.properties.actions, items: { oneOf: ACTION_TYPES.map(actionSchema) } } },
};
