/**
 * Every service an admin route may ask for. A route names the ones it uses
 * (`AdminRoute<Pick<AdminServices, 'registry' | 'store'>>`) and gets exactly those; gateway.ts
 * passes them all to the router once.
 */
import type { AlertEntry } from '../../../alerts/recent.js';
import type { Analytics } from '../../../analytics/service.js';
import type { BudgetEngine } from '../../../budget/types.js';
import type { RuntimeConfig, RuntimeKey } from '../../../config/runtime.js';
import type { ConfigRegistry, ReloadResult } from '../../../registry/registry.js';
import type { MetaStore } from '../../../store/meta.js';
import type { BudgetStore } from '../../../store/types.js';

export interface AdminServices {
  config(): RuntimeConfig;
  clock: () => number;
  /** Budget counters: balances, reset, top-up. */
  store: BudgetStore;
  /** The merged config (file + API-made budgets and keys) and its refresh. */
  registry: ConfigRegistry;
  /** Where API-made budgets and keys are written. */
  meta: MetaStore;
  /** Re-reads the config file (POST /admin/config/reload). */
  reload: () => ReloadResult;
  /** The alerts this instance raised recently (the AlertDispatcher). */
  alerts: { recent(limit: number): AlertEntry[] };
  analytics: Analytics;
  engine(): BudgetEngine;
  /** A key made through the admin API, by id; config keys are found without it. */
  apiKeyById?(id: string): RuntimeKey | undefined | Promise<RuntimeKey | undefined>;
}
