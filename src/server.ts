/**
 * Builds the Hono app from its parts. Wiring only: behaviour lives in the modules it mounts.
 */
import { Hono } from 'hono';
import type { BurnRateSource } from './analytics/forecast.js';
import type { BudgetEngine } from './budget/types.js';
import type { RuntimeConfig } from './config/runtime.js';
import { mountConsole } from './console/route.js';
import { errorResponse, GatewayError } from './errors.js';
import { adapters } from './providers/index.js';
import type { KeyLookup } from './proxy/identity.js';
import { modelsHandler } from './proxy/models.js';
import { createProxyHandler, type ProxyDeps } from './proxy/pipeline.js';
import type { RequestObserver } from './proxy/record.js';
import { budgetHandler, estimateHandler } from './proxy/self-service.js';
import type { UpstreamPools } from './proxy/upstream.js';
import type { BudgetStore } from './store/types.js';

export interface AppDeps {
  config(): RuntimeConfig;
  engine(): BudgetEngine;
  store(): BudgetStore;
  pools: UpstreamPools;
  observe: RequestObserver;
  lookupKey?: KeyLookup;
  /** Burn rates from the usage history (the analytics), for /v1/budget forecasts. */
  burnRates?: BurnRateSource;
  clock?: () => number;
  onFallback?: ProxyDeps['onFallback'];
  /** Extra route groups (admin, metrics, self-service) mounted by the caller. */
  mount?: (app: Hono) => void;
}

function formatForPath(path: string) {
  return path.startsWith('/v1/messages') ? 'anthropic' : 'openai';
}

export function buildApp(deps: AppDeps): Hono {
  const app = new Hono();
  const proxyDeps: ProxyDeps = {
    config: deps.config,
    engine: deps.engine,
    pools: deps.pools,
    observe: deps.observe,
    lookupKey: deps.lookupKey,
    burnRates: deps.burnRates,
    clock: deps.clock,
    onFallback: deps.onFallback,
  };
  for (const adapter of adapters) app.post(adapter.path, createProxyHandler(adapter, proxyDeps));
  app.get('/v1/models', modelsHandler(deps));
  app.get('/v1/budget', budgetHandler(proxyDeps));
  app.post('/v1/cost/estimate', estimateHandler(proxyDeps));

  app.get('/healthz', (c) => c.json({ status: 'ok' }));
  app.get('/readyz', async (c) => {
    const ok = await deps
      .store()
      .ping()
      .catch(() => false);
    return c.json({ status: ok ? 'ready' : 'store unavailable' }, ok ? 200 : 503);
  });

  mountConsole(app);
  deps.mount?.(app);

  app.notFound((c) =>
    errorResponse(
      new GatewayError('not_found', `No route for ${c.req.method} ${c.req.path}.`),
      formatForPath(c.req.path),
    ),
  );
  app.onError((_error, c) =>
    errorResponse(
      new GatewayError('internal_error', 'The gateway failed to handle this request.'),
      formatForPath(c.req.path),
    ),
  );
  return app;
}
