/** The neo4j-apoc delivery checkpoint over the plugin queues: it waits for the queues listed when it was taken, unless one leaves the list (paused or removed). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BoundedQueue } from '../../daemon/queue/bounded-queue.js';
import { settledWhenQueuesDrain } from '../../daemon/sources/neo4j-apoc/settle.js';

test('a checkpoint waits for every queue it saw, and stops waiting for one that leaves the list (a paused or removed plugin)', async () => {
  const a = new BoundedQueue<number>(10, 'drop_newest');
  const b = new BoundedQueue<number>(10, 'drop_newest');
  let listed = [a, b];
  for (const q of listed) q.push(1);
  let done = false;
  let looks = 0;
  const checkpoint = settledWhenQueuesDrain(() => (looks++, listed), 1)().then(() => (done = true));
  a.take(1);
  a.settle(1, 0);
  // the checkpoint looks again every tick; after a few looks with b holding its event it has not passed
  const seen = looks;
  while (looks < seen + 3) await new Promise((r) => setImmediate(r));
  assert.equal(done, false, 'b still holds the event');
  listed = [a];
  await checkpoint;
  assert.equal(done, true);
  // a queue that left before the checkpoint was taken is not waited for at all
  b.push(2);
  await settledWhenQueuesDrain(() => listed, 1)();
});
