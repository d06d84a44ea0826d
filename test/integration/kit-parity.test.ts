/**
 * The testing kit tells the truth: for the same plugin module and the same inputs, the kit
 * (createTestKit with the module's path) and a real daemon (worker threads, the action registry,
 * the ingest path, the database port) give the same outcome, case by case.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { RunningDaemon } from '../../daemon/daemon.js';
import { createTestKit, type TestKitOptions } from '../../sdk/testing.js';
import { pluginYaml, startTestDaemon, waitFor } from '../helpers/in-process-daemon.js';

const tmp = mkdtempSync(join(tmpdir(), 'heimdall-parity-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
const op = { kind: 'operator' as const };

/** The plugin under test: no imports, so the kit can load it from anywhere. */
const PLUGIN = `
const seen = [];
export default {
  name: 'parity',
  version: '1.0.0',
  events: ['node.*'],
  configSchema: { type: 'object', additionalProperties: false, properties: { threshold: { type: 'integer', default: 5 }, tags: { type: 'array', default: ['a'] } } },
  onDatabaseEvent(event) { seen.push(event.type); },
  actions() {
    const attempt = async (f) => { try { return { success: true, message: 'no error', data: { value: await f() } }; } catch (e) { return { success: false, message: e.message, data: { name: e.name, code: e.code ?? null } }; } };
    return {
      config: { description: 'Returns the config.', handler: (a) => ({ success: true, message: 'config', data: { config: a.config } }) },
      mutate: { description: 'Tries to change the config.', handler: (a) => attempt(() => { a.config.threshold = 9; a.config.tags.push('b'); return a.config.threshold; }) },
      write: { description: 'Tries a write.', handler: (a) => attempt(() => a.database.query('CREATE (:X)', {}, { mode: 'write' })) },
      read: { description: 'Tries a read.', handler: (a) => attempt(() => a.database.query('RETURN 1', {}, { mode: 'bogus' })) },
      typed: { description: 'Needs n.', params: { type: 'object', required: ['n'], properties: { n: { type: 'integer' }, unit: { type: 'string', default: 'ms' } }, additionalProperties: false }, handler: (a) => ({ success: true, message: 'typed', data: { params: a.params } }) },
      bad: { description: 'Returns no ActionResult.', handler: () => 42 },
      seen: { description: 'Event types seen.', handler: () => ({ success: true, message: 'seen', data: { seen } }) },
    };
  },
};
`;
const BAD_DEFINITION = "export default { name: 'Bad Name', events: ['node.made'], onDatabaseEvent: 3 };\n";

function file(name: string, text: string): string {
  const p = join(tmp, name);
  writeFileSync(p, text);
  return p;
}
const pluginFile = file('parity.mjs', PLUGIN);
const badFile = file('bad.mjs', BAD_DEFINITION);

type Outcome = Record<string, unknown>;
const errorOutcome = (err: unknown): Outcome => ({ threw: (err as { code?: string }).code ?? (err as Error).name, message: (err as Error).message });

/** One daemon per plugins[] entry variant (config, write, database). */
async function daemonFor(entryExtra: string, extraYaml = ''): Promise<RunningDaemon> {
  return startTestDaemon([pluginYaml(pluginFile, entryExtra)], extraYaml);
}

interface Case {
  name: string;
  /** Extra YAML under the plugins[] entry, and the same as kit options. */
  entry?: string;
  kit?: TestKitOptions<Record<string, unknown>>;
  /** A database section for the daemon (an unreachable one is enough: the read-only rule comes first). */
  database?: boolean;
  run: { invoke: string; params?: Record<string, unknown> } | { emit: Record<string, unknown>[] };
  /** Compare codes and error names only: the kit's sentence says what to pass to the kit instead of what to put in the config. */
  codesOnly?: boolean;
}

/** An outcome without its sentences. */
function codes(o: Outcome): Outcome {
  if ('threw' in o) return { threw: o['threw'] };
  const r = o['result'] as { success: boolean; data?: Record<string, unknown> };
  return { success: r.success, name: r.data?.['name'], code: r.data?.['code'] };
}

const DEAD_DATABASE = 'database:\n  uri: bolt://127.0.0.1:1\n  connectTimeoutMs: 200\n';

const CASES: Case[] = [
  { name: 'configSchema defaults are filled', run: { invoke: 'config' } },
  { name: 'a given config value is kept, the others defaulted', entry: 'config: { threshold: 7 }', kit: { config: { threshold: 7 } }, run: { invoke: 'config' } },
  { name: 'the config is frozen, deeply: mutation throws', run: { invoke: 'mutate' } },
  { name: 'action params are validated and defaulted', run: { invoke: 'typed', params: { n: 3 } } },
  { name: 'invalid action params are refused with the failing paths', run: { invoke: 'typed', params: { n: 'three', extra: true } } },
  { name: 'a result that is not an ActionResult fails the action', run: { invoke: 'bad' } },
  { name: 'an unknown action is not found', run: { invoke: 'nope' }, codesOnly: true },
  { name: 'no database: section, no kit database: queries are refused as not configured', run: { invoke: 'write' }, codesOnly: true },
  { name: "a read-only plugin's mode 'write' is refused with ReadOnlyError", database: true, kit: { database: [] }, run: { invoke: 'write' } },
  { name: 'an unknown query mode is refused', database: true, kit: { database: [] }, run: { invoke: 'read' } },
  { name: 'events go through the subscription: node.* only', run: { emit: [{ type: 'node.created' }, { type: 'query.failed' }, { type: 'node.deleted' }] } },
];

async function inDaemon(c: Case): Promise<Outcome> {
  const d = await daemonFor(c.entry ?? '', c.database ? DEAD_DATABASE : '');
  try {
    const p = d.api.plugins()[0]!;
    assert.equal(p.state, 'running', p.reason);
    if ('invoke' in c.run) {
      try {
        return { result: await d.api.invokeAction(`heimdall.parity.${c.run.invoke}`, c.run.params, op) };
      } catch (err) {
        return errorOutcome(err);
      }
    }
    const r = d.api.ingest(c.run.emit, 'http');
    assert.equal(r.accepted, c.run.emit.length);
    await waitFor('the events to be handled', () => d.api.plugins()[0]!.counters.queued === 0);
    return { result: await d.api.invokeAction('heimdall.parity.seen', {}, op) };
  } finally {
    await d.stop();
  }
}

async function inKit(c: Case): Promise<Outcome> {
  const kit = await createTestKit(pluginFile, c.kit ?? {});
  await kit.init();
  if ('invoke' in c.run) {
    try {
      return { result: await kit.invoke(c.run.invoke, c.run.params) };
    } catch (err) {
      return errorOutcome(err);
    }
  }
  for (const e of c.run.emit) await kit.emit(e as { type: 'node.created' });
  return { result: await kit.invoke('seen') };
}

describe('the test kit and the daemon give the same result', () => {
  for (const c of CASES) {
    it(c.name, async () => {
      const [daemon, kit] = [await inDaemon(c), await inKit(c)];
      if (c.codesOnly) assert.deepEqual(codes(kit), codes(daemon));
      else assert.deepEqual(kit, daemon);
    });
  }

  it('a bad definition is refused with the same problems', async () => {
    const d = await startTestDaemon([pluginYaml(badFile)]);
    let daemonReason: string | undefined;
    try {
      daemonReason = d.api.plugins()[0]!.reason;
    } finally {
      await d.stop();
    }
    await assert.rejects(createTestKit(badFile), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'HMD_ERR_INVALID_PLUGIN');
      assert.equal(err.message, daemonReason);
      return true;
    });
  });

  it('a config that does not match configSchema is refused naming each key', async () => {
    const d = await daemonFor('config: { threshold: high, colour: red }');
    let daemonReason: string | undefined;
    try {
      daemonReason = d.api.plugins()[0]!.reason;
      assert.equal(d.api.plugins()[0]!.state, 'failed');
    } finally {
      await d.stop();
    }
    assert.match(daemonReason!, /config\.colour is not a key the configSchema knows; config\.threshold must be integer/);
    await assert.rejects(createTestKit(pluginFile, { config: { threshold: 'high', colour: 'red' } }), (err: Error) => {
      assert.equal(err.message, daemonReason);
      return true;
    });
  });

  it('an event that does not match the event schema is refused with the same reason', async () => {
    const bad = { type: 'node.created', nodeLabels: 'Person', colour: 'red' };
    const d = await daemonFor('');
    let reason: string | undefined;
    try {
      const r = d.api.ingest([bad], 'http');
      reason = r.rejected[0]?.reason;
    } finally {
      await d.stop();
    }
    assert.ok(reason);
    const kit = await createTestKit(pluginFile);
    await assert.rejects(kit.emit(bad as never), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'HMD_ERR_INVALID_EVENT');
      assert.ok(err.message.endsWith(reason!), `${err.message} ends with ${reason}`);
      return true;
    });
  });

  it('each kit built from a path has fresh module state', async () => {
    const a = await createTestKit(pluginFile);
    await a.emit({ type: 'node.created' });
    const b = await createTestKit(pluginFile);
    assert.deepEqual((await b.invoke('seen')).data, { seen: [] });
    assert.deepEqual((await a.invoke('seen')).data, { seen: ['node.created'] });
  });
});
