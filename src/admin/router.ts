/**
 * Mounts the admin API under /admin behind the admin token. Each route group lives in its own
 * module and registers itself here; this file is wiring only.
 */
import { Hono } from 'hono';
import type { RuntimeConfig } from '../config/runtime.js';
import { adminAuth } from './auth.js';

/** What admin route groups get: everything they may need, filled in by gateway.ts. */
export interface AdminDeps {
  config(): RuntimeConfig;
  clock: () => number;
  // Route groups add the services they need here (store, engine, alerts, analytics, reload, ...).
  [service: string]: unknown;
}

export type AdminRouteGroup = (admin: Hono, deps: AdminDeps) => void;

export function mountAdmin(app: Hono, deps: AdminDeps, groups: AdminRouteGroup[]): void {
  const admin = new Hono();
  admin.use('*', adminAuth(deps.config));
  for (const group of groups) group(admin, deps);
  app.route('/admin', admin);
}
