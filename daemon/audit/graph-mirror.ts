/**
 * The audit log's optional graph mirror (audit.graph: true): each entry, once it is safely in the
 * file, is also written as a (:HeimdallAudit) node with its seq, hash chain, type, time and the
 * whole entry as JSON. A failed mirror write is logged by the audit log; the file stays the record.
 */
import type { AuditRecord, GraphMirror } from './audit-log.js';

/** The statement that mirrors one entry. */
export const AUDIT_MIRROR_CYPHER = 'CREATE (a:HeimdallAudit {seq: $seq, hash: $hash, prev: $prev, type: $type, at: datetime($at), entry: $entry})';

/** Where the mirror writes (the database router satisfies it). */
export interface GraphWriter {
  run(cypher: string, params: Record<string, unknown>, opts: { mode: 'write'; metadata: Record<string, unknown> }): Promise<unknown>;
}

export function graphMirror(db: GraphWriter): GraphMirror {
  return async (r: AuditRecord) => {
    await db.run(
      AUDIT_MIRROR_CYPHER,
      { seq: r.seq, hash: r.hash, prev: r.prev, type: r.type, at: r.at, entry: JSON.stringify(r) },
      { mode: 'write', metadata: { purpose: 'audit-mirror' } },
    );
  };
}
