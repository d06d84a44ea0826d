/**
 * Makes `heimdall/sdk` resolve to the daemon's own SDK for every plugin module a worker imports,
 * wherever the plugin lives on disk: an ES module resolve hook (sdk-resolve-hook.ts) for `import`,
 * and the same mapping for `require` (tsx loads a `.ts` plugin outside a `"type": "module"`
 * package as CommonJS). Installed once per worker thread, before the plugin is imported.
 */
import Module, { register } from 'node:module';
import { SDK_MODULES } from './sdk-modules.js';

type ResolveFilename = (request: string, parent: unknown, isMain: boolean, options?: unknown) => string;

let installed = false;

export function installSdkResolution(): void {
  if (installed) return;
  installed = true;
  register(new URL('./sdk-resolve-hook.js', import.meta.url));
  const cjs = Module as unknown as { _resolveFilename: ResolveFilename };
  const original = cjs._resolveFilename;
  cjs._resolveFilename = function resolveFilename(this: unknown, request, parent, isMain, options) {
    const target = SDK_MODULES[request];
    if (target) return target.file;
    return original.call(this, request, parent, isMain, options);
  };
}
