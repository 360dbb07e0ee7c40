/**
 * The admin API under /admin, behind the admin token: every route, in mount order, and the one
 * place they are mounted. /admin/openapi.json is built from this same list.
 */
import { Hono } from 'hono';
import type { GatewayApp } from '../../http/app.js';
import { listAlerts } from './alerts.js';
import { getAnomalies } from './analytics/anomalies.js';
import { getForecast } from './analytics/forecast.js';
import { exportRequests } from './analytics/requests.js';
import { getSuggestions } from './analytics/suggestions.js';
import { getUsage } from './analytics/usage.js';
import { createBudget } from './budgets/create.js';
import { deleteBudget } from './budgets/delete.js';
import { getBudget } from './budgets/get.js';
import { listBudgets } from './budgets/list.js';
import { replaceBudget } from './budgets/replace.js';
import { resetBudget } from './budgets/reset.js';
import { topUpBudget } from './budgets/topup.js';
import { reloadConfig } from './config-reload.js';
import { estimateCost } from './cost-estimate.js';
import { createKey } from './keys/create.js';
import { getKey } from './keys/get.js';
import { listKeys } from './keys/list.js';
import { revokeKey } from './keys/revoke.js';
import { listLimits } from './limits.js';
import { listModels } from './models.js';
import { getOpenApi, type OpenApiServices } from './openapi-json.js';
import { adminAuth } from './shared/auth.js';
import type { AdminRoute } from './shared/route.js';
import type { AdminServices } from './shared/services.js';
import { recoverStore } from './store-recover.js';

export type { AdminServices } from './shared/services.js';

/** Every admin route. A route needing a service not in AdminServices does not compile here. */
export const adminRoutes: readonly AdminRoute<AdminServices & OpenApiServices>[] = [
  listBudgets,
  createBudget,
  getBudget,
  replaceBudget,
  deleteBudget,
  resetBudget,
  topUpBudget,
  listKeys,
  getKey,
  createKey,
  revokeKey,
  reloadConfig,
  listModels,
  listAlerts,
  estimateCost,
  getUsage,
  exportRequests,
  getForecast,
  getAnomalies,
  getSuggestions,
  listLimits,
  recoverStore,
  getOpenApi,
];

/** The admin app (routes relative to /admin), for `app.route('/admin', ...)` or in-process tests. */
export function adminApp(services: AdminServices, routes = adminRoutes): Hono {
  const admin = new Hono();
  admin.use('*', adminAuth(services.config));
  const withDocs = { ...services, routeDocs: routes.map((route) => route.doc) };
  for (const route of routes) route.register(admin, withDocs);
  return admin;
}

/** Routed into the gateway's app, admin errors reach its one error boundary (src/http/error-boundary.ts). */
export function mountAdmin(app: GatewayApp, services: AdminServices): void {
  app.route('/admin', adminApp(services));
}
