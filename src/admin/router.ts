/**
 * Mounts the admin API under /admin behind the admin token. Each route group lives in its own
 * module and registers itself here; this file is wiring only.
 */
import { Hono } from 'hono';
import type { ConfigRegistry, ReloadResult } from '../config/registry.js';
import type { RuntimeConfig } from '../config/runtime.js';
import type { MetaStore } from '../store/meta.js';
import type { BudgetStore } from '../store/types.js';
import type { AlertsServices } from './alerts-routes.js';
import type { AnalyticsServices } from './analytics-routes.js';
import { adminAuth } from './auth.js';
import type { EstimateServices } from './estimate-routes.js';

/**
 * What admin route groups get, filled in by gateway.ts. Services are optional so a group can be
 * mounted (and tested) with only what it uses; a group missing one it needs says so at mount time.
 * Add yours here (or as a Partial<YourServices> in the extends list).
 */
export interface AdminDeps
  extends Partial<AlertsServices>,
    Partial<EstimateServices>,
    Partial<AnalyticsServices> {
  config(): RuntimeConfig;
  clock: () => number;
  /** Budget counters: balances, reset, top-up. */
  store?: BudgetStore;
  /** The merged config (file + API-made budgets and keys) and its refresh. */
  registry?: ConfigRegistry;
  /** Where API-made budgets and keys are written. */
  meta?: MetaStore;
  /** Re-reads the config file (POST /admin/config/reload). */
  reload?: () => ReloadResult;
}

export type AdminRouteGroup = (admin: Hono, deps: AdminDeps) => void;

/** The services a group cannot work without; throws at mount time (a wiring bug) when one is missing. */
export function requireServices<K extends keyof AdminDeps>(
  deps: AdminDeps,
  group: string,
  ...names: K[]
): AdminDeps & Required<Pick<AdminDeps, K>> {
  for (const name of names) {
    if (deps[name] === undefined) throw new Error(`admin route group ${group} needs deps.${String(name)}`);
  }
  return deps as AdminDeps & Required<Pick<AdminDeps, K>>;
}

export function mountAdmin(app: Hono, deps: AdminDeps, groups: AdminRouteGroup[]): void {
  const admin = new Hono();
  admin.use('*', adminAuth(deps.config));
  for (const group of groups) group(admin, deps);
  app.route('/admin', admin);
}
