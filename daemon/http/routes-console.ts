/**
 * The operator console: GET /console (the page) and GET /console/assets/{file} (its script,
 * stylesheet and icon), built by `npm run build` into dist/console/ from console/.
 *
 * Open without a token, like /healthz: the page and its assets hold no data. Everything the page
 * shows it fetches from /v1, with the token the operator types in (kept in the tab's
 * sessionStorage and sent as a bearer header), so the page can do nothing the API does not allow.
 *
 * Only the files found in the build folder are served (looked up by exact name, so no path from
 * a request ever reaches the file system), each gzipped once in memory. The page carries a strict
 * Content-Security-Policy: scripts, styles, images and connections from this origin only, no
 * inline script or style, no frames, no forms posting elsewhere.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { HttpError } from './errors.js';
import { ErrorCode } from '../../sdk/errors.js';

/** The page's Content-Security-Policy. */
export const CONSOLE_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "font-src 'self'",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** dist/console/ beside dist/daemon/ (this file is dist/daemon/http/routes-console.js once built). */
export const DEFAULT_CONSOLE_DIR = fileURLToPath(new URL('../../console/', import.meta.url));

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.woff2': 'font/woff2',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
};

interface Asset {
  type: string;
  body: Buffer;
  gzip: Buffer;
}

interface Built {
  /** index.html's modification time: a rebuild while the daemon runs is picked up by the next page load. */
  mtimeMs: number;
  index: Asset;
  assets: Map<string, Asset>;
}

function load(path: string): Asset {
  const body = readFileSync(path);
  return { type: TYPES[extname(path)] ?? 'application/octet-stream', body, gzip: gzipSync(body, { level: 9 }) };
}

/** Reads the build once; undefined while there is none (then every request looks again). */
function readBuild(dir: string): Built | undefined {
  const indexPath = join(dir, 'index.html');
  if (!existsSync(indexPath)) return undefined;
  const assets = new Map<string, Asset>();
  const assetDir = join(dir, 'assets');
  if (existsSync(assetDir)) {
    for (const name of readdirSync(assetDir)) {
      const p = join(assetDir, name);
      if (statSync(p).isFile()) assets.set(name, load(p));
    }
  }
  return { mtimeMs: statSync(indexPath).mtimeMs, index: load(indexPath), assets };
}

function send(request: FastifyRequest, reply: FastifyReply, a: Asset, cache: string): FastifyReply {
  const accepts = String(request.headers['accept-encoding'] ?? '');
  const gz = /\bgzip\b/.test(accepts);
  reply
    .header('content-type', a.type)
    .header('cache-control', cache)
    .header('vary', 'accept-encoding')
    .header('x-content-type-options', 'nosniff');
  if (gz) reply.header('content-encoding', 'gzip');
  return reply.send(gz ? a.gzip : a.body);
}

export function registerConsoleRoutes(app: FastifyInstance, opts: { dir?: string } = {}): void {
  const dir = opts.dir ?? DEFAULT_CONSOLE_DIR;
  let built: Built | undefined;
  const current = (fresh = false): Built => {
    if (built && fresh && (!existsSync(join(dir, 'index.html')) || statSync(join(dir, 'index.html')).mtimeMs !== built.mtimeMs)) built = undefined;
    built ??= readBuild(dir);
    if (!built) {
      throw new HttpError(503, ErrorCode.HMD_ERR_NOT_READY,
        `The console is not built: ${join(dir, 'index.html')} does not exist. Run \`npm run build\` (it builds the daemon and the console), then reload the page.`);
    }
    return built;
  };

  const page = async (request: FastifyRequest, reply: FastifyReply) => {
    const b = current(true);
    reply
      .header('content-security-policy', CONSOLE_CSP)
      .header('referrer-policy', 'no-referrer')
      .header('x-frame-options', 'DENY');
    return send(request, reply, b.index, 'no-cache');
  };
  app.get('/console', page);
  app.get('/console/', page);

  app.get<{ Params: { file: string } }>('/console/assets/:file', async (request, reply) => {
    const a = current().assets.get(request.params.file);
    if (!a) {
      throw new HttpError(404, ErrorCode.HMD_ERR_NOT_FOUND,
        `The console has no asset named ${request.params.file}; reload /console to get the names of the current build.`,
        { file: request.params.file });
    }
    // Asset names carry a content hash, so a cached copy never goes stale.
    return send(request, reply, a, 'public, max-age=31536000, immutable');
  });
}
