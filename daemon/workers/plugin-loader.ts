/**
 * Loads a plugin module inside a worker: `heimdall/sdk` is mapped to the daemon's own SDK first
 * (sdk-resolution.ts), then the module is imported and its default export checked. The import and
 * the definition checks are the SDK's (sdk/checks/), shared with the testing kit.
 */
import { importPluginModule as importModule } from '../../sdk/checks/module-import.js';
import { installSdkResolution } from './sdk-resolution.js';

export { checkPluginDefinition } from '../../sdk/checks/definition.js';

/** Imports the plugin module with `heimdall/sdk` resolving to this daemon's SDK; returns its default export. */
export async function importPluginModule(modulePath: string): Promise<unknown> {
  installSdkResolution();
  return importModule(modulePath);
}
