/** Lifecycles alone: start in order, stop in reverse order of start, and what a failure does. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Lifecycles, type Lifecycle } from '../../daemon/lifecycle.js';

function parts(log: string[], names: string[], failStart?: string, failStop?: string): Lifecycle[] {
  return names.map((name) => ({
    name,
    start: async () => {
      if (name === failStart) throw new Error(`${name} could not start`);
      log.push(`start ${name}`);
    },
    stop: async () => {
      if (name === failStop) throw new Error(`${name} is stuck`);
      log.push(`stop ${name}`);
    },
  }));
}

const warnings = () => {
  const lines: string[] = [];
  return { lines, log: { warn: (msg: string) => void lines.push(msg) } as never };
};

describe('Lifecycles', () => {
  it('starts parts in order and stops them in reverse order of start, once', async () => {
    const log: string[] = [];
    const w = warnings();
    const l = new Lifecycles(w.log);
    await l.start(parts(log, ['bifrost', 'database', 'http', 'plugins', 'sources']));
    assert.deepEqual(l.names(), ['bifrost', 'database', 'http', 'plugins', 'sources']);
    const a = l.stop();
    assert.equal(l.stop(), a, 'a second stop gets the same promise');
    await a;
    assert.deepEqual(log, ['start bifrost', 'start database', 'start http', 'start plugins', 'start sources', 'stop sources', 'stop plugins', 'stop http', 'stop database', 'stop bifrost']);
  });

  it('a part that fails to start stops the parts started before it and rethrows; later parts never start', async () => {
    const log: string[] = [];
    const l = new Lifecycles(warnings().log);
    await assert.rejects(l.start(parts(log, ['a', 'b', 'c', 'd'], 'c')), /c could not start/);
    assert.deepEqual(log, ['start a', 'start b', 'stop b', 'stop a']);
  });

  it('a part that fails to stop is logged and the others still stop', async () => {
    const log: string[] = [];
    const w = warnings();
    const l = new Lifecycles(w.log);
    await l.start(parts(log, ['a', 'b', 'c'], undefined, 'b'));
    await l.stop();
    assert.deepEqual(log.slice(3), ['stop c', 'stop a']);
    assert.deepEqual(w.lines, ['Stopping b failed (b is stuck); the rest of the daemon stops anyway.']);
  });

  it('parts without start are only stopped', async () => {
    const log: string[] = [];
    const l = new Lifecycles(warnings().log);
    await l.start([{ name: 'invoker', stop: () => void log.push('stop invoker') }]);
    await l.stop();
    assert.deepEqual(log, ['stop invoker']);
  });
});
