/**
 * Metrics of what goes wrong between instances and their shared store ([hardening] 14): a store
 * that came back empty, settles it lost, instances whose configs differ. Beside src/metrics.ts
 * (registered in its registry) because that file is full. Labels are bounded: budget ids of
 * config/API budgets, one config hash per instance.
 */
import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import client from 'prom-client';
import type { RuntimeConfig } from './config/runtime.js';
import type { BudgetStore } from './store/types.js';

export type FleetMetrics = ReturnType<typeof createFleetMetrics>;

export function createFleetMetrics(registry: client.Registry, store: () => BudgetStore) {
  const p = 'llm_gateway_';
  const registers = [registry];
  const resetsDetected = new client.Counter({
    name: `${p}store_reset_detected_total`,
    help: 'Times this instance found the budget store reset (Redis came back empty); it then fails closed',
    registers,
  });
  resetsDetected.inc(0);
  new client.Gauge({
    name: `${p}store_reset`,
    help: '1 while the budget store is in the reset state (every request 503 store_reset until POST /admin/store/recover)',
    registers,
    collect() {
      this.set(store().resetState() ? 1 : 0);
    },
  });
  const settlesLost = new client.Counter({
    name: `${p}settles_lost_total`,
    help: 'Settles of requests in flight when the store was reset: their cost is in no budget',
    registers,
  });
  settlesLost.inc(0);
  const settlesLostUsd = new client.Counter({
    name: `${p}settles_lost_usd_total`,
    help: 'Cost of the settles lost in a store reset, USD (served but counted nowhere)',
    registers,
  });
  settlesLostUsd.inc(0);
  const limitDrift = new client.Counter({
    name: `${p}budget_limit_drift_total`,
    help: "Reserves whose budget limit differed from the one the instances agreed on (the smallest recent one was used): instances' configs differ",
    labelNames: ['budget'],
    registers,
  });
  const configInfo = new client.Gauge({
    name: `${p}config_info`,
    help: 'Always 1; hash: a digest of the budgets and limits in force on this instance (instances that differ disagree on limits)',
    labelNames: ['hash'],
    registers,
  });
  const clockSkew = new client.Gauge({
    name: `${p}store_clock_skew_seconds`,
    help: "The store's clock minus this machine's, seconds (Redis TIME; 0 for SQLite); the gateway follows the store's clock past 0.1 s",
    registers,
  });
  let hash = '';
  /** Called with every config in force (start-up, reloads, API changes); one series per instance. */
  const observeConfig = (config: RuntimeConfig) => {
    const next = configHash(config);
    // One drift series per configured budget from the start, so the drift alert has series to judge.
    for (const budget of config.budgets) limitDrift.inc({ budget: budget.id }, 0);
    if (next === hash) return;
    hash = next;
    configInfo.reset();
    configInfo.set({ hash }, 1);
  };
  return { resetsDetected, settlesLost, settlesLostUsd, limitDrift, clockSkew, observeConfig };
}

/** 12 hex digits of SHA-256 over what decides a request's limits: budgets and rate limits. */
export function configHash(config: RuntimeConfig): string {
  const budgets = [...config.budgets]
    .map((b) => [b.id, b.source, b.limitNano, b.period, b.timezone, b.rolloverMaxNano, b.scope])
    .sort((x, y) => String(x[0]).localeCompare(String(y[0])));
  const limits = config.limits?.list ?? [];
  return createHash('sha256').update(JSON.stringify({ budgets, limits })).digest('hex').slice(0, 12);
}

/** Past this, the clock skew between this machine and the store is logged (it is corrected either way). */
const SKEW_WARN_MS = 1000;

/** Store events to metrics and log lines: resets and lost settles as errors, drift and skew as warnings. */
export function reportStoreEvents(
  store: BudgetStore,
  {
    fleet,
    logger,
    clock,
    storeType,
  }: { fleet: FleetMetrics; logger: Logger; clock: () => number; storeType: string },
): () => void {
  let skewWarned = false;
  /** Drift warnings, at most one a minute per budget. */
  const driftLogged = new Map<string, number>();
  return store.onStoreEvent((event) => {
    if (event.type === 'reset') {
      fleet.resetsDetected.inc();
      logger.error({
        msg: 'budget store reset detected: refusing every request (503 store_reset) until POST /admin/store/recover; see docs/operations.md',
        reason: event.reason,
        store: storeType,
      });
    } else if (event.type === 'recovered') {
      logger.warn({
        msg: 'budget store recovered: serving again from the counters the store holds now',
        epoch: event.epoch,
        resetForMs: clock() - event.resetSinceMs,
      });
    } else if (event.type === 'limit_drift') {
      fleet.limitDrift.inc({ budget: event.budgetId });
      const now = Date.now();
      if ((driftLogged.get(event.budgetId) ?? 0) + 60_000 <= now) {
        driftLogged.set(event.budgetId, now);
        logger.warn({
          msg: "budget limit differs from the other instances' (configs differ): the smallest recent limit is used; make the config files agree",
          budget: event.budgetId,
          thisInstanceUsd: event.sentNano / 1e9,
        });
      }
    } else if (event.type === 'clock_skew') {
      fleet.clockSkew.set(event.skewMs / 1000);
      const off = Math.abs(event.skewMs) > SKEW_WARN_MS;
      if (off && !skewWarned) {
        (event.followed ? logger.warn.bind(logger) : logger.error.bind(logger))({
          msg: event.followed
            ? `this machine's clock is ${Math.round(event.skewMs)} ms behind the store's (negative: ahead); the gateway uses the store's clock for periods, leases and reaping. Fix NTP on this host or the store's`
            : `this machine's clock is ${Math.round(event.skewMs)} ms behind the store's (negative: ahead): too far to be drift, so it is NOT followed (one of the clocks is set wrong); periods, leases and reaping use this machine's clock. Fix the clock`,
          skewMs: Math.round(event.skewMs),
        });
      }
      skewWarned = off;
    } else if (event.type === 'settle_lost') {
      fleet.settlesLost.inc();
      fleet.settlesLostUsd.inc(event.actualNano / 1e9);
      logger.error({
        msg: 'settle lost in a store reset: this request was served but its cost is in no budget',
        reservationId: event.reservationId,
        reservedNano: event.reservedNano,
        actualNano: event.actualNano,
      });
    }
  });
}
