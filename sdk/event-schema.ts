/**
 * JSON Schema (2020-12) of a {@link DatabaseEvent} as accepted by Heimdall's ingest paths.
 * `id`, `timestamp`, `database` and `source` may be left out on ingest; the daemon fills them.
 * @packageDocumentation
 */
import { EVENT_TYPES } from './events.js';

const stringMap = { type: 'object', additionalProperties: true } as const;

/** The event schema. Unknown fields are rejected so that typos do not pass silently. */
export const EVENT_SCHEMA = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  $id: 'https://heimdall.dev/schemas/event.json',
  title: 'Heimdall database event',
  type: 'object',
  additionalProperties: false,
  required: ['type'],
  properties: {
    id: { type: 'string', minLength: 1, maxLength: 256 },
    type: { enum: [...EVENT_TYPES] },
    timestamp: { type: 'string', format: 'date-time' },
    database: { type: 'string', minLength: 1, maxLength: 256 },
    source: { type: 'string', minLength: 1, maxLength: 64 },
    nodeId: { type: 'string' },
    nodeLabels: { type: 'array', items: { type: 'string' } },
    relationshipId: { type: 'string' },
    relationshipType: { type: 'string' },
    sourceNodeId: { type: 'string' },
    targetNodeId: { type: 'string' },
    properties: stringMap,
    oldProperties: stringMap,
    query: { type: 'string' },
    queryParams: stringMap,
    durationMs: { type: 'number', minimum: 0 },
    rowsAffected: { type: 'integer', minimum: 0 },
    error: { type: 'string' },
    indexName: { type: 'string' },
    indexLabel: { type: 'string' },
    indexProperty: { type: 'string' },
    txId: { type: 'string' },
    userId: { type: 'string' },
    requestId: { type: 'string' },
    metadata: stringMap,
  },
} as const;
