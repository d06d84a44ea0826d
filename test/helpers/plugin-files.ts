/**
 * Plugin modules written into a test's own folder, for tests that add, change, restart and edit
 * plugins while the daemon runs: `gatedPlugin(name)` records what it handles, can hold every event
 * until its `release` action is called (config.hold), and reports the config tag it runs with and
 * an id of its module instance (a restarted worker imports the module afresh, so the id changes).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface Seen {
  instance: string;
  tag: string | null;
  version: string;
  seen: Array<{ n: number; tag: string | null }>;
}

/** The module text; `version` shows in its `seen` answer (for edits a test makes). */
export function gatedPluginSource(name: string, version = 'v1'): string {
  return `// written by the test: ${name} ${version}
const instance = Math.random().toString(36).slice(2);
const seen = [];
let release = () => undefined;
let gate = Promise.resolve();
export default {
  name: ${JSON.stringify(name)},
  version: '1.0.0',
  configSchema: { type: 'object', properties: { hold: { type: 'boolean' }, tag: { type: 'string' } }, additionalProperties: false },
  init(ctx) {
    if (ctx.config.hold) gate = new Promise((r) => (release = r));
  },
  async onDatabaseEvent(event, ctx) {
    await gate;
    seen.push({ n: event.properties?.n ?? null, tag: ctx.config.tag ?? null });
  },
  actions() {
    return {
      seen: {
        description: 'What this module instance handled, its config tag and its version.',
        handler: (actx) => ({ success: true, message: seen.length + ' events', data: { instance, tag: actx.config.tag ?? null, version: ${JSON.stringify(version)}, seen } }),
      },
      release: {
        description: 'Lets the held events through.',
        handler: () => {
          release();
          return { success: true, message: 'released' };
        },
      },
    };
  },
};
`;
}

/** Writes `<dir>/<name>.mjs` and returns its path. */
export function writeGatedPlugin(dir: string, name: string, version = 'v1'): string {
  const file = join(dir, `${name}.mjs`);
  writeFileSync(file, gatedPluginSource(name, version));
  return file;
}

/** One plugins[] entry in YAML (two spaces in, under `plugins:`). */
export function entryYaml(path: string, config: Record<string, unknown> = {}, extra = ''): string {
  return `  - path: ${JSON.stringify(path)}\n    config: ${JSON.stringify(config)}\n${extra ? `${extra.split('\n').filter(Boolean).map((l) => `    ${l}`).join('\n')}\n` : ''}`;
}

/** Events numbered `from`..`from + count - 1` (properties.n), as POST /v1/events takes them. */
export function numbered(from: number, count: number): Array<{ type: string; properties: { n: number } }> {
  return Array.from({ length: count }, (_, i) => ({ type: 'node.created', properties: { n: from + i } }));
}
