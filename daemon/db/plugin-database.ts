/**
 * ctx.database.query for plugins. Reads (every statement of a read-only plugin, and mode 'read')
 * first pass the statement policy for reading (statement-policy.ts: procedures and functions only
 * by name, no LOAD CSV, no commands but SHOW INDEXES/CONSTRAINTS), then run in a READ transaction,
 * so the server refuses writes; asking for mode 'write' without `write: true` fails at once with a
 * clear error. Plugins with `write: true` send writes (mode 'write' or unspecified) through the
 * remediation executor, which screens, judges the transaction's counters and audits them.
 */
import type { QueryOptions, Row } from '../../sdk/index.js';
import { checkQueryMode } from '../../sdk/checks/query-mode.js';
import type { Database } from './database.js';
import type { RemediationExecutor } from './remediation-executor.js';
import { refusalError } from './statement-policy.js';

/** The plugin a query runs for: its name and whether its plugins[] entry grants writes. */
export interface QueryingPlugin {
  readonly name: string;
  readonly write: boolean;
}

/** Where inside the plugin the query was made: set when it comes from an action handler. */
export interface QueryOrigin {
  invocationId?: string;
  action?: string;
}

/** ctx.database.query for plugins; it fits the PluginDatabase port of the workers' host dispatcher. */
export interface PluginQueries {
  query(plugin: QueryingPlugin, cypher: string, params: Record<string, unknown>, opts: QueryOptions, origin: QueryOrigin): Promise<Row[]>;
}

export function makePluginDatabase(db: Database, executor: RemediationExecutor): PluginQueries {
  return {
    async query(plugin, cypher, params, opts, origin): Promise<Row[]> {
      // the read-only rule, shared with the testing kit; opts comes from plugin code and is checked there
      const mode = checkQueryMode(plugin, opts);
      const database = typeof opts.database === 'string' ? opts.database : undefined;
      const timeoutMs = typeof opts.timeoutMs === 'number' ? opts.timeoutMs : undefined;
      const metadata = { plugin: plugin.name, ...(origin.action ? { action: origin.action } : {}), ...(origin.invocationId ? { invocationId: origin.invocationId } : {}) };
      const read = async (): Promise<Row[]> => {
        const check = await executor.statements.check(cypher, params, { purpose: 'read', ...(database ? { database } : {}) });
        if (!check.ok) throw refusalError(`ctx.database.query of the plugin ${plugin.name}`, check.refusal);
        const r = await db.run(cypher, params, { mode: 'read', metadata, ...(database ? { database } : {}), ...(timeoutMs ? { timeoutMs } : {}) });
        return r.rows;
      };
      if (!plugin.write) {
        return read();
      }
      if (mode === 'read') return read();
      return executor.pluginWrite(plugin.name, cypher, params, {
        invocationId: origin.invocationId ?? `plugin:${plugin.name}`,
        action: origin.action ? `heimdall.${plugin.name}.${origin.action}` : 'ctx.database.query',
        trigger: { kind: 'plugin', plugin: plugin.name },
        ...(database ? { database } : {}),
      });
    },
  };
}
