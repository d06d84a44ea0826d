/**
 * The schema summary the model sees: read through a {@link SchemaProvider} (or built from any
 * read-only {@link CypherReader}), cached, and refreshed on a timer (invoker.schemaRefreshMs).
 * A prompt never waits long for it: the first read is bounded, and a failed refresh keeps the
 * last good summary.
 */
import type { Logger } from 'pino';
import type { Row } from '../../sdk/index.js';
import type { CypherReader, SchemaProvider, SchemaSummary } from './seams.js';

const MAX_COUNTED = 100;

const quote = (name: string): string => `\`${name.replace(/`/g, '``')}\``;
const num = (v: unknown): number | undefined => (typeof v === 'number' ? v : typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : undefined);
const strs = (v: unknown): string[] | undefined => (Array.isArray(v) ? v.map(String) : undefined);

/** Labels Heimdall itself writes (outbox, its counter, the audit mirror): not part of the user's graph. */
const INTERNAL_LABELS = new Set(['HeimdallOutbox', 'HeimdallOutboxSeq', 'HeimdallAudit']);
const internal = (labelsOrTypes: unknown): boolean => Array.isArray(labelsOrTypes) && labelsOrTypes.some((l) => INTERNAL_LABELS.has(String(l)));

/** A SchemaProvider that reads the schema with plain Cypher (counts come from the count store). */
export function cypherSchemaProvider(reader: CypherReader): SchemaProvider {
  const read = (q: string, signal?: AbortSignal): Promise<Row[]> => reader.read(q, {}, { timeoutMs: 10_000, ...(signal ? { signal } : {}) });
  return {
    async schema({ signal }) {
      const [labels, types, keys, indexes, constraints, nodes, rels] = await Promise.all([
        read('CALL db.labels() YIELD label RETURN label ORDER BY label', signal),
        read('CALL db.relationshipTypes() YIELD relationshipType RETURN relationshipType ORDER BY relationshipType', signal),
        read('CALL db.propertyKeys() YIELD propertyKey RETURN propertyKey ORDER BY propertyKey', signal),
        read('SHOW INDEXES YIELD name, type, entityType, labelsOrTypes, properties, state RETURN *', signal),
        read('SHOW CONSTRAINTS YIELD name, type, entityType, labelsOrTypes, properties RETURN *', signal),
        read('MATCH (n) RETURN count(n) AS c', signal),
        read('MATCH ()-[r]->() RETURN count(r) AS c', signal),
      ]);
      const labelNames = labels.map((r) => String(r['label'])).filter((l) => !INTERNAL_LABELS.has(l));
      const typeNames = types.map((r) => String(r['relationshipType']));
      const labelCounts = await Promise.all(
        labelNames.slice(0, MAX_COUNTED).map((l) => read(`MATCH (n:${quote(l)}) RETURN count(n) AS c`, signal).then((r) => num(r[0]?.['c']))),
      );
      const typeCounts = await Promise.all(
        typeNames.slice(0, MAX_COUNTED).map((t) => read(`MATCH ()-[r:${quote(t)}]->() RETURN count(r) AS c`, signal).then((r) => num(r[0]?.['c']))),
      );
      const withCount = <K extends string>(key: K, names: string[], counts: Array<number | undefined>) =>
        names.map((n, i) => ({ [key]: n, ...(counts[i] !== undefined ? { count: counts[i] } : {}) }) as { [P in K]: string } & { count?: number });
      const nodeCount = num(nodes[0]?.['c']);
      const relationshipCount = num(rels[0]?.['c']);
      return {
        labels: withCount('label', labelNames, labelCounts),
        relationshipTypes: withCount('type', typeNames, typeCounts),
        propertyKeys: keys.map((r) => String(r['propertyKey'])),
        indexes: indexes.filter((r) => !internal(r['labelsOrTypes'])).map((r) => ({
          name: String(r['name']),
          ...(r['type'] ? { type: String(r['type']) } : {}),
          ...(r['entityType'] ? { entity: String(r['entityType']) } : {}),
          ...(strs(r['labelsOrTypes']) ? { labelsOrTypes: strs(r['labelsOrTypes'])! } : {}),
          ...(strs(r['properties']) ? { properties: strs(r['properties'])! } : {}),
          ...(r['state'] ? { state: String(r['state']) } : {}),
        })),
        constraints: constraints.filter((r) => !internal(r['labelsOrTypes'])).map((r) => ({
          name: String(r['name']),
          ...(r['type'] ? { type: String(r['type']) } : {}),
          ...(r['entityType'] ? { entity: String(r['entityType']) } : {}),
          ...(strs(r['labelsOrTypes']) ? { labelsOrTypes: strs(r['labelsOrTypes'])! } : {}),
          ...(strs(r['properties']) ? { properties: strs(r['properties'])! } : {}),
        })),
        ...(nodeCount !== undefined ? { nodeCount } : {}),
        ...(relationshipCount !== undefined ? { relationshipCount } : {}),
        fetchedAt: new Date().toISOString(),
      };
    },
  };
}

export class SchemaCache {
  private provider: SchemaProvider | undefined;
  private current: SchemaSummary | undefined;
  private fetchedAtMs = 0;
  private inFlight: Promise<SchemaSummary | undefined> | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** Why the last read failed, as a sentence; undefined after a good read. */
  lastError: string | undefined;

  constructor(
    private readonly refreshMs: number,
    private readonly log: Logger,
    /** How long a prompt waits for the first read. */
    private readonly firstReadWaitMs = 3000,
  ) {}

  setProvider(p: SchemaProvider | undefined): void {
    this.provider = p;
    this.current = undefined;
    this.fetchedAtMs = 0;
    clearInterval(this.timer);
    this.timer = undefined;
    if (p) {
      this.timer = setInterval(() => void this.refresh(), this.refreshMs);
      this.timer.unref();
      void this.refresh();
    }
  }

  get available(): boolean {
    return this.provider !== undefined;
  }

  /** Reads now (one read at a time); keeps the last good summary on failure. */
  refresh(): Promise<SchemaSummary | undefined> {
    const p = this.provider;
    if (!p) return Promise.resolve(undefined);
    this.inFlight ??= p
      .schema({ signal: AbortSignal.timeout(30_000) })
      .then(
        (s) => {
          this.current = s;
          this.fetchedAtMs = Date.now();
          this.lastError = undefined;
          return s;
        },
        (err: unknown) => {
          const msg = `The database schema could not be read for the model's system prompt: ${(err as Error)?.message ?? String(err)}. Prompts use ${this.current ? 'the last good summary' : 'no schema'} until the next refresh in ${Math.round(this.refreshMs / 1000)} s.`;
          if (this.lastError !== msg) this.log.warn(msg);
          this.lastError = msg;
          return this.current;
        },
      )
      .finally(() => {
        this.inFlight = undefined;
      });
    return this.inFlight;
  }

  /** The summary for a prompt: the cached one, or a bounded wait for the first read. */
  async get(): Promise<SchemaSummary | undefined> {
    if (!this.provider) return undefined;
    if (this.current && Date.now() - this.fetchedAtMs < this.refreshMs) return this.current;
    if (this.current) {
      void this.refresh();
      return this.current;
    }
    let t: NodeJS.Timeout | undefined;
    const wait = new Promise<undefined>((r) => {
      t = setTimeout(() => r(undefined), this.firstReadWaitMs);
    });
    try {
      return await Promise.race([this.refresh(), wait]);
    } finally {
      clearTimeout(t);
    }
  }

  close(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }
}
