/**
 * Built-in actions for the model and operators that reach the database through the invoker's
 * seams: heimdall.db.schema (labels, relationship types, property keys, counts, indexes,
 * constraints), heimdall.db.query (read-only Cypher: the statement policy for reads, a streamed READ
 * transaction cut at a row and a byte limit, the action's deadline as its timeout) and
 * heimdall.remediate.cypher (a proposed, parameterised write, routed to the remediation executor).
 */
import { serializeError, type ActionResult, ErrorCode } from '../../sdk/index.js';
import type { HeimdallConfig } from '../../config/types.js';
import type { ActionRegistry } from './action-registry.js';
import { REMEDIATE_CYPHER, type RemediationRouter } from './remediation.js';
import type { SchemaCache } from './schema-cache.js';
import type { InvokerAttachments } from './seams.js';

export const DB_SCHEMA = 'heimdall.db.schema';
export const DB_QUERY = 'heimdall.db.query';

/** What keeps heimdall.db.query to reading, in the order it applies (reported with every result). */
export const ENFORCED_BY = ['statement screen', 'EXPLAIN plan screen', 'read transaction', 'row limit', 'byte limit', 'transaction timeout'];

/** success:false when there is no database (or no router attached). */
export function noDatabase(config: HeimdallConfig, action: string): ActionResult {
  if (!config.database) {
    return {
      success: false,
      message: `No database is configured, so ${action} cannot run. Add a database: section (uri, user, password) to heimdall.config.yaml and restart the daemon.`,
      data: { code: ErrorCode.HMD_ERR_NO_DATABASE },
    };
  }
  return {
    success: false,
    message: `A database is configured but the database router is not available in this daemon, so ${action} cannot run. Check the database line of \`heimdall status\` and the daemon log.`,
    data: { code: ErrorCode.HMD_ERR_DATABASE_UNAVAILABLE },
  };
}

export function registerDbActions(deps: {
  registry: ActionRegistry;
  config: HeimdallConfig;
  schema: SchemaCache;
  attachments: () => InvokerAttachments;
  remediation: RemediationRouter;
}): void {
  const { registry, config, schema, attachments, remediation } = deps;
  const rowLimit = config.invoker.queryRowLimit;
  const maxBytes = config.invoker.queryMaxBytes;

  registry.registerBuiltin(DB_SCHEMA, {
    description: 'Describes the graph: labels and relationship types with counts, property keys, indexes and constraints. Read-only.',
    params: {
      type: 'object',
      properties: { refresh: { type: 'boolean', description: 'Read it again now instead of using the cached summary.' } },
      additionalProperties: false,
    },
    run: async (params) => {
      if (!schema.available) return noDatabase(config, DB_SCHEMA);
      const s = params['refresh'] === true ? await schema.refresh() : await schema.get();
      if (!s) {
        return { success: false, message: schema.lastError ?? 'The schema could not be read in time; try again shortly.', data: { code: ErrorCode.HMD_ERR_DATABASE_UNAVAILABLE } };
      }
      return {
        success: true,
        message: `The graph has ${s.labels.length} labels, ${s.relationshipTypes.length} relationship types, ${s.indexes.length} indexes and ${s.constraints.length} constraints${s.nodeCount !== undefined ? `, with ${s.nodeCount} nodes and ${s.relationshipCount ?? '?'} relationships` : ''}.`,
        data: s as unknown as Record<string, unknown>,
      };
    },
  });

  registry.registerBuiltin(DB_QUERY, {
    description: `Runs one read-only Cypher query and returns at most ${rowLimit} rows (and at most ${maxBytes} bytes). It only reads the graph: procedures and functions not on the read allowlist, LOAD CSV, and SHOW or administration commands other than SHOW INDEXES and SHOW CONSTRAINTS are refused. Pass values as $parameters.`,
    params: {
      type: 'object',
      properties: {
        cypher: { type: 'string', minLength: 1, description: 'The read-only Cypher statement.' },
        params: { type: 'object', description: 'Values for the $parameters of the statement.' },
        limit: { type: 'integer', minimum: 1, maximum: rowLimit, description: `Most rows to return (at most ${rowLimit}).` },
        database: { type: 'string', minLength: 1, description: 'Logical database; the configured one by default.' },
      },
      required: ['cypher'],
      additionalProperties: false,
    },
    run: async (params, call) => {
      const { reader } = attachments();
      if (!reader) return noDatabase(config, DB_QUERY);
      const cypher = String(params['cypher']);
      const qp = (params['params'] ?? {}) as Record<string, unknown>;
      const limit = typeof params['limit'] === 'number' ? params['limit'] : rowLimit;
      const database = typeof params['database'] === 'string' ? params['database'] : undefined;
      try {
        const r = await reader.query(cypher, qp, {
          what: 'The query',
          maxRows: limit,
          maxBytes,
          timeoutMs: Math.min(config.actions.timeoutMs, config.database?.queryTimeoutMs ?? Number.POSITIVE_INFINITY),
          signal: call.signal,
          invocationId: call.invocationId,
          ...(database ? { database } : {}),
        });
        const cut = r.truncated === 'rows' ? ` (cut to the limit of ${limit}; add LIMIT or narrow the query)` : r.truncated === 'bytes' ? ` (cut at ${maxBytes} bytes, before the row that would have passed it; return fewer or smaller values)` : '';
        return {
          success: true,
          message: `The query returned ${r.rows.length} row${r.rows.length === 1 ? '' : 's'}${cut}.`,
          data: { rows: r.rows, truncated: r.truncated !== false, ...(r.truncated ? { truncatedBy: r.truncated } : {}), bytes: r.bytes, enforcedBy: ENFORCED_BY },
        };
      } catch (err) {
        const e = serializeError(err);
        const refused = e.code === ErrorCode.HMD_ERR_STATEMENT_REFUSED || e.code === ErrorCode.HMD_ERR_READ_ONLY;
        const d = (e.details ?? {}) as Record<string, unknown>;
        if (refused) {
          const rule = typeof d['rule'] === 'string' ? d['rule'] : 'not-a-read';
          try {
            await attachments().audit?.append({
              type: 'query.refused',
              invocationId: call.invocationId,
              action: DB_QUERY,
              statement: cypher,
              params: qp,
              refusal: { rule, ...(typeof d['name'] === 'string' ? { name: d['name'] } : {}) },
              success: false,
              message: e.message,
              ...(call.trigger.plugin ? { plugin: call.trigger.plugin } : {}),
            });
          } catch {
            // the audit sink reports its own failures
          }
        }
        return {
          success: false,
          message: refused ? e.message : `The query failed: ${e.message}`,
          data: { code: e.code, ...(refused ? { refused: true, ...(d['rule'] ? { rule: d['rule'] } : {}), ...(d['name'] ? { name: d['name'] } : {}), ...(d['classification'] ? { classification: d['classification'] } : {}) } : {}) },
        };
      }
    },
  });

  registry.registerBuiltin(REMEDIATE_CYPHER, {
    description:
      'Proposes one parameterised Cypher write to repair or annotate data, with the reason. It runs under the remediation policy (auto, operator approval, or dry-run) and is audited.',
    destructive: true,
    // Room for an operator's approval under remediation.mode approve.
    timeoutMs: config.actions.timeoutMs + config.invoker.approvalTimeoutMs,
    params: {
      type: 'object',
      properties: {
        statement: { type: 'string', minLength: 1, description: 'The Cypher statement; every value must be a $parameter.' },
        params: { type: 'object', default: {}, description: 'Values of the $parameters.' },
        reason: { type: 'string', minLength: 1, description: 'Why this change is needed, for the operator and the audit log.' },
        database: { type: 'string', minLength: 1, description: 'Logical database; the configured one by default.' },
      },
      required: ['statement', 'reason'],
      additionalProperties: false,
    },
    run: (params, call) =>
      remediation.cypher(String(params['statement']), (params['params'] ?? {}) as Record<string, unknown>, {
        invocationId: call.invocationId,
        action: REMEDIATE_CYPHER,
        proposedBy: call.trigger.kind === 'prompt' ? 'model' : call.trigger.kind,
        trigger: call.trigger,
        reason: String(params['reason']),
        ...(call.trigger.plugin ? { plugin: call.trigger.plugin } : {}),
        ...(typeof params['database'] === 'string' ? { database: params['database'] } : {}),
        signal: call.signal,
      }),
  });
}
