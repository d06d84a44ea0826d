/** The SDK modules the daemon hands to plugins, by the specifier a plugin imports: this daemon's own dist/sdk files. */
import { fileURLToPath } from 'node:url';

const at = (rel: string): { url: string; file: string } => {
  const url = new URL(rel, import.meta.url).href;
  return { url, file: fileURLToPath(url) };
};

export const SDK_MODULES: Readonly<Record<string, { url: string; file: string }>> = Object.freeze({
  'heimdall/sdk': at('../../sdk/index.js'),
  'heimdall/sdk/testing': at('../../sdk/testing.js'),
});
