/**
 * Metrics of what goes wrong between instances and their shared store ([hardening] 14): a store
 * that came back empty, settles it lost, instances whose configs differ. Beside src/metrics.ts
 * (registered in its registry) because that file is full. Labels are bounded: budget ids of
 * config/API budgets, one config hash per instance.
 */
import client from 'prom-client';
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
  return { resetsDetected, settlesLost, settlesLostUsd };
}
