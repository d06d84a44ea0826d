// @ts-check
/**
 * Builds the operator console (console/) into dist/console/, served by the daemon at /console.
 * Fails the build when the page would break its Content-Security-Policy (an inline script or
 * style, an asset inlined as a data: URL) or when the files together pass the budget of 150 KB
 * gzipped.
 */
import { gzipSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

export const BUDGET_GZIP_BYTES = 150 * 1024;

/** @returns {import('vite').Plugin} */
function guard() {
  return {
    name: 'heimdall-console-guard',
    apply: 'build',
    enforce: 'post',
    generateBundle(_options, bundle) {
      let total = 0;
      const rows = [];
      for (const [name, item] of Object.entries(bundle)) {
        const source = item.type === 'chunk' ? item.code : item.source;
        const gz = gzipSync(typeof source === 'string' ? Buffer.from(source) : Buffer.from(source), { level: 9 }).length;
        total += gz;
        rows.push(`${name} ${gz} B gzipped`);
        if (name.endsWith('.html')) {
          const html = String(source);
          const inlineScript = /<script\b(?![^>]*\bsrc=)[^>]*>/i.exec(html);
          if (inlineScript) this.error(`index.html has an inline script (${inlineScript[0]}); the page's CSP forbids it.`);
          if (/<style\b/i.test(html) || /\sstyle=/i.test(html)) this.error('index.html has an inline style; the page\'s CSP forbids it.');
          if (/(?:src|href)="data:/i.test(html)) this.error('index.html inlines an asset as a data: URL; the page\'s CSP forbids it.');
        }
      }
      if (total > BUDGET_GZIP_BYTES) {
        this.error(`The console is ${total} bytes gzipped, over its budget of ${BUDGET_GZIP_BYTES}: ${rows.join(', ')}.`);
      }
      console.log(`console bundle: ${total} bytes gzipped in all (budget ${BUDGET_GZIP_BYTES}): ${rows.join(', ')}`);
    },
  };
}

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/console/',
  publicDir: false,
  logLevel: 'warn',
  clearScreen: false,
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: fileURLToPath(new URL('../dist/console/', import.meta.url)),
    emptyOutDir: true,
    assetsDir: 'assets',
    // Never inline an asset as a data: URL (the CSP allows images from 'self' only).
    assetsInlineLimit: 0,
    // No polyfill snippet for modulepreload: one chunk, and no inline script.
    modulePreload: { polyfill: false },
    cssCodeSplit: false,
    target: 'es2022',
    sourcemap: false,
    reportCompressedSize: false,
  },
  plugins: [guard()],
});
