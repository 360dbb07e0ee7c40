/**
 * Prometheus metrics. Labels are bounded by config: endpoint, model, provider, team (from keys),
 * budget id (config/API budgets only; "*" templates are summarised), reason codes. No user, key
 * secret or request id is ever a label.
 */
import client from 'prom-client';
import type { BudgetSnapshot } from './budget/snapshot.js';
import { GatewayError } from './errors.js';
import type { GatewayApp } from './http/app.js';
import type { RequestRecord } from './record.js';
import { secretEquals } from './security/secret-equals.js';
import type { BudgetStore } from './store/types.js';

/** Every result of a lease renewal (src/budget/leases.ts), each a series from the start. */
const LEASE_RESULTS = ['renewed', 'gone', 'failed', 'lapsed', 'overdue'] as const;

/** From 100 µs (gateway overhead) to two minutes (long LLM generations). */
const LATENCY_BUCKETS = [
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60,
  120,
];
const STORE_BUCKETS = [
  0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1,
];
const RATIO_BUCKETS = [0.01, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1, 1.1, 1.25, 1.5, 2];

export type Metrics = ReturnType<typeof createMetrics>;

/** What the scrape-time gauges read: budget balances and the settle retry queue. */
export interface BudgetMetricsSource {
  snapshot(): Promise<BudgetSnapshot | null>;
  pendingRetries(): number;
}

/**
 * Default metrics that are gauges named `_total` (promtool rejects the suffix on non-counters);
 * the same numbers remain, split by type, in the `_active_handles` / `_active_requests` /
 * `_active_resources` gauges.
 */
const MISNAMED_DEFAULTS = [
  'nodejs_active_handles_total',
  'nodejs_active_requests_total',
  'nodejs_active_resources_total',
];

/** Reasons that alerts and dashboards rate(); pre-set to 0 so their first occurrence is seen. */
const WATCHED_REJECTIONS = ['budget_exceeded', 'store_unavailable', 'store_reset'];

export function createMetrics() {
  const registry = new client.Registry();
  const processPrefix = 'llm_gateway_process_';
  client.collectDefaultMetrics({ register: registry, prefix: processPrefix });
  for (const name of MISNAMED_DEFAULTS) registry.removeSingleMetric(processPrefix + name);
  const p = 'llm_gateway_';
  const registers = [registry];
  let budgetSource: BudgetMetricsSource | undefined;

  const requests = new client.Counter({
    name: `${p}requests_total`,
    help: 'Proxied requests by endpoint, served model, provider and HTTP status',
    labelNames: ['endpoint', 'model', 'provider', 'status'],
    registers,
  });
  const tokens = new client.Counter({
    name: `${p}tokens_total`,
    help: 'Tokens billed, by kind (input, cached_input, cache_write, output, reasoning)',
    labelNames: ['kind', 'model', 'provider'],
    registers,
  });
  const cost = new client.Counter({
    name: `${p}cost_usd_total`,
    help: 'Settled cost in USD, by model, provider and team',
    labelNames: ['model', 'provider', 'team'],
    registers,
  });
  const downgrades = new client.Counter({
    name: `${p}downgrades_total`,
    help: 'Requests served by a cheaper model because a budget passed a threshold',
    labelNames: ['from', 'to'],
    registers,
  });
  const clamps = new client.Counter({
    name: `${p}max_tokens_clamped_total`,
    help: 'Requests whose output cap was lowered to fit a budget',
    registers,
  });
  // Metering and waiting (issue #17): how long admissions wait for in-flight money, how many
  // slices metered answers take, and how many answers the budget's end cut short.
  const budgetWait = new client.Histogram({
    name: `${p}budget_wait_seconds`,
    help: 'Time admissions waited for requests in flight to settle (only those that waited)',
    labelNames: ['outcome'],
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10],
    registers,
  });
  const extensions = new client.Counter({
    name: `${p}budget_extensions_total`,
    help: 'Slices added to metered reservations while their answers were relayed',
    registers,
  });
  const meteredCuts = new client.Counter({
    name: `${p}metered_cuts_total`,
    help: 'Metered answers ended at the output cap because the budget could not hold more',
    registers,
  });
  const rejections = new client.Counter({
    name: `${p}rejections_total`,
    help: 'Requests answered with an error by the gateway, by reason',
    labelNames: ['reason'],
    registers,
  });
  // [limits] one series per configured limit id and kind (never per "*" instance): bounded.
  const rateLimited = new client.Counter({
    name: `${p}rate_limited_total`,
    help: 'Requests refused by a rate or concurrency limit, by limit id and kind (requests, tokens, concurrent)',
    labelNames: ['limit', 'kind'],
    registers,
  });
  const duration = new client.Histogram({
    name: `${p}request_duration_seconds`,
    help: 'Time from request to last byte, seconds',
    labelNames: ['endpoint', 'stream'],
    buckets: LATENCY_BUCKETS,
    registers,
  });
  const ttfb = new client.Histogram({
    name: `${p}upstream_ttfb_seconds`,
    help: 'Provider time to response headers, seconds',
    labelNames: ['provider'],
    buckets: LATENCY_BUCKETS,
    registers,
  });
  const overhead = new client.Histogram({
    name: `${p}overhead_seconds`,
    help: 'Time the gateway adds to a request (total minus time waiting on the provider), seconds',
    labelNames: ['endpoint', 'stream'],
    buckets: LATENCY_BUCKETS,
    registers,
  });
  const estimateError = new client.Histogram({
    name: `${p}estimate_error_ratio`,
    help: 'Actual cost divided by the reserved estimate',
    labelNames: ['endpoint'],
    buckets: RATIO_BUCKETS,
    registers,
  });
  const storeSeconds = new client.Histogram({
    name: `${p}store_operation_seconds`,
    help: 'Budget store operation latency, seconds',
    labelNames: ['store', 'op'],
    buckets: STORE_BUCKETS,
    registers,
  });
  const storeErrors = new client.Counter({
    name: `${p}store_errors_total`,
    help: 'Budget store operations that failed or timed out',
    labelNames: ['store', 'op'],
    registers,
  });
  const expired = new client.Counter({
    name: `${p}reservations_expired_total`,
    help: 'Reservations settled at their reserved amount because their lease expired (process died)',
    registers,
  });
  const leaseRenewals = new client.Counter({
    name: `${p}lease_renewals_total`,
    help: 'Lease renewals of reservations in flight, by result: renewed, gone (reaped under a live request), failed (the store did not answer), lapsed (failed past the lease: may be reaped), overdue (held past request_timeout_ms + lease_margin_ms, no longer renewed)',
    labelNames: ['result'],
    registers,
  });
  // Present from the start, so rate() and increase() see the first failure.
  for (const result of LEASE_RESULTS) leaseRenewals.inc({ result }, 0);
  const unrecorded = new client.Counter({
    name: `${p}unrecorded_requests_total`,
    help: 'Requests forwarded without a reservation because the store was unavailable (on_unavailable: allow)',
    registers,
  });
  const pendingSettles = new client.Gauge({
    name: `${p}pending_settlements`,
    help: 'Settlements waiting for the store to come back',
    registers,
    collect() {
      this.set(budgetSource?.pendingRetries() ?? 0);
    },
  });
  const fallbacks = new client.Counter({
    name: `${p}fallbacks_total`,
    help: 'Requests moved to a fallback model because the provider failed before answering',
    labelNames: ['from', 'to', 'reason'],
    registers,
  });
  const alerts = new client.Counter({
    name: `${p}alerts_total`,
    help: 'Alert events raised, by type',
    labelNames: ['type'],
    registers,
  });
  const alertDeliveries = new client.Counter({
    name: `${p}alert_deliveries_total`,
    help: 'Webhook delivery attempts ended, by outcome (delivered, retried, failed, dropped)',
    labelNames: ['outcome'],
    registers,
  });
  // [hardening] 12: alerts about "*" budget instances held back by alerts.per_template_per_hour.
  const alertsSuppressed = new client.Counter({
    name: `${p}alerts_suppressed_total`,
    help: 'Alerts not sent because their "*" budget passed alerts.per_template_per_hour, by type',
    labelNames: ['type'],
    registers,
  });
  const upstreamErrors = new client.Counter({
    name: `${p}upstream_errors_total`,
    help: 'Provider errors: statuses relayed from the provider, 502 unreachable, 504 timed out',
    labelNames: ['provider', 'status'],
    registers,
  });
  const settleRetries = new client.Counter({
    name: `${p}settle_retries_total`,
    help: 'Settles and releases queued for retry because the store failed',
    labelNames: ['operation'],
    registers,
  });
  // Tracing (src/telemetry/tracing.ts): spans lost before reaching the collector.
  const spansDropped = new client.Counter({
    name: `${p}telemetry_spans_dropped_total`,
    help: 'Trace spans lost: queue_full (the export queue was full when they ended) or export_failed',
    labelNames: ['reason'],
    registers,
  });
  for (const reason of ['queue_full', 'export_failed']) spansDropped.inc({ reason }, 0);

  // Usage history (src/analytics/recorder.ts): what could not be kept while the history store was down.
  const historyDropped = new client.Counter({
    name: `${p}history_dropped_total`,
    help: 'Finished requests dropped from the usage history because its store stayed down past the buffer bound',
    registers,
  });
  historyDropped.inc(0);
  for (const reason of WATCHED_REJECTIONS) rejections.inc({ reason }, 0);
  for (const operation of ['settle', 'release']) settleRetries.inc({ operation }, 0);
  for (const type of ['threshold', 'exhausted', 'forecast', 'anomaly']) alerts.inc({ type }, 0);

  // Budget gauges are read from a cached snapshot at scrape time; each scrape rebuilds them, so a
  // budget removed by a reload disappears instead of lingering at its last value.
  type LineOf = BudgetSnapshot['lines'][number];
  type TemplateOf = BudgetSnapshot['templates'][number];
  const budgetGauge = <T extends LineOf | TemplateOf>(
    name: string,
    help: string,
    rows: (snapshot: BudgetSnapshot) => T[],
    value: (row: T) => number,
  ) =>
    new client.Gauge({
      name: `${p}${name}`,
      help,
      labelNames: ['budget'],
      registers,
      async collect() {
        this.reset();
        const snapshot = await budgetSource?.snapshot();
        if (!snapshot) return;
        for (const row of rows(snapshot)) this.set({ budget: row.budgetId }, value(row));
      },
    });
  const lines = (s: BudgetSnapshot) => s.lines;
  const templates = (s: BudgetSnapshot) => s.templates;
  const usd = (nano: number) => nano / 1e9;
  budgetGauge(
    'budget_limit_usd',
    'Effective limit of the current period (base + rollover + top-ups), USD',
    lines,
    (l) => usd(l.limitNano),
  );
  budgetGauge('budget_spent_usd', 'Settled spend in the current period, USD', lines, (l) => usd(l.spentNano));
  budgetGauge('budget_reserved_usd', 'Reserved by requests in flight, USD', lines, (l) =>
    usd(l.reservedNano),
  );
  budgetGauge(
    'budget_remaining_ratio',
    'Share of the limit neither spent nor reserved (0 = exhausted)',
    lines,
    (l) => l.remainingRatio,
  );
  budgetGauge(
    'budget_exhaustion_eta_seconds',
    'Seconds until the burn-rate forecast runs the budget out; 0 = exhausted; +Inf = not before it resets',
    lines,
    (l) => l.exhaustionEtaSeconds ?? Number.POSITIVE_INFINITY,
  );
  budgetGauge(
    'budget_template_instances',
    'Instances of a "*" budget (one per user, key, ...) touched this period',
    templates,
    (t) => t.instances,
  );
  budgetGauge(
    'budget_template_spent_usd',
    'Settled spend summed over the instances of a "*" budget, USD',
    templates,
    (t) => usd(t.spentNano),
  );
  budgetGauge(
    'budget_template_reserved_usd',
    'Reserved in flight, summed over the instances of a "*" budget, USD',
    templates,
    (t) => usd(t.reservedNano),
  );
  budgetGauge(
    'budget_template_min_remaining_ratio',
    'Remaining ratio of the tightest instance of a "*" budget (1 when none)',
    templates,
    (t) => t.minRemainingRatio,
  );
  budgetGauge(
    'budget_template_exhausted_instances',
    'Instances of a "*" budget with nothing left',
    templates,
    (t) => t.exhaustedInstances,
  );

  function observeRequest(r: RequestRecord): void {
    const model = r.servedModel ?? 'none';
    const provider = r.provider ?? 'none';
    requests.inc({ endpoint: r.endpoint, model, provider, status: String(r.status) });
    if (r.errorCode && r.errorCode !== 'provider_error') rejections.inc({ reason: r.errorCode });
    if (r.errorCode && UPSTREAM_ERRORS.has(r.errorCode))
      upstreamErrors.inc({ provider, status: String(r.status) });
    const stream = r.stream ? 'true' : 'false';
    duration.observe({ endpoint: r.endpoint, stream }, r.latencyMs / 1000);
    if (r.upstreamTtfbMs !== null) {
      ttfb.observe({ provider }, r.upstreamTtfbMs / 1000);
      overhead.observe({ endpoint: r.endpoint, stream }, Math.max(0, r.latencyMs - r.upstreamMs) / 1000);
    }
    if (r.costNano > 0 || r.inputTokens > 0) {
      tokens.inc({ kind: 'input', model, provider }, r.inputTokens);
      tokens.inc({ kind: 'cached_input', model, provider }, r.cachedInputTokens);
      tokens.inc({ kind: 'cache_write', model, provider }, r.cacheWriteTokens);
      tokens.inc({ kind: 'output', model, provider }, r.outputTokens);
      tokens.inc({ kind: 'reasoning', model, provider }, r.reasoningTokens);
      cost.inc({ model, provider, team: r.anonymous ? 'anonymous' : (r.team ?? 'none') }, r.costNano / 1e9);
    }
    if (r.estimateNano > 0 && r.settlement !== 'released' && r.settlement !== 'none') {
      estimateError.observe({ endpoint: r.endpoint }, r.costNano / r.estimateNano);
    }
    if (r.downgraded && r.requestedModel && r.servedModel) {
      downgrades.inc({ from: r.requestedModel, to: r.servedModel });
    }
    if (r.clamped) clamps.inc();
    if (r.waitedMs > 0)
      budgetWait.observe(
        {
          outcome: r.errorCode === 'budget_busy' ? 'timeout' : r.errorCode === null ? 'admitted' : 'refused',
        },
        r.waitedMs / 1000,
      );
    if (r.extensions > 0) extensions.inc(r.extensions);
    if (r.cutAtBudget) meteredCuts.inc();
  }

  /** Wraps a store so every operation is timed and its failures counted. */
  function instrumentStore(store: BudgetStore): BudgetStore {
    const kind = store.kind;
    const timed = <A extends unknown[], R>(op: string, fn: (...args: A) => Promise<R>) => {
      // Present from the start, so an alert's rate() sees the very first error.
      storeErrors.inc({ store: kind, op }, 0);
      return async (...args: A): Promise<R> => {
        const end = storeSeconds.startTimer({ store: kind, op });
        try {
          return await fn(...args);
        } catch (error) {
          storeErrors.inc({ store: kind, op });
          throw error;
        } finally {
          end();
        }
      };
    };
    return {
      kind,
      reserve: timed('reserve', store.reserve.bind(store)),
      settle: timed('settle', store.settle.bind(store)),
      release: timed('release', store.release.bind(store)),
      extend: timed('extend', store.extend.bind(store)),
      abandonWait: timed('abandon_wait', store.abandonWait.bind(store)),
      onFreed: store.onFreed.bind(store),
      balances: timed('balances', store.balances.bind(store)),
      reapExpired: timed('reap', store.reapExpired.bind(store)),
      renewLeases: timed('renew', store.renewLeases.bind(store)),
      topUp: timed('topup', store.topUp.bind(store)),
      reset: timed('reset', store.reset.bind(store)),
      claimOnce: timed('claim', store.claimOnce.bind(store)),
      instances: timed('instances', store.instances.bind(store)),
      ping: timed('ping', store.ping.bind(store)),
      limitUses: timed('limit_uses', store.limitUses.bind(store)),
      prepare: store.prepare.bind(store),
      resetState: store.resetState.bind(store),
      recover: store.recover.bind(store),
      onStoreEvent: store.onStoreEvent.bind(store),
      clockOffsetMs: store.clockOffsetMs.bind(store),
      close: store.close.bind(store),
    };
  }

  // Requests for paths no route serves (logged by the error boundary); `method` only, bounded: a
  // path label would be one series per scanner probe.
  const unknownPaths = new client.Counter({
    name: `${p}unknown_paths_total`,
    help: 'Requests for paths the gateway does not serve, by HTTP method (404 in the client format)',
    labelNames: ['method'],
    registers,
  });
  const KNOWN_METHODS = new Set(['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS']);
  function unknownPath(method: string): void {
    unknownPaths.inc({ method: KNOWN_METHODS.has(method) ? method : 'other' });
  }

  /** Feeds the scrape-time gauges (budgets, pending settlements); the gateway calls it once. */
  function watchBudgets(source: BudgetMetricsSource): void {
    budgetSource = source;
  }

  return {
    registry,
    observeRequest,
    instrumentStore,
    rateLimited,
    watchBudgets,
    settleRetries,
    expired,
    leaseRenewals,
    unrecorded,
    pendingSettles,
    alerts,
    alertDeliveries,
    alertsSuppressed,
    historyDropped,
    fallbacks,
    downgrades,
    rejections,
    spansDropped,
    unknownPath,
  };
}

const UPSTREAM_ERRORS = new Set(['provider_error', 'provider_unreachable', 'provider_timeout']);

/** GET /metrics, behind server.metrics_token when one is set; a refusal goes to the error boundary. */
export function mountMetrics(app: GatewayApp, metrics: Metrics): void {
  app.get('/metrics', async (c) => {
    const token = c.get('config').server.metricsToken;
    if (token) {
      const given = /^Bearer\s+(.+)$/i.exec(c.req.header('authorization') ?? '')?.[1] ?? '';
      if (!secretEquals(given, token)) {
        throw new GatewayError('unauthorized', 'Missing or invalid metrics token (server.metrics_token).');
      }
    }
    const body = await metrics.registry.metrics();
    return c.body(body, 200, { 'content-type': metrics.registry.contentType });
  });
}
