/**
 * Event ids: random (version 4) UUIDs, as crypto.randomUUID() makes them, but each one a flat
 * string. Node's randomUUID() joins its 36 characters with `+`, which V8 keeps as a tree of about
 * ten string pieces until something reads the characters; an event waiting in a plugin queue then
 * holds those pieces, and every garbage collection of the young generation copies them (a queued
 * event's id was most of the objects the daemon's heap held in bench/core.ts). Here 128 ids are
 * written as ASCII into one buffer from one draw of random bytes, and each id is read out of it as
 * one flat string.
 */
import { randomFillSync } from 'node:crypto';

/** Ids made per draw of random bytes. */
const PER_DRAW = 128;
const HEX = Buffer.from('0123456789abcdef', 'latin1');
const random = Buffer.alloc(16 * PER_DRAW);
const text = Buffer.alloc(36 * PER_DRAW);
let next = PER_DRAW;

function draw(): void {
  randomFillSync(random);
  for (let u = 0; u < PER_DRAW; u++) {
    const r = u * 16;
    // version 4, variant 10xx (RFC 9562), as randomUUID sets them
    random[r + 6] = (random[r + 6]! & 0x0f) | 0x40;
    random[r + 8] = (random[r + 8]! & 0x3f) | 0x80;
    let o = u * 36;
    for (let b = 0; b < 16; b++) {
      if (b === 4 || b === 6 || b === 8 || b === 10) text[o++] = 0x2d; // '-'
      const v = random[r + b]!;
      text[o++] = HEX[v >> 4]!;
      text[o++] = HEX[v & 15]!;
    }
  }
  next = 0;
}

/** A new random UUID (version 4, lower case), as one flat string. */
export function newEventId(): string {
  if (next === PER_DRAW) draw();
  const o = 36 * next++;
  return text.toString('latin1', o, o + 36);
}
