/**
 * The `file` sink: one JSON object per line, appended; size-based rotation (path → path.1 → … →
 * path.maxFiles, the oldest deleted). Lines are collected and written once per event-loop turn,
 * so a burst of messages costs one write. What waits in memory is bounded: past
 * MAX_PENDING_BYTES new messages are dropped and counted.
 */
import { closeSync, existsSync, fstatSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Logger } from 'pino';
import type { FileSinkConfig } from '../../../config/types.js';
import type { BifrostMessage } from '../bus.js';
import { systemClock, type Clock } from '../clock.js';
import type { Sink, SinkStats } from './sink.js';

const MAX_PENDING_BYTES = 8 * 1024 * 1024;
/** A failing disk is reported at most this often. */
const ERROR_LOG_INTERVAL_MS = 10_000;

export class FileSink implements Sink {
  private fd: number | undefined;
  private size = 0;
  private pending: string[] = [];
  private pendingBytes = 0;
  private scheduled = false;
  private closed = false;
  private lastErrorLogAt = 0;
  private failedSinceLog = 0;
  private readonly counters = { received: 0, written: 0, failed: 0, dropped: 0, rotations: 0 };
  private lastError: string | undefined;

  constructor(readonly name: string, private readonly cfg: FileSinkConfig, private readonly log: Logger, private readonly clock: Clock = systemClock) {}

  write(m: BifrostMessage): void {
    if (this.closed) return;
    this.counters.received++;
    const line = `${JSON.stringify(m)}\n`;
    if (this.pendingBytes + line.length > MAX_PENDING_BYTES) {
      this.counters.dropped++;
      return;
    }
    this.pending.push(line);
    this.pendingBytes += line.length;
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  private open(): number {
    if (this.fd !== undefined) return this.fd;
    mkdirSync(dirname(this.cfg.path), { recursive: true });
    this.fd = openSync(this.cfg.path, 'a');
    this.size = fstatSync(this.fd).size;
    return this.fd;
  }

  private rotate(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
    const p = this.cfg.path;
    const keep = this.cfg.maxFiles;
    rmSync(`${p}.${keep}`, { force: true });
    for (let i = keep - 1; i >= 1; i--) if (existsSync(`${p}.${i}`)) renameSync(`${p}.${i}`, `${p}.${i + 1}`);
    if (existsSync(p)) renameSync(p, `${p}.1`);
    this.counters.rotations++;
    this.open();
  }

  /** Writes everything pending, rotating before a line would take the file past maxBytes. */
  flush(): void {
    this.scheduled = false;
    if (this.pending.length === 0) return;
    const lines = this.pending;
    this.pending = [];
    this.pendingBytes = 0;
    let i = 0;
    try {
      const fd = this.open();
      let batch: string[] = [];
      let batchBytes = 0;
      const writeBatch = () => {
        if (batch.length === 0) return;
        const buf = Buffer.from(batch.join(''), 'utf8');
        let off = 0;
        while (off < buf.length) off += writeSync(this.fd ?? fd, buf, off);
        this.size += buf.length;
        this.counters.written += batch.length;
        i += batch.length;
        batch = [];
        batchBytes = 0;
      };
      for (const line of lines) {
        const bytes = Buffer.byteLength(line);
        if (this.size + batchBytes + bytes > this.cfg.maxBytes && this.size + batchBytes > 0) {
          writeBatch();
          this.rotate();
        }
        batch.push(line);
        batchBytes += bytes;
      }
      writeBatch();
    } catch (err) {
      const lost = lines.length - i;
      this.counters.failed += lost;
      this.failedSinceLog += lost;
      this.lastError = (err as Error).message;
      if (this.fd !== undefined) {
        try {
          closeSync(this.fd);
        } catch {
          // already unusable
        }
        this.fd = undefined;
      }
      const now = this.clock.now();
      if (now - this.lastErrorLogAt >= ERROR_LOG_INTERVAL_MS) {
        this.lastErrorLogAt = now;
        this.log.error(
          { sink: this.name, path: this.cfg.path, lost: this.failedSinceLog, failedTotal: this.counters.failed },
          `The Bifrost file sink ${this.name} could not write to ${this.cfg.path} (${this.lastError}); ${this.failedSinceLog} messages were lost. Check that the folder exists, is writable and has free space.`,
        );
        this.failedSinceLog = 0;
      }
    }
  }

  stats(): SinkStats {
    return { name: this.name, type: 'file', ...this.counters, queued: this.pending.length, ...(this.lastError ? { lastError: this.lastError } : {}) };
  }

  async close(): Promise<void> {
    this.flush();
    this.closed = true;
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}
