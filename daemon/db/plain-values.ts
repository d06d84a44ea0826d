/**
 * Turns neo4j-driver values into plain JSON-safe values that can cross to a worker:
 * Integer → number when safe, else a decimal string; Node/Relationship/Path → plain objects with
 * elementId, labels or type, and properties; temporal values → ISO strings; Point → { srid, x, y, z? };
 * bytes → base64 string.
 */
import neo4j from 'neo4j-driver';

const { isInt, isNode, isRelationship, isPath, isPoint, isDate, isDateTime, isLocalDateTime, isLocalTime, isTime, isDuration, isUnboundRelationship, isPathSegment } = neo4j;

export function toPlain(v: unknown): unknown {
  if (v === null || v === undefined) return v ?? null;
  if (typeof v !== 'object') return typeof v === 'bigint' ? bigToPlain(v) : v;
  if (isInt(v)) {
    const i = v as neo4j.Integer;
    return i.inSafeRange() ? i.toNumber() : i.toString();
  }
  if (Array.isArray(v)) return v.map(toPlain);
  if (isNode(v)) {
    const n = v as neo4j.Node;
    return { elementId: n.elementId, labels: [...n.labels], properties: plainMap(n.properties) };
  }
  if (isRelationship(v)) {
    const r = v as neo4j.Relationship;
    return { elementId: r.elementId, type: r.type, startNodeElementId: r.startNodeElementId, endNodeElementId: r.endNodeElementId, properties: plainMap(r.properties) };
  }
  if (isUnboundRelationship(v)) {
    const r = v as neo4j.UnboundRelationship;
    return { elementId: r.elementId, type: r.type, properties: plainMap(r.properties) };
  }
  if (isPath(v)) {
    const p = v as neo4j.Path;
    return { start: toPlain(p.start), end: toPlain(p.end), segments: p.segments.map(toPlain), length: p.length };
  }
  if (isPathSegment(v)) {
    const s = v as neo4j.PathSegment;
    return { start: toPlain(s.start), relationship: toPlain(s.relationship), end: toPlain(s.end) };
  }
  if (isPoint(v)) {
    const p = v as neo4j.Point;
    return { srid: toPlain(p.srid), x: p.x, y: p.y, ...(p.z !== undefined ? { z: p.z } : {}) };
  }
  if (isDate(v) || isDateTime(v) || isLocalDateTime(v) || isLocalTime(v) || isTime(v) || isDuration(v)) return String(v);
  if (v instanceof Uint8Array) return Buffer.from(v).toString('base64');
  if (v instanceof Date) return v.toISOString();
  return plainMap(v as Record<string, unknown>);
}

function bigToPlain(b: bigint): number | string {
  return b >= BigInt(Number.MIN_SAFE_INTEGER) && b <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(b) : b.toString();
}

export function plainMap(o: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(o)) out[k] = toPlain(o[k]);
  return out;
}

/** Converts a neo4j Record list into plain rows. */
export function plainRows(records: Array<{ keys: readonly PropertyKey[]; get(k: PropertyKey): unknown }>): Array<Record<string, unknown>> {
  return records.map((r) => {
    const row: Record<string, unknown> = {};
    for (const k of r.keys) row[String(k)] = toPlain(r.get(k));
    return row;
  });
}
