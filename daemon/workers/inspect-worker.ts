/**
 * A one-shot worker for `heimdall validate`: imports one plugin module the way a plugin worker
 * does (with `heimdall/sdk` mapped to this daemon's SDK), runs the definition checks, the actions
 * check and the config check against its configSchema, posts what it found and is terminated by
 * its parent. init() is not run: validate does not start plugins.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { serializeError, type SerializedError } from '../../sdk/index.js';
import { checkPluginDefinition, collectActions } from '../../sdk/checks/definition.js';
import { checkPluginConfig, type ConfigIssue } from '../../sdk/checks/plugin-config.js';
import { importPluginModule } from './plugin-loader.js';

export interface InspectRequest {
  modulePath: string;
  config: Record<string, unknown>;
}

/** A failure to load or check the module; InvalidPluginError's details.problems lists each definition problem. */
export type InspectError = SerializedError & { details?: { problems?: string[] } };

export type InspectAnswer =
  | { ok: true; name: string; events?: string[]; configKeys: string[]; issues: ConfigIssue[] }
  | { ok: false; error: InspectError };

async function inspect(req: InspectRequest): Promise<InspectAnswer> {
  try {
    const plugin = checkPluginDefinition(await importPluginModule(req.modulePath), req.modulePath);
    collectActions(plugin);
    const { issues } = checkPluginConfig(plugin, req.config);
    const props = (plugin.configSchema as { properties?: Record<string, unknown> } | undefined)?.properties;
    return { ok: true, name: plugin.name, ...(plugin.events ? { events: [...plugin.events] } : {}), configKeys: Object.keys(props ?? {}), issues };
  } catch (err) {
    return { ok: false, error: serializeError(err) as InspectError };
  }
}

parentPort!.postMessage(await inspect(workerData as InspectRequest));
