/**
 * Builds the Hono app from its parts. Wiring only: behaviour lives in the modules it mounts.
 * The route table: proxy routes (routes/proxy/handler.ts), self-service (routes/self/), health,
 * the console, and what the caller mounts (admin, metrics). Errors: http/error-boundary.ts.
 */
import { Hono } from 'hono';
import type { Logger } from 'pino';
import type { BurnRateSource } from './analytics/forecast.js';
import type { BudgetEngine } from './budget/types.js';
import type { RuntimeConfig } from './config/runtime.js';
import { mountConsole } from './console/route.js';
import { createGatewayApp, type GatewayApp } from './http/app.js';
import { requestContext } from './http/context.js';
import { installErrorBoundary } from './http/error-boundary.js';
import { callerIdentity, type KeyLookup } from './http/key-auth.js';
import { adapters, ResponseTokenMemory } from './providers/index.js';
import type { RequestObserver } from './record.js';
import type { UpstreamDispatch } from './routes/proxy/exchange.js';
import { mountGemini } from './routes/proxy/gemini.js';
import { createProxyHandler, type ProxyDeps } from './routes/proxy/handler.js';
import { moderationsHandler } from './routes/proxy/moderations.js';
import { retrieveResponseHandler } from './routes/proxy/response-retrieve.js';
import { budgetHandler } from './routes/self/budget.js';
import type { SelfServiceDeps } from './routes/self/deps.js';
import { estimateHandler } from './routes/self/estimate.js';
import { modelHandler, modelsHandler } from './routes/self/models.js';
import { countTokensHandler, inputTokensHandler } from './routes/self/token-count.js';
import { batchesRefused, imagesRefused, responsesWebsocketDeclined } from './routes/self/unbudgeted.js';
import type { ResponseOwnerStore } from './store/response-owners.js';
import type { BudgetStore } from './store/types.js';

export interface AppDeps {
  config(): RuntimeConfig;
  engine(): BudgetEngine;
  store(): BudgetStore;
  pools: UpstreamDispatch;
  observe: RequestObserver;
  /** Unknown errors are logged here with the request id and stack; unknown paths too. */
  logger: Logger;
  lookupKey?: KeyLookup;
  /** Burn rates from the usage history (the analytics), for /v1/budget forecasts. */
  burnRates?: BurnRateSource;
  clock?: () => number;
  onFallback?: ProxyDeps['onFallback'];
  /** Context tokens of served Responses (previous_response_id); one is made when absent. */
  responses?: ResponseTokenMemory;
  /** The shared owners of served Responses (store/response-owners.ts), for GET /v1/responses/{id}. */
  responseOwners?: ResponseOwnerStore;
  /** True once shutdown began: /readyz answers 503 so the load balancer stops sending. */
  draining?: () => boolean;
  /** Why the store is not ready beyond ping() (recent write failures); undefined when it is. */
  storeProblem?: () => string | undefined;
  /** Why the store is in the reset state (it came back empty); undefined when it is not. */
  storeReset?: () => string | undefined;
  /** OpenTelemetry traces of proxied requests; undefined when off. */
  tracing?: ProxyDeps['tracing'];
  /** Counts a request for a path no route serves (llm_gateway_unknown_paths_total). */
  onUnknownPath?: (method: string) => void;
  /** Extra route groups (admin, metrics) mounted by the caller. */
  mount?: (app: GatewayApp) => void;
}

export function buildApp(deps: AppDeps): GatewayApp {
  const app = createGatewayApp();
  app.use(requestContext(deps.config));
  installErrorBoundary(app, deps.logger, deps.onUnknownPath);

  const owners = deps.responseOwners;
  const responses =
    deps.responses ??
    new ResponseTokenMemory(
      undefined,
      owners &&
        ((id, served) => {
          // Off the answer's path: a lost write leaves the response retrievable here only.
          owners
            .put(id, served)
            .catch((error: unknown) =>
              deps.logger.warn({ msg: 'response owner not stored', error: (error as Error).message }),
            );
        }),
    );
  const proxyDeps: ProxyDeps = {
    engine: deps.engine,
    responses,
    pools: deps.pools,
    observe: deps.observe,
    lookupKey: deps.lookupKey,
    clock: deps.clock,
    onFallback: deps.onFallback,
    tracing: deps.tracing,
  };
  for (const adapter of adapters) app.post(adapter.path, createProxyHandler(adapter, proxyDeps));
  mountGemini(app, proxyDeps);

  const selfDeps: SelfServiceDeps = {
    engine: deps.engine,
    burnRates: deps.burnRates,
    clock: deps.clock ?? Date.now,
    responses,
  };
  const caller = callerIdentity(deps.lookupKey);
  app.get('/v1/models', caller, modelsHandler());
  app.get('/v1/models/:id{.+}', caller, modelHandler());
  // Issue #15 endpoints: answered without spending (token counts), or refused with a reason.
  app.post('/v1/messages/count_tokens', caller, countTokensHandler(deps.logger));
  app.post('/v1/responses/input_tokens', caller, inputTokensHandler(deps.logger));
  app.get('/v1/responses', responsesWebsocketDeclined());
  app.get(
    '/v1/responses/:id',
    caller,
    retrieveResponseHandler({
      pools: deps.pools,
      observe: deps.observe,
      clock: deps.clock ?? Date.now,
      responses,
      owners,
      logger: deps.logger,
      onUnknownPath: deps.onUnknownPath,
    }),
  );
  app.post('/v1/messages/batches', caller, batchesRefused());
  app.post('/v1/batches', caller, batchesRefused());
  app.post('/v1/images/generations', caller, imagesRefused());
  app.post(
    '/v1/moderations',
    caller,
    moderationsHandler({ pools: deps.pools, observe: deps.observe, clock: deps.clock ?? Date.now }),
  );
  app.get('/v1/budget', caller, budgetHandler(selfDeps));
  app.post('/v1/cost/estimate', caller, estimateHandler(selfDeps));

  app.get('/healthz', (c) => c.json({ status: 'ok' }));
  app.get('/readyz', async (c) => {
    if (deps.draining?.()) return c.json({ status: 'draining' }, 503);
    const ok = await deps
      .store()
      .ping()
      .catch(() => false);
    if (!ok) return c.json({ status: 'store unavailable' }, 503);
    const reset = deps.storeReset?.();
    if (reset) return c.json({ status: 'store reset', reason: reset }, 503);
    const problem = deps.storeProblem?.();
    if (problem) return c.json({ status: 'store failing', reason: problem }, 503);
    return c.json({ status: 'ready' }, 200);
  });

  const consoleApp = new Hono();
  mountConsole(consoleApp);
  app.route('/', consoleApp);
  deps.mount?.(app);
  return app;
}
