/**
 * The append-only audit log: one JSON object per line, each carrying `seq`, `at`, the hash of the
 * previous entry (`prev`) and its own `hash` = sha256(prev + canonical JSON of the entry without
 * `hash`). Editing, removing or reordering any line breaks the chain, which `verifyAuditLog`
 * (and `heimdall audit verify`) reports with the line number. Optionally mirrored as
 * (:HeimdallAudit) nodes in the graph.
 *
 * Two ways to append, one chain: `append` writes the line and fsyncs it before it returns (the
 * event loop waits for the disk); `appendBatched` writes the line before it returns, in the same
 * order and chain (so it is in the file, and survives the daemon crashing, once the call is back),
 * and fsyncs it off the event loop, one fsync for every line written meanwhile (group commit): a
 * power loss or an OS crash can lose the lines of the last fsync window, never reorder or corrupt
 * the chain (a torn last line is what `heimdall audit verify` reports). `durable` settles once the
 * line's fsync is done; `flush()` (the daemon's stop) fsyncs whatever is pending. The remediation
 * executor appends batched; everything else appends as before.
 */
import { createHash } from 'node:crypto';
import { appendFileSync, closeSync, existsSync, fsync, fsyncSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Logger } from 'pino';

export const GENESIS_HASH = '0'.repeat(64);

export interface AuditRecord {
  seq: number;
  at: string;
  prev: string;
  hash: string;
  type: string;
  [k: string]: unknown;
}

/** JSON with keys sorted at every level, so the hash does not depend on key order. */
export function canonicalJson(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v) ?? 'null';
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  const o = v as Record<string, unknown>;
  return `{${Object.keys(o)
    .filter((k) => o[k] !== undefined)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`)
    .join(',')}}`;
}

export function hashEntry(prev: string, entryWithoutHash: Record<string, unknown>): string {
  return createHash('sha256').update(prev).update(canonicalJson(entryWithoutHash)).digest('hex');
}

export type GraphMirror = (record: AuditRecord) => Promise<void>;

/** The statement that mirrors one entry as a (:HeimdallAudit) node (audit.graph: true). */
export const AUDIT_MIRROR_CYPHER = 'CREATE (a:HeimdallAudit {seq: $seq, hash: $hash, prev: $prev, type: $type, at: datetime($at), entry: $entry})';

/** Where the graph mirror writes (the database router satisfies it). */
export interface GraphWriter {
  run(cypher: string, params: Record<string, unknown>, opts: { mode: 'write'; metadata: Record<string, unknown> }): Promise<unknown>;
}

/**
 * The graph mirror: each entry, once it is safely in the file, also becomes a (:HeimdallAudit) node
 * with its seq, hash chain, type, time and the whole entry as JSON. A failed write is logged by
 * {@link AuditLog.append}; the file stays the record.
 */
export function graphMirror(db: GraphWriter): GraphMirror {
  return async (r) => {
    await db.run(
      AUDIT_MIRROR_CYPHER,
      { seq: r.seq, hash: r.hash, prev: r.prev, type: r.type, at: r.at, entry: JSON.stringify(r) },
      { mode: 'write', metadata: { purpose: 'audit-mirror' } },
    );
  };
}

export class AuditLog {
  private seq = 0;
  private prev = GENESIS_HASH;
  private mirror: GraphMirror | undefined;
  appended = 0;

  private opened = false;

  /**
   * Nothing touches the file system until the first append. `scrub` (the daemon passes its
   * SecretScrubber's deep) cleans each entry of secrets before it is hashed and written: an error
   * message in an entry may quote the database URI or a webhook URL with its credentials.
   */
  constructor(readonly path: string, private readonly log: Logger, private readonly scrub: <T>(entry: T) => T = (e) => e) {}

  private open(): void {
    if (this.opened) return;
    const path = this.path;
    mkdirSync(dirname(path), { recursive: true });
    if (existsSync(path)) {
      const lines = readFileSync(path, 'utf8').split('\n').filter((l) => l.trim());
      const last = lines.at(-1);
      if (last) {
        try {
          const r = JSON.parse(last) as AuditRecord;
          this.seq = r.seq;
          this.prev = r.hash;
        } catch {
          throw new Error(`The last line of the audit log ${path} is not JSON; run \`heimdall audit verify --file ${path}\` and repair or move the file.`);
        }
      }
    }
    this.opened = true;
  }

  setMirror(m: GraphMirror | undefined): void {
    this.mirror = m;
  }

  /** Who waits for the fsync of lines appendBatched wrote, and the descriptor of the latest (kept open for that fsync). */
  private waiting: Array<{ done: () => void; failed: (err: Error) => void }> = [];
  private unsyncedFd: number | undefined;
  private syncing = false;

  /** Appends one entry (synchronously flushed to the file) and returns the stored record. */
  append(entry: { type: string; [k: string]: unknown }): AuditRecord {
    return this.write(entry, true).record;
  }

  /**
   * Appends one entry: the line is written (in chain order) before this returns, its fsync runs off
   * the event loop and is shared with every line written meanwhile; `durable` settles once it is on
   * disk (it rejects when the fsync fails, which is also logged).
   */
  appendBatched(entry: { type: string; [k: string]: unknown }): { record: AuditRecord; durable: Promise<void> } {
    return this.write(entry, false);
  }

  /** Fsyncs every line appendBatched wrote and has not fsynced yet (at stop); the pending `durable` promises settle. */
  flush(): void {
    const fd = this.unsyncedFd;
    const batch = this.waiting.splice(0);
    this.unsyncedFd = undefined;
    if (fd === undefined) return;
    let error: Error | undefined;
    try {
      fsyncSync(fd);
    } catch (err) {
      error = err as Error;
    } finally {
      closeSync(fd);
    }
    for (const b of batch) {
      if (error) b.failed(error);
      else b.done();
    }
  }

  private scheduleSync(): void {
    if (this.syncing || this.unsyncedFd === undefined) return;
    this.syncing = true;
    const fd = this.unsyncedFd;
    const batch = this.waiting.splice(0);
    this.unsyncedFd = undefined;
    // one fsync of the file covers every line written before it, through any of its descriptors
    fsync(fd, (err) => {
      try {
        closeSync(fd);
      } catch {
        // nothing to do: the fsync's result is what counts
      }
      for (const b of batch) {
        if (err) b.failed(err);
        else b.done();
      }
      if (err) this.log.error(`The audit log ${this.path} could not be fsynced (${err.message}); its last ${batch.length} entries are written but may not survive a power loss.`);
      this.syncing = false;
      this.scheduleSync();
    });
  }

  private write(entry: { type: string; [k: string]: unknown }, sync: boolean): { record: AuditRecord; durable: Promise<void> } {
    this.open();
    const body: Record<string, unknown> = { ...this.scrub(JSON.parse(JSON.stringify(entry)) as Record<string, unknown>), seq: this.seq + 1, at: new Date().toISOString(), prev: this.prev };
    delete body.hash;
    const hash = hashEntry(this.prev, body);
    const record = { ...body, hash } as AuditRecord;
    const fd = openSync(this.path, 'a');
    let durable: Promise<void> = Promise.resolve();
    try {
      appendFileSync(fd, `${JSON.stringify(record)}\n`);
      if (sync) fsyncSync(fd);
    } catch (err) {
      closeSync(fd);
      throw err;
    }
    if (sync) {
      closeSync(fd);
    } else {
      if (this.unsyncedFd !== undefined) closeSync(this.unsyncedFd); // the fsync through the newest covers it
      this.unsyncedFd = fd;
      durable = new Promise<void>((done, failed) => this.waiting.push({ done, failed }));
      durable.catch(() => undefined); // logged by scheduleSync; a caller may ignore it
      this.scheduleSync();
    }
    this.seq = record.seq;
    this.prev = hash;
    this.appended++;
    if (this.mirror) {
      this.mirror(record).catch((err: Error) => this.log.warn(`Audit entry ${record.seq} is in ${this.path} but could not be mirrored to the graph: ${err.message}`));
    }
    return { record, durable };
  }
}

export interface VerifyResult {
  ok: boolean;
  entries: number;
  /** 1-based line of the first broken entry. */
  brokenAtLine?: number;
  reason?: string;
  /** The file does not exist yet (nothing was audited): a valid, empty chain. */
  absent?: true;
}

/** Recomputes the chain of an audit log file. */
export function verifyAuditLog(path: string): VerifyResult {
  // the log is created by the first audited write: before it, the chain is valid and empty
  if (!existsSync(path)) return { ok: true, entries: 0, absent: true };
  const lines = readFileSync(path, 'utf8').split('\n');
  let prev = GENESIS_HASH;
  let seq = 0;
  let entries = 0;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (!line.trim()) continue;
    let r: AuditRecord;
    try {
      r = JSON.parse(line) as AuditRecord;
    } catch {
      return { ok: false, entries, brokenAtLine: i + 1, reason: `Line ${i + 1} is not valid JSON.` };
    }
    if (r.prev !== prev) return { ok: false, entries, brokenAtLine: i + 1, reason: `Line ${i + 1} (seq ${r.seq}) does not point at the hash of the entry before it: an entry was removed, reordered or edited.` };
    if (r.seq !== seq + 1) return { ok: false, entries, brokenAtLine: i + 1, reason: `Line ${i + 1} has seq ${r.seq}, expected ${seq + 1}.` };
    const { hash, ...body } = r;
    if (hashEntry(prev, body) !== hash) return { ok: false, entries, brokenAtLine: i + 1, reason: `Line ${i + 1} (seq ${r.seq}) was modified: its content does not match its hash.` };
    prev = hash;
    seq = r.seq;
    entries++;
  }
  return { ok: true, entries };
}
