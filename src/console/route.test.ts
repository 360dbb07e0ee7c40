/**
 * Serving the built console at /console: content types, caching, index for /console and /console/,
 * 404 for unknown files, and nothing outside the console folder whatever the path says.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type ServerType, serve } from '@hono/node-server';
import { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultConsoleDir, mountConsole, resolveAsset } from './route.js';

const INDEX =
  '<!doctype html><title>console</title><script type="module" src="/console/assets/app-1a2b3c.js"></script>';
const SCRIPT = 'console.log("console app")';
const SECRET = 'outside-the-console-folder';

let dir: string;
let root: string;
let app: Hono;
let server: ServerType;
let port: number;

/** A request with the path exactly as written (fetch would normalise `..` away). */
function rawGet(path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, method: 'GET' }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => {
        body += chunk;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'llmgw-console-'));
  root = join(dir, 'console');
  mkdirSync(join(root, 'assets'), { recursive: true });
  writeFileSync(join(root, 'index.html'), INDEX);
  writeFileSync(join(root, 'assets', 'app-1a2b3c.js'), SCRIPT);
  writeFileSync(join(root, 'assets', 'app-1a2b3c.css'), 'body{margin:0}');
  writeFileSync(join(root, '.env'), SECRET);
  writeFileSync(join(dir, 'secret.txt'), SECRET);
  writeFileSync(join(dir, 'console-other.txt'), SECRET);
  app = new Hono();
  mountConsole(app, root);
  app.notFound((c) => c.text('no route', 404));
  await new Promise<void>((resolve) => {
    server = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 }, () => resolve());
  });
  port = (server.address() as AddressInfo).port;
});

afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
  rmSync(dir, { recursive: true, force: true });
});

describe('console assets', () => {
  it('answers /console and /console/ with index.html, revalidated on every load', async () => {
    for (const path of ['/console', '/console/']) {
      const res = await app.request(path);
      expect(res.status, path).toBe(200);
      expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
      expect(res.headers.get('cache-control')).toBe('no-cache');
      expect(res.headers.get('content-security-policy')).toContain("script-src 'self'");
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      expect(await res.text()).toBe(INDEX);
    }
  });

  it('serves hashed assets with their content type, cached for good', async () => {
    const js = await app.request('/console/assets/app-1a2b3c.js');
    expect(js.status).toBe(200);
    expect(js.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(js.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(await js.text()).toBe(SCRIPT);
    const css = await app.request('/console/assets/app-1a2b3c.css');
    expect(css.headers.get('content-type')).toBe('text/css; charset=utf-8');
  });

  it('answers 304 to a matching If-None-Match', async () => {
    const first = await app.request('/console/');
    const etag = first.headers.get('etag');
    expect(etag).toMatch(/^".+"$/);
    const again = await app.request('/console/', { headers: { 'if-none-match': etag ?? '' } });
    expect(again.status).toBe(304);
    expect(await again.text()).toBe('');
    const stale = await app.request('/console/', { headers: { 'if-none-match': '"other"' } });
    expect(stale.status).toBe(200);
  });

  it('answers 404 for unknown files and folders', async () => {
    for (const path of [
      '/console/nope.js',
      '/console/assets/',
      '/console/assets/missing.css',
      '/console/assets',
    ]) {
      const res = await app.request(path);
      expect(res.status, path).toBe(404);
    }
  });

  it('never serves a file outside the console folder, nor a hidden one', async () => {
    const attempts = [
      '/console/../secret.txt',
      '/console/..%2fsecret.txt',
      '/console/..%2Fsecret.txt',
      '/console/%2e%2e/secret.txt',
      '/console/%2e%2e%2fsecret.txt',
      '/console/assets/..%2f..%2fsecret.txt',
      '/console/assets/%2e%2e/%2e%2e/secret.txt',
      '/console/..%5csecret.txt',
      '/console/%252e%252e%252fsecret.txt',
      '/console/.env',
      '/console/%2eenv',
      '/console/index.html%00.js',
      '/console-other.txt',
      '/console/%2fetc%2fpasswd',
      '/console//etc/passwd',
    ];
    for (const path of attempts) {
      const res = await rawGet(path);
      expect(res.status, path).toBe(404);
      expect(res.body, path).not.toContain(SECRET);
      expect(res.body, path).not.toContain('root:');
    }
  });

  it('resolves only plain relative paths inside the root', () => {
    expect(resolveAsset(root, '')).toBe(join(root, 'index.html'));
    expect(resolveAsset(root, 'assets/app.js')).toBe(join(root, 'assets', 'app.js'));
    for (const bad of [
      '..',
      '../x',
      'a/../../x',
      'a//b',
      '.hidden',
      'a/%2e%2e/x',
      '%2fetc',
      'a%5cb',
      '%E0%A4%A',
    ]) {
      expect(resolveAsset(root, bad), bad).toBeUndefined();
    }
  });

  it('says how to build the console when it is not built', async () => {
    const bare = new Hono();
    mountConsole(bare, join(dir, 'not-built'));
    const res = await bare.request('/console');
    expect(res.status).toBe(503);
    expect(await res.text()).toContain('npm run build:console');
    expect((await bare.request('/console/assets/app.js')).status).toBe(404);
  });

  it('finds dist/console under the package root by default', () => {
    expect(defaultConsoleDir()).toBe(join(import.meta.dirname, '..', '..', 'dist', 'console'));
  });
});
