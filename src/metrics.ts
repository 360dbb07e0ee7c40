/**
 * Prometheus metrics. Labels are bounded by config: endpoint, model, provider, team (from keys),
 * budget id (config/API budgets only; "*" templates are summarised), reason codes. No user, key
 * secret or request id is ever a label.
 */
import { timingSafeEqual } from 'node:crypto';
import type { Hono } from 'hono';
import client from 'prom-client';
import type { RuntimeConfig } from './config/runtime.js';
import type { RequestRecord } from './proxy/record.js';
import type { BudgetStore } from './store/types.js';

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

export function createMetrics() {
  const registry = new client.Registry();
  client.collectDefaultMetrics({ register: registry, prefix: 'llm_gateway_process_' });
  const p = 'llm_gateway_';
  const registers = [registry];

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
  const rejections = new client.Counter({
    name: `${p}rejections_total`,
    help: 'Requests answered with an error by the gateway, by reason',
    labelNames: ['reason'],
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
  const unrecorded = new client.Counter({
    name: `${p}unrecorded_requests_total`,
    help: 'Requests forwarded without a reservation because the store was unavailable (on_unavailable: allow)',
    registers,
  });
  const pendingSettles = new client.Gauge({
    name: `${p}pending_settlements`,
    help: 'Settlements waiting for the store to come back',
    registers,
  });
  const alerts = new client.Counter({
    name: `${p}alerts_total`,
    help: 'Alert events raised, by type',
    labelNames: ['type'],
    registers,
  });

  function observeRequest(r: RequestRecord): void {
    const model = r.servedModel ?? 'none';
    const provider = r.provider ?? 'none';
    requests.inc({ endpoint: r.endpoint, model, provider, status: String(r.status) });
    if (r.errorCode && r.errorCode !== 'provider_error') rejections.inc({ reason: r.errorCode });
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
  }

  /** Wraps a store so every operation is timed and its failures counted. */
  function instrumentStore(store: BudgetStore): BudgetStore {
    const kind = store.kind;
    const timed =
      <A extends unknown[], R>(op: string, fn: (...args: A) => Promise<R>) =>
      async (...args: A): Promise<R> => {
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
    return {
      kind,
      reserve: timed('reserve', store.reserve.bind(store)),
      settle: timed('settle', store.settle.bind(store)),
      release: timed('release', store.release.bind(store)),
      balances: timed('balances', store.balances.bind(store)),
      reapExpired: timed('reap', store.reapExpired.bind(store)),
      topUp: timed('topup', store.topUp.bind(store)),
      reset: timed('reset', store.reset.bind(store)),
      claimOnce: timed('claim', store.claimOnce.bind(store)),
      instances: timed('instances', store.instances.bind(store)),
      ping: timed('ping', store.ping.bind(store)),
      close: store.close.bind(store),
    };
  }

  return {
    registry,
    observeRequest,
    instrumentStore,
    expired,
    unrecorded,
    pendingSettles,
    alerts,
    downgrades,
    rejections,
  };
}

function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** GET /metrics, behind server.metrics_token when one is set. */
export function mountMetrics(app: Hono, metrics: Metrics, config: () => RuntimeConfig): void {
  app.get('/metrics', async (c) => {
    const token = config().server.metricsToken;
    if (token) {
      const given = /^Bearer\s+(.+)$/i.exec(c.req.header('authorization') ?? '')?.[1] ?? '';
      if (!sameSecret(given, token)) return c.text('unauthorized\n', 401);
    }
    const body = await metrics.registry.metrics();
    return c.body(body, 200, { 'content-type': metrics.registry.contentType });
  });
}
