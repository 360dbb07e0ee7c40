/**
 * Serves the built web console (console/ -> dist/console by `npm run build:console`) at /console.
 * Static files only: the console talks to the admin API like any other client, so serving it needs
 * no token. Hashed assets are cached for good; index.html is revalidated so a new build shows at once.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, extname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Context, Hono } from 'hono';

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.webp': 'image/webp',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
};

/** The console only loads its own files and talks to its own origin; a page holding the admin token. */
const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy':
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
};

/** dist/console under the package root (the first folder up from here with a package.json). */
export function defaultConsoleDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  return join(dir, 'dist', 'console');
}

/**
 * The file a request path names inside `root`, or undefined when the path is not a plain relative
 * file path (`..`, `.`, empty or hidden segments, encoded slashes or NULs): nothing outside root.
 */
export function resolveAsset(root: string, relative: string): string | undefined {
  if (relative === '') return join(root, 'index.html');
  const segments: string[] = [];
  for (const raw of relative.split('/')) {
    let segment: string;
    try {
      segment = decodeURIComponent(raw);
    } catch {
      return undefined;
    }
    if (segment === '' || segment.startsWith('.') || /[/\\\0]/.test(segment)) return undefined;
    segments.push(segment);
  }
  const file = resolve(root, ...segments);
  return file.startsWith(root + sep) ? file : undefined;
}

function notFound(c: Context, what: string): Response {
  return c.text(`Not found: ${what}`, 404, {
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
  });
}

export function mountConsole(app: Hono, dir: string = defaultConsoleDir()): void {
  const root = resolve(dir);
  const serve = async (c: Context): Promise<Response> => {
    const relative = c.req.path.replace(/^\/console\/?/, '');
    const file = resolveAsset(root, relative);
    if (!file) return notFound(c, c.req.path);
    let bytes: Buffer;
    try {
      bytes = await readFile(file);
    } catch {
      if (relative === '') {
        return c.text('The console is not built: run `npm run build:console`.', 503, {
          'cache-control': 'no-store',
        });
      }
      return notFound(c, c.req.path);
    }
    const etag = `"${createHash('sha1').update(bytes).digest('base64url')}"`;
    // Vite puts a content hash in every file name under assets/; everything else may change.
    const cacheControl = relative.startsWith('assets/') ? 'public, max-age=31536000, immutable' : 'no-cache';
    const headers: Record<string, string> = {
      ...SECURITY_HEADERS,
      'content-type': CONTENT_TYPES[extname(file).toLowerCase()] ?? 'application/octet-stream',
      'cache-control': cacheControl,
      etag,
    };
    if (c.req.header('if-none-match') === etag) return c.body(null, 304, headers);
    return c.body(new Uint8Array(bytes), 200, headers);
  };
  app.get('/console', serve);
  app.get('/console/*', serve);
}
