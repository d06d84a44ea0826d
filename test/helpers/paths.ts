/** Paths of the repository from compiled tests (dist/test/...). */
import { fileURLToPath } from 'node:url';
import { resolve } from 'node:path';

export const REPO_ROOT = resolve(fileURLToPath(new URL('../../../', import.meta.url)));
export const FIXTURE_PLUGINS = resolve(REPO_ROOT, 'test/fixtures/plugins');
export const CLI = resolve(REPO_ROOT, 'dist/daemon/cli/main.js');

export function fixturePlugin(file: string): string {
  return resolve(FIXTURE_PLUGINS, file);
}
