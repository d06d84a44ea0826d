/**
 * ctx.database.query for plugins. Read-only plugins (the default) run every statement in a READ
 * transaction, so the server refuses writes; asking for mode 'write' fails at once with a clear
 * error. Plugins with `write: true` send writes (mode 'write' or unspecified) through the
 * remediation executor, which classifies, applies the policy and audits them.
 */
import { ReadOnlyError, type Row } from '../../sdk/index.js';
import type { PluginDatabase } from '../workers/host-rpc.js';
import type { PluginHost } from '../workers/plugin-host.js';
import type { Database } from './database.js';
import type { RemediationExecutor } from './remediation-executor.js';

export function makePluginDatabase(db: Database, executor: RemediationExecutor): PluginDatabase {
  return {
    async query(host: PluginHost, cypher: string, params: Record<string, unknown>, opts: Record<string, unknown>, origin): Promise<Row[]> {
      const mode = opts.mode;
      if (mode !== undefined && mode !== 'read' && mode !== 'write') {
        throw new ReadOnlyError(`ctx.database.query was called with mode ${JSON.stringify(mode)}; use 'read' or 'write'.`);
      }
      const database = typeof opts.database === 'string' ? opts.database : undefined;
      const timeoutMs = typeof opts.timeoutMs === 'number' ? opts.timeoutMs : undefined;
      const metadata = { plugin: host.name, ...(origin.action ? { action: origin.action } : {}), ...(origin.invocationId ? { invocationId: origin.invocationId } : {}) };
      if (!host.cfg.write) {
        if (mode === 'write') {
          throw new ReadOnlyError(`The plugin ${host.name} is read-only, so ctx.database.query cannot run in write mode. Grant write: true in its plugins[] entry to allow writes (they go through the remediation policy).`);
        }
        const r = await db.run(cypher, params, { mode: 'read', metadata, ...(database ? { database } : {}), ...(timeoutMs ? { timeoutMs } : {}) });
        return r.rows;
      }
      if (mode === 'read') {
        const r = await db.run(cypher, params, { mode: 'read', metadata, ...(database ? { database } : {}), ...(timeoutMs ? { timeoutMs } : {}) });
        return r.rows;
      }
      return executor.pluginWrite(host.name, cypher, params, {
        invocationId: origin.invocationId ?? `plugin:${host.name}`,
        action: origin.action ? `heimdall.${host.name}.${origin.action}` : 'ctx.database.query',
        trigger: { kind: 'plugin', plugin: host.name },
        ...(database ? { database } : {}),
      });
    },
  };
}
