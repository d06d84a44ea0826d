/**
 * Database events: the one JSON shape Heimdall uses in the SDK, over HTTP and on any bus.
 * @packageDocumentation
 */

/** Every event type Heimdall knows. The list is pinned; see DESIGN.md. */
export const EVENT_TYPES = [
  'node.created',
  'node.updated',
  'node.deleted',
  'node.read',
  'relationship.created',
  'relationship.updated',
  'relationship.deleted',
  'query.executed',
  'query.failed',
  'index.created',
  'index.dropped',
  'transaction.commit',
  'transaction.rollback',
  'database.started',
  'database.shutdown',
  'backup.started',
  'backup.completed',
] as const;

/** One of the seventeen event types in {@link EVENT_TYPES}. */
export type EventType = (typeof EVENT_TYPES)[number];

/** Who caused a change made by the daemon itself (set on events caused by its own writes). */
export interface EventOrigin {
  /** The plugin on whose behalf the daemon wrote. */
  plugin: string;
  /** The action that wrote, when the write came from an action. */
  action?: string;
  /** The invocation that wrote, when known. */
  invocationId?: string;
}

/**
 * A database event. camelCase; only `id`, `type`, `timestamp`, `database` and `source` are always
 * present, the other fields where they apply to the event type.
 */
export interface DatabaseEvent {
  /** Unique per event and stable across redelivery: use it to deduplicate. */
  id: string;
  /** What happened. */
  type: EventType;
  /** When it happened, ISO 8601. */
  timestamp: string;
  /** Logical database name. */
  database: string;
  /** Which source produced the event: 'neo4j-apoc', 'http', 'bolt-proxy', 'system', … */
  source: string;
  /** Element id of the node, for node events. */
  nodeId?: string;
  /** Labels of the node, for node events. */
  nodeLabels?: string[];
  /** Element id of the relationship, for relationship events. */
  relationshipId?: string;
  /** Type of the relationship, for relationship events. */
  relationshipType?: string;
  /** Element id of the start node, for relationship events. */
  sourceNodeId?: string;
  /** Element id of the end node, for relationship events. */
  targetNodeId?: string;
  /** New (or current) property values. */
  properties?: Record<string, unknown>;
  /** Previous property values, for updates and deletes. */
  oldProperties?: Record<string, unknown>;
  /** The Cypher text, for query events. */
  query?: string;
  /** The query parameters, for query events. */
  queryParams?: Record<string, unknown>;
  /** How long the query or transaction took, in milliseconds. */
  durationMs?: number;
  /** Rows or entities affected. */
  rowsAffected?: number;
  /** The error message, for failures. */
  error?: string;
  /** Index name, for index events. */
  indexName?: string;
  /** Indexed label, for index events. */
  indexLabel?: string;
  /** Indexed property, for index events. */
  indexProperty?: string;
  /** Transaction id. */
  txId?: string;
  /** User who ran the query or transaction. */
  userId?: string;
  /** Request id, to correlate with a client request. */
  requestId?: string;
  /**
   * Free-form metadata. Transaction metadata is in `metadata.tx`; events caused by the daemon's own
   * writes carry `metadata.origin` ({@link EventOrigin}).
   */
  metadata?: Record<string, unknown> & { tx?: Record<string, unknown>; origin?: EventOrigin };
}

/** True when `type` is one of the seventeen known event types. */
export function isEventType(type: unknown): type is EventType {
  return typeof type === 'string' && (EVENT_TYPES as readonly string[]).includes(type);
}

/**
 * True when `pattern` selects `type`: an exact type, a family wildcard such as `node.*`, or `*`.
 */
export function eventTypeMatches(pattern: string, type: string): boolean {
  if (pattern === '*' || pattern === type) return true;
  if (pattern.endsWith('.*')) return type.startsWith(pattern.slice(0, -1));
  return false;
}
