/**
 * A running gateway: config, store, budget engine, upstream pools and the HTTP server, with reload
 * and graceful shutdown. main.ts runs one; tests start them in-process or as child processes.
 */
import type { Server } from 'node:http';
import { type ServerType, serve } from '@hono/node-server';
import type { Logger } from 'pino';
import { AlertDispatcher, budgetEventAlert } from './alerts/dispatcher.js';
import { ForecastWatch } from './alerts/forecast-watch.js';
import { anomalyAlert } from './analytics/anomaly-alert.js';
import { type Analytics, createAnalytics } from './analytics/service.js';
import { type BudgetEvent, createBudgetEngine, type ManagedBudgetEngine } from './budget/engine.js';
import { createBudgetSnapshots } from './budget/snapshot.js';
import { ConfigError, loadConfigFile, parseConfig } from './config/load.js';
import type { RuntimeConfig } from './config/runtime.js';
import { unpricedModelsLine } from './config/unpriced.js';
import { type ConfigWatch, watchConfigFile } from './config/watch.js';
import { createFleetMetrics, reportStoreEvents } from './fleet-metrics.js';
import type { GatewayApp } from './http/app.js';
import { type DrainControl, trackForDrain } from './http/drain.js';
import { createLogger, logRequest } from './logger.js';
import { createMetrics, type Metrics, mountMetrics } from './metrics.js';
import { defaultCatalogue } from './providers/catalogue.js';
import { startCatalogueRefresh } from './providers/catalogue-refresh.js';
import type { RequestObserver, RequestRecord } from './record.js';
import { ConfigRegistry, type ReloadResult } from './registry/registry.js';
import { mountAdmin } from './routes/admin/index.js';
import { UpstreamPools } from './routes/proxy/upstream.js';
import { buildApp } from './server.js';
import { createStores } from './store/index.js';
import { createResponseOwners } from './store/response-owners.js';
import type { BudgetStore } from './store/types.js';
import { watchWrites } from './store/write-health.js';
import { createTracing, type Tracing } from './telemetry/tracing.js';
import { preloadEncoders } from './tokens/encoding.js';
import { closeTokenWorkers } from './tokens/estimate.js';

export interface GatewayOptions {
  /** A config file path (reloadable) or config text. */
  configPath?: string;
  configText?: string;
  env?: NodeJS.ProcessEnv;
  /** Overrides server.host / server.port (PORT and HOST in main.ts come through here). */
  host?: string;
  port?: number;
  clock?: () => number;
  logger?: Logger;
  /** Called with every finished request (tests, ledger). */
  onRecord?: RequestObserver;
  /** Called with every budget event (threshold crossed, exhausted). */
  onBudgetEvent?: (event: BudgetEvent) => void;
  /** Reload when the config file changes (only with configPath). Default true. */
  watchConfig?: boolean;
  /** Called after every reload attempt (file watch, SIGHUP, admin API), applied or refused. */
  onReload?: (result: ReloadResult) => void;
}

export interface Gateway {
  readonly url: string;
  readonly port: number;
  readonly app: GatewayApp;
  config(): RuntimeConfig;
  readonly store: BudgetStore;
  readonly engine: ManagedBudgetEngine;
  readonly metrics: Metrics;
  /** Raises alerts (threshold, exhausted, forecast, anomaly) and delivers them to the webhooks. */
  readonly alerts: AlertDispatcher;
  /** The merged config (file + API-made budgets and keys) and its refresh from the store. */
  readonly registry: ConfigRegistry;
  /** Forecast alerts after settles; idle() resolves once its store claims are answered (tests). */
  readonly forecastWatch: Pick<ForecastWatch, 'idle'>;
  /** Usage history, request ledger, forecasts, anomalies (flush() and refresh() for tests). */
  readonly analytics: Analytics;
  /**
   * The first step of a shutdown: /readyz answers 503 and every answer closes its connection; the
   * gateway keeps serving (see src/http/drain.ts). close() drains too.
   */
  drain(): void;
  /** OpenTelemetry traces; undefined when telemetry.otlp.endpoint is empty (no exporter exists). */
  readonly tracing: Tracing | undefined;
  /**
   * Stops the server: stops accepting, waits up to graceMs for in-flight requests, ends the streams
   * still running, settles everything, releases resources.
   */
  close(graceMs?: number): Promise<void>;
  /** Re-reads the config; an invalid one keeps the running config and returns its problems. */
  reload(): ReloadResult;
}

export async function startGateway(options: GatewayOptions): Promise<Gateway> {
  const env = options.env ?? process.env;
  const read = (): RuntimeConfig => {
    if (options.configText !== undefined) return parseConfig(options.configText, '(inline config)', env);
    if (options.configPath) return loadConfigFile(options.configPath, env);
    throw new Error('startGateway needs configPath or configText');
  };
  let current = read();
  const logger = options.logger ?? createLogger(current.server.logLevel);
  preloadEncoders([...current.models.values()].map((model) => model.upstreamModel));
  // Price catalogue: name the models nobody prices (refused at request time), refresh only if asked.
  const unpriced = unpricedModelsLine(current);
  if (unpriced) logger.warn({ msg: unpriced });
  const stopCatalogueRefresh = current.pricing?.refreshUrl
    ? startCatalogueRefresh({
        url: current.pricing.refreshUrl,
        intervalMs: current.pricing.refreshIntervalMs,
        catalogue: defaultCatalogue,
        logger,
      })
    : () => {};
  const metrics = createMetrics();
  const stores = createStores(current);
  // [hardening] 14.3: every instance reads time as the store does. Periods, leases, reaping and
  // rate windows all follow the store's clock once this machine's is measurably off from it
  // (Redis TIME, measured at start-up and every 30 s; SQLite: the one machine clock, offset 0).
  const baseClock = options.clock ?? Date.now;
  const clock = () => baseClock() + stores.budget.clockOffsetMs();
  // Whom each served response belongs to, beside the counters, so any instance answers its retrieval.
  const responseOwners = createResponseOwners(current.store, clock);
  // Failed writes fail /readyz for a while and are logged, rate-limited (store/write-health.ts).
  const writes = watchWrites(metrics.instrumentStore(stores.budget), {
    log: ({ op, error, code, suppressed }) =>
      logger.error({
        msg: `budget store ${op} failed`,
        op,
        error,
        code,
        suppressed,
        store: current.store.type,
      }),
    clock,
  });
  const store = writes.store;
  const fleet = createFleetMetrics(metrics.registry, () => stores.budget);
  fleet.observeConfig(current);
  // A store that came back empty fails closed until an operator recovers it ([hardening] 14.1);
  // drift and skew are counted and logged (fleet-metrics.ts).
  reportStoreEvents(stores.budget, { fleet, logger, clock, storeType: current.store.type });
  for (const warning of await stores.budget.prepare())
    logger.warn({ msg: warning, store: current.store.type });
  // `current` is the merged config: the file plus the budgets and keys made through the admin API,
  // kept in step by the registry (file reloads, metadata version changes). Requests read it from
  // memory; the registry reads the store in the background.
  const meta = stores.meta;
  const registry = new ConfigRegistry(
    current,
    meta,
    {
      warn: (msg, detail) => logger.warn({ msg, ...detail }),
      info: (msg, detail) => logger.info({ msg, ...detail }),
    },
    (merged) => {
      current = merged;
      fleet.observeConfig(merged);
    },
  );
  await registry.refresh();
  registry.start();
  const alerts = new AlertDispatcher({
    config: () => current,
    logger,
    onAlert: (alert) => metrics.alerts.inc({ type: alert.type }),
    onDelivery: (outcome) => metrics.alertDeliveries.inc({ outcome }),
    onSuppressed: (alert) => metrics.alertsSuppressed.inc({ type: alert.type }),
  });
  const forecasts = new ForecastWatch({
    store,
    emit: (alert) => alerts.emit(alert),
    observedSinceMs: clock(),
    evidence: () => current.forecast,
  });
  const engine = createBudgetEngine({
    config: () => current,
    store,
    clock,
    // Rejections, downgrades, clamps and store errors are counted from request records
    // (observeRequest) and the instrumented store, so /v1/cost/estimate previews stay out of them.
    metrics: {
      onExpired: (count) => metrics.expired.inc(count),
      onLeaseRenewal: (result, count) => {
        metrics.leaseRenewals.inc({ result }, count);
        // Reaped under a live request: the store could not be renewed for a whole lease (or a
        // clock is off by more than the lease's slack). Its reserved amount was charged.
        if (result === 'gone')
          logger.warn({
            msg: `${count} reservations of requests in flight were reaped: their lease lapsed`,
            count,
          });
      },
      onUnrecorded: () => metrics.unrecorded.inc(),
      onRetryQueued: (operation) => metrics.settleRetries.inc({ operation }),
      onLimited: (limit, kind) => metrics.rateLimited.inc({ limit, kind }),
    },
    onEvent: (event) => {
      alerts.emit(budgetEventAlert(event));
      options.onBudgetEvent?.(event);
    },
    onSettled: (lines, nowMs) => forecasts.observe(lines, nowMs),
  });
  // Usage history and the ledger: fed from every request record, written in the background.
  const analytics = createAnalytics({
    config: () => current,
    store,
    history: stores.history,
    clock,
    logger,
    onAnomaly: (event) => alerts.emit(anomalyAlert(event)),
    onHistoryDropped: (count) => metrics.historyDropped.inc(count),
  });
  metrics.watchBudgets({
    snapshot: createBudgetSnapshots({
      config: () => current,
      store,
      clock,
      forecast: analytics.exhaustionForecaster,
    }).current,
    pendingRetries: () => engine.pendingRetries(),
  });
  const settling = trackSettlements(engine);
  const pools = new UpstreamPools();
  // Read once: the exporter and its queue live as long as the process (a reload warns, restartWarnings).
  const tracing = createTracing(current.telemetry, {
    onDropped: (reason, count) => metrics.spansDropped.inc({ reason }, count),
  });
  const observe = (record: RequestRecord) => {
    metrics.observeRequest(record);
    logRequest(logger, record);
    analytics.record(record);
    options.onRecord?.(record);
  };
  let drainControl: DrainControl | undefined;
  const app = buildApp({
    config: () => current,
    draining: () => drainControl?.draining ?? false,
    storeProblem: () => writes.problem(),
    storeReset: () => stores.budget.resetState()?.reason,
    engine: () => settling.engine,
    store: () => store,
    pools,
    observe,
    logger,
    burnRates: analytics,
    clock,
    onFallback: (from, to, reason) => metrics.fallbacks.inc({ from, to, reason }),
    tracing,
    onUnknownPath: (method) => metrics.unknownPath(method),
    responseOwners,
    mount: (app) => {
      mountMetrics(app, metrics);
      mountAdmin(app, {
        config: () => current,
        clock,
        engine: () => settling.engine,
        store,
        alerts,
        registry,
        meta,
        reload: () => gateway.reload(),
        analytics,
        apiKeyById: (id) =>
          [...current.keysByHash.values()].find((key) => key.id === id && key.source === 'api'),
      });
    },
  });

  const host = options.host ?? current.server.host;
  const port = options.port ?? current.server.port;
  const server = await listen(app, host, port, current);
  const drain = trackForDrain(server as Server);
  drainControl = drain;
  const address = server.address();
  const boundPort = typeof address === 'object' && address ? address.port : port;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${boundPort}`;

  let watch: ConfigWatch | undefined;
  const reloadOnce = (): ReloadResult => {
    try {
      const next = read();
      const warnings = restartWarnings(registry.fileConfig(), next);
      registry.setFile(next);
      if (!options.logger) logger.level = current.server.logLevel;
      logger.info({ msg: 'config reloaded', ...(warnings.length > 0 ? { warnings } : {}) });
      return { ok: true, warnings };
    } catch (error) {
      const problems = error instanceof ConfigError ? error.problems : [(error as Error).message];
      logger.error({ msg: 'config reload failed; keeping the running config', problems });
      return { ok: false, problems };
    }
  };
  const gateway: Gateway = {
    url,
    port: boundPort,
    app,
    config: () => current,
    store,
    engine,
    metrics,
    alerts,
    forecastWatch: forecasts,
    registry,
    analytics,
    tracing,
    reload() {
      const result = reloadOnce();
      options.onReload?.(result);
      return result;
    },
    drain() {
      if (!drain.draining)
        logger.info({ msg: 'draining: /readyz answers 503, answers close their connections' });
      drain.drain();
    },
    async close(graceMs = 0) {
      drain.drain();
      watch?.close();
      registry.stop();
      stopCatalogueRefresh();
      // Stop accepting; in-flight requests (streams included) finish until the grace period ends,
      // then their connections are cut (the relay aborts upstream and bills the partial output).
      const http = server as unknown as { closeIdleConnections(): void; closeAllConnections(): void };
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      http.closeIdleConnections();
      const idleSweep = setInterval(() => http.closeIdleConnections(), 100);
      const deadline = new Promise<void>((resolve) => setTimeout(resolve, graceMs).unref());
      await Promise.race([closed, deadline]);
      // Streams past the grace period end as complete HTTP messages (drain.ts), then what remains is cut.
      const ended = drain.endStreams();
      if (ended > 0) {
        logger.warn({ msg: `shutdown grace period over: ended ${ended} answers still streaming` });
        await Promise.race([closed, new Promise((resolve) => setTimeout(resolve, 1000).unref())]);
      }
      clearInterval(idleSweep);
      http.closeAllConnections();
      await closed;
      // Cut streams settle from their relay's cancel callback, a few ticks after the sockets close.
      await new Promise((resolve) => setTimeout(resolve, 20));
      await settling.drain();
      await analytics.close();
      // Every request has ended and its spans are queued: export them before the process goes.
      await tracing?.shutdown().catch(() => {});
      await engine.close();
      await alerts.close();
      await pools.close();
      await store.close();
      await meta.close();
      await responseOwners.close();
      await closeTokenWorkers();
    },
  };
  if (options.configPath && options.watchConfig !== false) {
    watch = watchConfigFile(options.configPath, () => gateway.reload());
  }
  return gateway;
}

/** What a reload cannot change in a running process. */
function restartWarnings(before: RuntimeConfig, after: RuntimeConfig): string[] {
  const warnings: string[] = [];
  if (JSON.stringify(before.store) !== JSON.stringify(after.store))
    warnings.push('store: changes apply after a restart; the running store stays');
  if (JSON.stringify(before.history.store) !== JSON.stringify(after.history.store))
    warnings.push('history.store/url/path: changes apply after a restart; the running history store stays');
  if (before.server.host !== after.server.host || before.server.port !== after.server.port)
    warnings.push('server.host/port: changes apply after a restart');
  if (JSON.stringify(before.telemetry) !== JSON.stringify(after.telemetry))
    warnings.push('telemetry: changes apply after a restart');
  return warnings;
}

function listen(app: GatewayApp, hostname: string, port: number, config: RuntimeConfig): Promise<ServerType> {
  // Slow clients: Node answers 408 and closes when the headers, or the whole request, take too long.
  const headersTimeout = config.server.clientHeaderTimeoutMs;
  const serverOptions = {
    headersTimeout,
    requestTimeout: Math.max(config.server.clientRequestTimeoutMs, headersTimeout),
    connectionsCheckingInterval: Math.min(1000, headersTimeout),
    keepAliveTimeout: 65_000,
  };
  return new Promise((resolve, reject) => {
    const server = serve({ fetch: app.fetch, hostname, port, serverOptions }, () => resolve(server));
    server.once('error', reject);
  });
}

/** Wraps the engine so shutdown can wait for every settle/release still running. */
function trackSettlements(engine: ManagedBudgetEngine) {
  const running = new Set<Promise<unknown>>();
  const track = <T>(promise: Promise<T>): Promise<T> => {
    running.add(promise);
    void promise.finally(() => running.delete(promise)).catch(() => {});
    return promise;
  };
  const tracked: ManagedBudgetEngine = Object.create(engine);
  tracked.settle = (reservation, model, usage) => track(engine.settle(reservation, model, usage));
  tracked.release = (reservation) => track(engine.release(reservation));
  return {
    engine: tracked,
    async drain(): Promise<void> {
      while (running.size > 0) await Promise.allSettled([...running]);
    },
  };
}
