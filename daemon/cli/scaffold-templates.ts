/**
 * The files `heimdall new plugin <name>` writes: a typed plugin (an event handler, an action, a
 * configSchema with defaults), its package.json with the SDK as a dev dependency, a strict
 * tsconfig.json (TypeScript only), a README and a test with the testing kit that passes as
 * generated. Each template is a function of the plugin's name and where the SDK is.
 */

export interface ScaffoldInput {
  /** The plugin name, [a-z][a-z0-9-]*. */
  name: string;
  /** The dev dependency spec of the SDK, e.g. `file:../heimdall`. */
  sdkSpec: string;
  /** Plain JavaScript (index.mjs with JSDoc types) instead of TypeScript. */
  js: boolean;
}

const camel = (name: string): string => name.replace(/-([a-z0-9])/g, (_m, c: string) => c.toUpperCase());

export function entryFile(input: ScaffoldInput): string {
  return input.js ? 'index.mjs' : 'index.ts';
}

function pluginTs({ name }: ScaffoldInput): string {
  return `import { definePlugin } from 'heimdall/sdk';

/** This plugin's settings (plugins[].config in heimdall.config.yaml), checked by configSchema below. */
interface Config {
  /** Label of the nodes to count. */
  label: string;
  /** Send a notification every this many new nodes. */
  every: number;
}

// Module state lives as long as the worker: a crash restarts the plugin with fresh state.
let created = 0;

export default definePlugin<Config>({
  name: '${name}',
  version: '0.1.0',
  description: 'Counts new nodes with a label and tells operators every so many.',
  events: ['node.created'],
  configSchema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      label: { type: 'string', minLength: 1, default: 'Person' },
      every: { type: 'integer', minimum: 1, default: 10 },
    },
  },
  async init(ctx) {
    ctx.log.info(\`The ${name} plugin counts new \${ctx.config.label} nodes.\`);
  },
  async onDatabaseEvent(event, ctx) {
    if (!event.nodeLabels?.includes(ctx.config.label)) return;
    created++;
    if (created % ctx.config.every === 0) {
      await ctx.bifrost.sendNotification('info', \`\${created} new \${ctx.config.label} nodes\`, \`The ${name} plugin has seen \${created} new \${ctx.config.label} nodes since it started.\`, { created });
    }
  },
  actions() {
    return {
      count: {
        description: 'Reports how many nodes with the label were created since the plugin started; reset: true starts again from 0.',
        params: { type: 'object', properties: { reset: { type: 'boolean', default: false } }, additionalProperties: false },
        handler: (actx) => {
          const seen = created;
          if (actx.params['reset'] === true) created = 0;
          return { success: true, message: \`\${seen} new \${actx.config.label} nodes.\`, data: { created: seen } };
        },
      },
    };
  },
});
`;
}

function pluginJs({ name }: ScaffoldInput): string {
  return `import { definePlugin } from 'heimdall/sdk';

/**
 * This plugin's settings (plugins[].config in heimdall.config.yaml), checked by configSchema below.
 * @typedef {{ label: string, every: number }} Config
 */

// Module state lives as long as the worker: a crash restarts the plugin with fresh state.
let created = 0;

export default definePlugin(/** @type {import('heimdall/sdk').PluginDefinition<Config>} */ ({
  name: '${name}',
  version: '0.1.0',
  description: 'Counts new nodes with a label and tells operators every so many.',
  events: ['node.created'],
  configSchema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      label: { type: 'string', minLength: 1, default: 'Person' },
      every: { type: 'integer', minimum: 1, default: 10 },
    },
  },
  async init(ctx) {
    ctx.log.info(\`The ${name} plugin counts new \${ctx.config.label} nodes.\`);
  },
  async onDatabaseEvent(event, ctx) {
    if (!event.nodeLabels?.includes(ctx.config.label)) return;
    created++;
    if (created % ctx.config.every === 0) {
      await ctx.bifrost.sendNotification('info', \`\${created} new \${ctx.config.label} nodes\`, \`The ${name} plugin has seen \${created} new \${ctx.config.label} nodes since it started.\`, { created });
    }
  },
  actions() {
    return {
      count: {
        description: 'Reports how many nodes with the label were created since the plugin started; reset: true starts again from 0.',
        params: { type: 'object', properties: { reset: { type: 'boolean', default: false } }, additionalProperties: false },
        handler: (actx) => {
          const seen = created;
          if (actx.params['reset'] === true) created = 0;
          return { success: true, message: \`\${seen} new \${actx.config.label} nodes.\`, data: { created: seen } };
        },
      },
    };
  },
}));
`;
}

function testFile(input: ScaffoldInput): string {
  const entry = entryFile(input);
  const v = camel(input.name);
  return `// Runs the plugin in the Heimdall testing kit, which applies the daemon's own checks (configSchema
// defaults, params, the event schema, the read-only rule). Each createTestKit(path) imports the
// plugin afresh, so every test starts with fresh module state.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ErrorCode } from 'heimdall/sdk';
import { createTestKit } from 'heimdall/sdk/testing';

const plugin = new URL('../${entry}', import.meta.url);

test('${input.name} notifies every "every" new nodes with its label', async () => {
  const ${v} = await createTestKit(plugin, { config: { every: 2 } });
  await ${v}.init();
  await ${v}.emit({ type: 'node.created', nodeLabels: ['Person'] });
  await ${v}.emit({ type: 'node.created', nodeLabels: ['Order'] });
  assert.equal(${v}.calls.notifications.length, 0);
  await ${v}.emit({ type: 'node.created', nodeLabels: ['Person'] });
  assert.equal(${v}.calls.notifications.length, 1);
  assert.equal(${v}.calls.notifications[0]?.title, '2 new Person nodes');
});

test('${input.name}: the count action reports and resets', async () => {
  const ${v} = await createTestKit(plugin);
  await ${v}.emit({ type: 'node.created', nodeLabels: ['Person'] });
  assert.equal((await ${v}.invoke('count', { reset: true })).data?.created, 1);
  assert.equal((await ${v}.invoke('count')).data?.created, 0);
  // params are checked against the action's schema, as the daemon checks them
  await assert.rejects(${v}.invoke('count', { reset: 'yes' }), { code: ErrorCode.HMD_ERR_INVALID_PARAMS });
});

test('${input.name}: a config the configSchema does not allow is refused, as the daemon refuses it', async () => {
  await assert.rejects(createTestKit(plugin, { config: { every: 0 } }), /config\\.every must be >= 1/);
});
`;
}

function packageJson(input: ScaffoldInput): string {
  const pkg = {
    name: input.name,
    version: '0.1.0',
    private: true,
    description: `A Heimdall plugin: ${input.name}.`,
    type: 'module',
    main: entryFile(input),
    scripts: {
      test: 'node --test test/',
      ...(input.js ? {} : { typecheck: 'tsc -p tsconfig.json' }),
    },
    devDependencies: { heimdall: input.sdkSpec },
  };
  return `${JSON.stringify(pkg, null, 2)}\n`;
}

function tsconfig(): string {
  const cfg = {
    compilerOptions: {
      target: 'ES2022',
      module: 'NodeNext',
      moduleResolution: 'NodeNext',
      strict: true,
      noEmit: true,
      skipLibCheck: true,
    },
    include: ['index.ts'],
  };
  return `${JSON.stringify(cfg, null, 2)}\n`;
}

function readme(input: ScaffoldInput): string {
  const entry = entryFile(input);
  return `# ${input.name}

A Heimdall plugin: it counts new nodes with a label (\`config.label\`, default \`Person\`) and sends a
Bifrost notification every \`config.every\` of them (default 10). Its action
\`heimdall.${input.name}.count\` reports the count (\`{ "reset": true }\` starts again from 0).

## Use it

Add it to the daemon's \`heimdall.config.yaml\` (the path is relative to that file):

\`\`\`yaml
plugins:
  - path: ./${input.name}
    config:
      label: Person
      every: 10
\`\`\`

The daemon gives the plugin its own \`heimdall/sdk\` wherever the folder is; the dev dependency in
package.json is only for the tests${input.js ? '' : ' and the types'}.

## Develop it

    npm install            # links the SDK (a file: dependency, no download)
    npm test               # the tests in test/, with the Heimdall testing kit
${input.js ? '' : '    npx tsc -p tsconfig.json   # type check (strict); needs TypeScript: npm install -D typescript\n'}
\`${entry}\` is the plugin; \`test/${input.name}.test.mjs\` runs it in the testing kit, which applies
the daemon's own checks (configSchema defaults and validation, action params, the event schema,
read-only database access unless \`write: true\`).
`;
}

/** Every file of the scaffold, relative to the plugin folder. */
export function scaffoldFiles(input: ScaffoldInput): Record<string, string> {
  return {
    [entryFile(input)]: input.js ? pluginJs(input) : pluginTs(input),
    'package.json': packageJson(input),
    ...(input.js ? {} : { 'tsconfig.json': tsconfig() }),
    'README.md': readme(input),
    [`test/${input.name}.test.mjs`]: testFile(input),
  };
}
