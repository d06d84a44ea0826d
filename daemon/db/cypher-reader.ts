/**
 * Reads for the model: the invoker's read-only Cypher seam (invoker/seams.ts CypherReader) over
 * the database router, used by heimdall.db.query and the schema summary. A statement is first
 * checked by the statement policy for reading (statement-policy.ts: no LOAD CSV, no procedure or
 * function that is not allowed by name, no SHOW/admin command but SHOW INDEXES/CONSTRAINTS, and
 * EXPLAIN must call it a read), then streamed from a READ transaction:
 *
 *   - the session pulls `fetchSize` records at a time and the reader stops consuming once it has
 *     `maxRows` rows or `maxBytes` of JSON, then rolls back: the server stops producing, and memory
 *     stays flat however many rows the statement would have returned;
 *   - the deadline is the transaction's timeout (and the action's AbortSignal rolls it back).
 */
import { ReadOnlyError, type Row } from '../../sdk/index.js';
import type { CypherReader, ReadResult } from '../invoker/seams.js';
import type { Database, TxMetadata } from './database.js';
import { plainRows } from './plain-values.js';
import { refusalError, type StatementPolicy } from './statement-policy.js';

export interface StreamReadOptions {
  database?: string;
  timeoutMs?: number;
  signal?: AbortSignal;
  maxRows: number;
  maxBytes: number;
  metadata: Omit<TxMetadata, 'app'>;
}

/** Streams one read and stops at the first bound; the server-side transaction is rolled back. */
export async function streamRead(db: Database, cypher: string, params: Record<string, unknown>, o: StreamReadOptions): Promise<ReadResult> {
  return db.transaction(
    {
      mode: 'read',
      fetchSize: Math.max(1, Math.min(1000, Number.isFinite(o.maxRows) ? o.maxRows + 1 : 1000)),
      ...(o.database ? { database: o.database } : {}),
      ...(o.timeoutMs !== undefined ? { timeoutMs: o.timeoutMs } : {}),
      ...(o.signal ? { signal: o.signal } : {}),
      metadata: o.metadata,
    },
    async (tx) => {
      const rows: Row[] = [];
      let bytes = 0;
      let truncated: ReadResult['truncated'] = false;
      for await (const rec of tx.run(cypher, params)) {
        if (rows.length >= o.maxRows) {
          truncated = 'rows';
          break;
        }
        const row = plainRows([rec])[0]!;
        const size = Buffer.byteLength(JSON.stringify(row) ?? '', 'utf8');
        if (bytes + size > o.maxBytes) {
          truncated = 'bytes';
          break;
        }
        bytes += size;
        rows.push(row);
      }
      await tx.rollback();
      return { rows, truncated, bytes };
    },
  );
}

export interface ReaderOptions {
  /** Default byte cap of one result (invoker.queryMaxBytes). */
  maxBytes: number;
}

export function databaseReader(db: Database, statements: StatementPolicy, ro: ReaderOptions): CypherReader {
  const query: CypherReader['query'] = async (cypher, params, o) => {
    const what = o.what ?? 'The query';
    const check = await statements.check(cypher, params, { purpose: 'read', ...(o.database ? { database: o.database } : {}) });
    if (!check.ok) throw refusalError(what, check.refusal, check.classification ? { classification: check.classification } : {});
    if (check.classification.kind !== 'read') {
      throw new ReadOnlyError(`${what} was refused before it ran: it only reads the graph, and EXPLAIN classifies this statement as ${check.classification.kind}.`, { classification: check.classification });
    }
    return streamRead(db, cypher, params, {
      maxRows: o.maxRows ?? Number.POSITIVE_INFINITY,
      maxBytes: o.maxBytes ?? ro.maxBytes,
      ...(o.database ? { database: o.database } : {}),
      ...(o.timeoutMs ? { timeoutMs: o.timeoutMs } : {}),
      ...(o.signal ? { signal: o.signal } : {}),
      metadata: { ...(o.invocationId ? { invocationId: o.invocationId } : {}) },
    });
  };
  return {
    query,
    async read(cypher, params, o) {
      // The daemon's own reads (the schema summary) keep every row they ask for.
      return (await query(cypher, params, { maxBytes: Number.POSITIVE_INFINITY, ...o })).rows;
    },
  };
}
