/**
 * The Bifrost benchmark's counting client: one SSE stream read over a plain TCP socket, counting
 * notification frames in the raw bytes without parsing them (the bench's 100 clients share this
 * machine's two cores with the daemon, so what a client costs per byte bounds what the bench can
 * show). It sends an HTTP/1.1 GET, checks the status line, and then scans each chunk in place with
 * native searches: no HTTP parser, no copy of a chunk, no string of it unless a `skipped` event's
 * head is there. The stream's chunked framing ("\r\n<size>\r\n") lies between the daemon's writes,
 * and each write holds whole frames, so it never splits what is counted; if it did, a client would
 * count short and the bench would say so. Frames and heads that straddle two chunks are found in
 * the join of the last chunk's tail and this one's head.
 */
import { connect } from 'node:net';

export interface CountingClient {
  count: number;
  /** Notifications the daemon left out for this client (its `skipped` events): it read too slowly. */
  skipped: number;
  cutOff: boolean;
  ended: boolean;
  close(): void;
}

const NEEDLE = Buffer.from('\nevent: notification\n');
/** The head of a `skipped` event (a control event, never split across the frames around it in one write). */
const SKIPPED = /event: skipped\ndata: \{"skipped":(\d+),/g;
const SKIPPED_HEAD = 'event: skipped';
const CUTOFF_HEAD = 'event: cutoff';
/** Bytes of a chunk kept for the next one: a needle or a control event's head may straddle the two. */
const TAIL_BYTES = 48;
const HEAD_END = Buffer.from('\r\n\r\n');

/** Counts what `chunk` holds into `c`; `state` carries the tails of the chunk before. */
function countChunk(c: CountingClient, state: { tail: Buffer; skippedTail: string }, chunk: Buffer): void {
  let i = chunk.indexOf(NEEDLE);
  while (i !== -1) {
    c.count++;
    i = chunk.indexOf(NEEDLE, i + NEEDLE.length);
  }
  const tail = state.tail;
  // the join holds fewer than two needles' bytes, so what it finds straddles the chunks
  const join = tail.length > 0 ? Buffer.concat([tail.subarray(Math.max(0, tail.length - NEEDLE.length + 1)), chunk.subarray(0, NEEDLE.length - 1)]) : undefined;
  if (join?.includes(NEEDLE)) c.count++;
  if (!c.cutOff && (chunk.includes(CUTOFF_HEAD) || join?.includes(CUTOFF_HEAD))) c.cutOff = true;
  // the text after the last `skipped` match is kept; it is read only when a head is in it or in this chunk
  const skippedTail = state.skippedTail;
  if (chunk.includes(SKIPPED_HEAD) || (skippedTail + chunk.toString('latin1', 0, SKIPPED_HEAD.length - 1)).includes(SKIPPED_HEAD) || skippedTail.includes(SKIPPED_HEAD)) {
    const text = skippedTail + chunk.toString('latin1');
    let end = 0;
    for (const m of text.matchAll(SKIPPED)) {
      c.skipped += Number(m[1]);
      end = m.index + m[0].length;
    }
    state.skippedTail = text.slice(Math.max(end, text.length - TAIL_BYTES));
  } else state.skippedTail = (skippedTail + chunk.toString('latin1', Math.max(0, chunk.length - TAIL_BYTES))).slice(-TAIL_BYTES);
  state.tail = chunk.length >= TAIL_BYTES ? chunk.subarray(chunk.length - TAIL_BYTES) : Buffer.concat([tail, chunk]).subarray(-TAIL_BYTES);
}

/** Opens the stream at `url` (http://host:port/path?query); resolves once its first event (hello) arrived. */
export function countingClient(url: string): Promise<CountingClient> {
  const u = new URL(url);
  return new Promise((resolveClient, reject) => {
    const socket = connect(Number(u.port), u.hostname);
    const c: CountingClient = { count: 0, skipped: 0, cutOff: false, ended: false, close: () => socket.destroy() };
    const state = { tail: Buffer.alloc(0), skippedTail: '' };
    let head: Buffer | undefined = Buffer.alloc(0);
    let live = false;
    socket.setNoDelay(true);
    socket.on('connect', () => socket.write(`GET ${u.pathname}${u.search} HTTP/1.1\r\nHost: ${u.host}\r\nAccept: text/event-stream\r\n\r\n`));
    socket.on('data', (chunk: Buffer) => {
      if (head !== undefined) {
        head = Buffer.concat([head, chunk]);
        const end = head.indexOf(HEAD_END);
        if (end === -1) return;
        const status = head.toString('latin1', 0, head.indexOf('\r\n'));
        if (!/^HTTP\/1\.1 200 /.test(status)) {
          reject(new Error(`The stream answered "${status}" instead of 200.`));
          socket.destroy();
          return;
        }
        chunk = head.subarray(end + HEAD_END.length);
        head = undefined;
        if (chunk.length === 0) return;
      }
      countChunk(c, state, chunk);
      if (!live) {
        // The hello event arrives at once: the subscription is live.
        live = true;
        resolveClient(c);
      }
    });
    socket.on('close', () => (c.ended = true));
    socket.on('error', (err) => (live ? undefined : reject(err)));
  });
}
