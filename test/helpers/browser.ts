/**
 * A real browser for the console's tests and benchmark: Debian's Chromium (/usr/bin/chromium, or
 * $HEIMDALL_CHROMIUM) driven by playwright-core. It is never downloaded and a test never skips:
 * when Chromium cannot start, launching throws with what to install.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type ConsoleMessage, type Page } from 'playwright-core';
import { REPO_ROOT } from './paths.js';

export const CHROMIUM = process.env.HEIMDALL_CHROMIUM || '/usr/bin/chromium';
export const CHROMIUM_FLAGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run',
];

/** Where the tests put their screenshots (gitignored). */
export const SCREENSHOTS = join(REPO_ROOT, 'test-output', 'console');

export async function launchBrowser(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`Chromium is not at ${CHROMIUM}; install Debian's package (apt-get install -y chromium) or set HEIMDALL_CHROMIUM to its path. The console tests need a real browser and do not skip.`);
  }
  try {
    return await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_FLAGS, headless: true });
  } catch (err) {
    throw new Error(`Chromium at ${CHROMIUM} did not start: ${(err as Error).message}`, { cause: err });
  }
}

export interface ConsolePage {
  page: Page;
  context: BrowserContext;
  /** Console errors and uncaught exceptions of the page so far. */
  errors: string[];
  /** Every request the page made: method, URL, and its Authorization header. */
  requests: Array<{ method: string; url: string; authorization: string | undefined }>;
  screenshot(name: string): Promise<string>;
  close(): Promise<void>;
}

export async function openPage(browser: Browser, url: string, opts: { width?: number; height?: number; scheme?: 'light' | 'dark' } = {}): Promise<ConsolePage> {
  const context = await browser.newContext({ viewport: { width: opts.width ?? 1280, height: opts.height ?? 900 }, colorScheme: opts.scheme ?? 'light' });
  const page = await context.newPage();
  const errors: string[] = [];
  const requests: ConsolePage['requests'] = [];
  page.on('console', (m: ConsoleMessage) => {
    if (m.type() === 'error') errors.push(`console: ${m.text()} (${m.location().url})`);
  });
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('request', (r) => requests.push({ method: r.method(), url: r.url(), authorization: r.headers()['authorization'] }));
  await page.goto(url);
  return {
    page, context, errors, requests,
    async screenshot(name: string) {
      mkdirSync(SCREENSHOTS, { recursive: true });
      const path = join(SCREENSHOTS, `${name}.png`);
      // The whole page, drawn as tall as it is: rows out of view are not painted (the page's
      // content-visibility), so a full-page capture of a short window would show them empty.
      const size = page.viewportSize() ?? { width: 1280, height: 900 };
      const height = Math.min(6000, Math.max(size.height, (await page.evaluate('document.documentElement.scrollHeight')) as number));
      await page.setViewportSize({ width: size.width, height });
      await page.evaluate('new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))');
      await page.screenshot({ path });
      await page.setViewportSize(size);
      return path;
    },
    close: () => context.close(),
  };
}
