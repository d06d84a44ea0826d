/**
 * Module resolution hook (node:module register) of plugin workers: `heimdall/sdk` and
 * `heimdall/sdk/testing`, imported from a plugin anywhere on disk, resolve to this daemon's own
 * SDK, as VS Code hands its extensions their `vscode` module. Every other specifier resolves as
 * usual. Runs on Node's module-loader thread; see sdk-resolution.ts.
 */
import { SDK_MODULES } from './sdk-modules.js';

interface ResolveContext {
  parentURL?: string;
  conditions: string[];
}
type NextResolve = (specifier: string, context: ResolveContext) => Promise<{ url: string; format?: string | null; shortCircuit?: boolean }>;

export async function resolve(specifier: string, context: ResolveContext, nextResolve: NextResolve): Promise<{ url: string; format?: string | null; shortCircuit?: boolean }> {
  const target = SDK_MODULES[specifier];
  if (target) return { url: target.url, format: 'module', shortCircuit: true };
  return nextResolve(specifier, context);
}
