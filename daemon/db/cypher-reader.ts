/**
 * The invoker's read-only Cypher seam (invoker/seams.ts CypherReader) over the database router:
 * the heimdall.db.* built-ins, the schema summary and the model's read tool use it. Every
 * statement runs in a READ transaction, so the server refuses writes; the invocation id goes into
 * the transaction metadata, and at most `maxRows` rows come back.
 */
import type { CypherReader } from '../invoker/seams.js';
import type { Database } from './database.js';

export function databaseReader(db: Database): CypherReader {
  return {
    async read(cypher, params, o) {
      const r = await db.run(cypher, params, {
        mode: 'read',
        ...(o.database ? { database: o.database } : {}),
        ...(o.timeoutMs ? { timeoutMs: o.timeoutMs } : {}),
        metadata: { ...(o.invocationId ? { invocationId: o.invocationId } : {}) },
      });
      return r.rows.slice(0, o.maxRows ?? Infinity);
    },
  };
}
