/**
 * The stream clients that share a filter, and the bytes they are sent.
 *
 * Every client of a group gets the same messages, so each message is tested, framed and encoded
 * once for all of them. The frames queued since the group last encoded are encoded together into
 * one buffer, and every queued message (one `QueuedFrame` object, shared by all the group's
 * clients that queue it) remembers where its bytes lie in that buffer. A client's queue is always a
 * contiguous run of its group's messages (every one since its last write, less a skipped head), so
 * what it writes is a slice of one buffer — no copy, however many clients — or, for a client whose
 * run spans encodings, a few slices written together (one writev, still no copy).
 *
 * A group encodes when one of its clients writes and its last queued frame is not encoded yet, and
 * at the latest every MAX_UNENCODED messages, so frames for clients that all wait for their sockets
 * do not pile up as strings.
 */
import type { BifrostMessage } from './bus.js';

/** One message as the clients of one group are sent it. */
export interface QueuedFrame {
  readonly id: number;
  /** Its SSE frame; released once encoded. */
  frame: string | undefined;
  /** Its length in characters, what the per-client byte limit counts. */
  readonly size: number;
  /** The buffer its bytes are in, once encoded, and where. */
  buf: Buffer | undefined;
  off: number;
  len: number;
}

/** At most this many frames wait as strings in one group before they are encoded. */
export const MAX_UNENCODED = 1024;

export class FilterGroup<C> {
  readonly clients = new Set<C>();
  private unencoded: QueuedFrame[] = [];

  constructor(
    readonly key: string,
    readonly pass: ((m: BifrostMessage) => boolean) | undefined,
  ) {}

  /** The frame of one message for this group's clients; queue the same object for each. */
  frame(id: number, frame: string): QueuedFrame {
    const q: QueuedFrame = { id, frame, size: frame.length, buf: undefined, off: 0, len: 0 };
    this.unencoded.push(q);
    if (this.unencoded.length >= MAX_UNENCODED) this.encode();
    return q;
  }

  /** Encodes every frame queued since the last time into one buffer. */
  private encode(): void {
    const frames = this.unencoded;
    if (frames.length === 0) return;
    this.unencoded = [];
    let text = '';
    for (const q of frames) text += q.frame!;
    const buf = Buffer.from(text, 'utf8');
    // All ASCII (the common case) when the lengths agree: then characters are bytes.
    const ascii = buf.length === text.length;
    let off = 0;
    for (const q of frames) {
      const len = ascii ? q.size : Buffer.byteLength(q.frame!, 'utf8');
      q.buf = buf;
      q.off = off;
      q.len = len;
      off += len;
      q.frame = undefined;
    }
  }

  /**
   * The bytes of `run` (a contiguous run of this group's frames, oldest first), with `head` before
   * them: slices of the group's buffers, one per encoding the run spans (most often one).
   */
  bytes(run: readonly QueuedFrame[], head?: string): Buffer[] {
    if (run.length > 0 && run[run.length - 1]!.buf === undefined) this.encode();
    const parts: Buffer[] = head ? [Buffer.from(head, 'utf8')] : [];
    let i = 0;
    while (i < run.length) {
      const first = run[i]!;
      let last = first;
      while (i + 1 < run.length && run[i + 1]!.buf === first.buf && run[i + 1]!.off === last.off + last.len) last = run[++i]!;
      i++;
      parts.push(first.buf!.subarray(first.off, last.off + last.len));
    }
    return parts;
  }
}
