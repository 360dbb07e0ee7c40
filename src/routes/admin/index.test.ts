/**
 * The admin router in process (no gateway, no store): it serves exactly the routes of its list,
 * /admin/openapi.json documents exactly those (built from the same list), and thrown errors are
 * answered in the admin error shape by the gateway's error boundary.
 */
import { Hono } from 'hono';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import type { RuntimeConfig } from '../../config/runtime.js';
import type { GatewayApp, GatewayEnv } from '../../http/app.js';
import { installErrorBoundary } from '../../http/error-boundary.js';
import { StoreUnavailableError } from '../../store/types.js';
import { type AdminServices, adminRoutes, mountAdmin } from './index.js';

const TOKEN = 'admin-secret-0123456789abcdef-0123';

/** Services no handler here gets far with: enough to mount every route and pass the admin token. */
function services(overrides: Partial<AdminServices> = {}): AdminServices {
  const unused = () => {
    throw new Error('not used by this test');
  };
  return {
    config: () => ({ adminToken: TOKEN }) as RuntimeConfig,
    clock: () => 0,
    store: {} as AdminServices['store'],
    registry: {} as AdminServices['registry'],
    meta: {} as AdminServices['meta'],
    reload: unused,
    alerts: { recent: () => [] },
    analytics: {} as AdminServices['analytics'],
    engine: unused,
    ...overrides,
  };
}

/** The admin routes in an app with the gateway's one error boundary, as gateway.ts mounts them. */
function gatewayApp(overrides?: Partial<AdminServices>): GatewayApp {
  const app = new Hono<GatewayEnv>();
  installErrorBoundary(app, pino({ level: 'silent' }));
  mountAdmin(app, services(overrides));
  return app;
}

const auth = { authorization: `Bearer ${TOKEN}` };

/** `GET /admin/budgets/:id` -> `get /admin/budgets/{id}`. */
function served(app: GatewayApp): string[] {
  return app.routes
    .filter((r) => r.method !== 'ALL')
    .map((r) => `${r.method.toLowerCase()} ${r.path.replace(/:([A-Za-z0-9_]+)/g, '{$1}')}`);
}

describe('the admin router', () => {
  it('serves every listed route at its documented method and path, and nothing else', () => {
    const listed = adminRoutes.map((r) => `${r.doc.method} ${r.doc.path}`);
    expect(new Set(listed).size).toBe(listed.length);
    expect(served(gatewayApp()).sort()).toEqual([...listed].sort());
  });

  it('documents in /admin/openapi.json exactly the routes it serves', async () => {
    const app = gatewayApp();
    const response = await app.request('/admin/openapi.json', { headers: auth });
    expect(response.status).toBe(200);
    const doc = (await response.json()) as { paths: Record<string, Record<string, unknown>> };
    const documented = Object.entries(doc.paths).flatMap(([path, item]) =>
      Object.keys(item).map((method) => `${method} ${path}`),
    );
    expect(documented.sort()).toEqual(served(app).sort());
  });

  it('answers a bad query 400 naming every parameter, with problems', async () => {
    const response = await gatewayApp().request('/admin/alerts?limit=0&type=panic', { headers: auth });
    expect(response.status).toBe(400);
    const { error } = (await response.json()) as { error: Record<string, any> };
    expect(error).toMatchObject({ code: 'invalid_request', type: 'invalid_request_error', param: 'limit' });
    expect(error.problems.map((p: { field: string }) => p.field)).toEqual(['limit', 'type']);
    expect(error.message).toMatch(/^limit: .+; type: /);
  });

  it('answers a store outage 503 store_unavailable, nothing changed', async () => {
    const registry = {
      refresh: async () => {
        throw new StoreUnavailableError('redis: timeout');
      },
    } as unknown as AdminServices['registry'];
    const response = await gatewayApp({ registry }).request('/admin/budgets', { headers: auth });
    expect(response.status).toBe(503);
    expect(await response.json()).toEqual({
      error: {
        message: 'The store is unavailable; nothing was changed. Retry shortly.',
        type: 'server_error',
        code: 'store_unavailable',
        param: null,
      },
    });
  });

  it('leaves unknown errors to the gateway', async () => {
    const registry = {
      refresh: async () => {
        throw new TypeError('a bug');
      },
    } as unknown as AdminServices['registry'];
    const app = gatewayApp({ registry });
    const seen: Error[] = [];
    app.onError((error, c) => {
      seen.push(error);
      return c.text('gateway boundary', 500);
    });
    const response = await app.request('/admin/budgets', { headers: auth });
    expect([response.status, await response.text()]).toEqual([500, 'gateway boundary']);
    expect(seen.map((e) => e.message)).toEqual(['a bug']);
  });

  it('asks for the admin token before anything else', async () => {
    const response = await gatewayApp().request('/admin/openapi.json');
    expect(response.status).toBe(401);
  });
});
