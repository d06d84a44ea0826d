/**
 * The filter group's shared bytes: frames encoded once into one buffer, a client's run written
 * as slices of it (no copy), across encodings as a few slices, multi-byte text at the right
 * offsets, and frames encoded at the latest every MAX_UNENCODED messages.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FilterGroup, MAX_UNENCODED, type QueuedFrame } from '../../daemon/bifrost/sse-group.js';

const frameText = (id: number, text = `message ${id}`) => `id: e-${id}\nevent: message\ndata: ${JSON.stringify({ id, text })}\n\n`;
const text = (parts: Buffer[]) => Buffer.concat(parts).toString('utf8');

describe('FilterGroup', () => {
  it('encodes the frames queued since the last write once: every client writes a slice of the same buffer', () => {
    const g = new FilterGroup<unknown>('', undefined);
    const run = [1, 2, 3].map((id) => g.frame(id, frameText(id)));
    const a = g.bytes(run);
    const b = g.bytes(run.slice(1));
    assert.equal(a.length, 1);
    assert.equal(b.length, 1);
    assert.equal(a[0]!.buffer, b[0]!.buffer, 'one buffer behind both');
    assert.equal(text(a), frameText(1) + frameText(2) + frameText(3));
    assert.equal(text(b), frameText(2) + frameText(3));
    assert.ok(run.every((q) => q.frame === undefined), 'the strings are released once encoded');
  });

  it('a run that spans two encodings is written as two slices, in order, with a head before them', () => {
    const g = new FilterGroup<unknown>('', undefined);
    const first = [1, 2].map((id) => g.frame(id, frameText(id)));
    g.bytes(first); // another client wrote these: encoded
    const later = [3, 4].map((id) => g.frame(id, frameText(id)));
    const parts = g.bytes([...first, ...later], 'event: skipped\ndata: {}\n\n');
    assert.equal(parts.length, 3, 'the head, then one slice per encoding');
    assert.equal(text(parts), 'event: skipped\ndata: {}\n\n' + [1, 2, 3, 4].map((id) => frameText(id)).join(''));
  });

  it('places multi-byte text at its byte offsets', () => {
    const g = new FilterGroup<unknown>('', undefined);
    const texts = ['plain', 'Grüße, Jörg', '日本語のテキスト', '😀 emoji', 'plain again'];
    const run = texts.map((t, i) => g.frame(i + 1, frameText(i + 1, t)));
    g.bytes(run);
    for (let i = 0; i < run.length; i++) assert.equal(text(g.bytes([run[i]!])), frameText(i + 1, texts[i]), `frame ${i + 1}`);
    assert.equal(text(g.bytes(run.slice(1, 4))), run.slice(1, 4).map((_, k) => frameText(k + 2, texts[k + 1])).join(''));
  });

  it(`encodes at the latest every ${MAX_UNENCODED} frames, even when no client writes`, () => {
    const g = new FilterGroup<unknown>('', undefined);
    const qs: QueuedFrame[] = [];
    for (let id = 1; id <= MAX_UNENCODED + 1; id++) qs.push(g.frame(id, frameText(id)));
    assert.ok(qs.slice(0, MAX_UNENCODED).every((q) => q.buf !== undefined && q.frame === undefined));
    assert.equal(qs[MAX_UNENCODED]!.buf, undefined, 'the next one waits for the next encoding');
    assert.equal(text(g.bytes(qs.slice(MAX_UNENCODED - 2))), qs.slice(MAX_UNENCODED - 2).map((q) => frameText(q.id)).join(''));
  });
});
