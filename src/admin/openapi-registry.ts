/**
 * Admin routes describe themselves here (method, path, zod schemas); /admin/openapi.json is
 * generated from the same schemas that validate the requests, so the two cannot drift.
 */
import type { z } from 'zod';

export interface AdminRouteDoc {
  method: 'get' | 'post' | 'put' | 'delete';
  /** OpenAPI path, e.g. /admin/budgets/{id}. */
  path: string;
  summary: string;
  /** Path parameters (an object schema); undocumented `{name}`s in the path default to strings. */
  params?: z.ZodType;
  query?: z.ZodType;
  body?: z.ZodType;
  response?: z.ZodType;
  /** The success status; default 200 (201 for creations). */
  status?: number;
  /** Other statuses this route answers, with a description. */
  errors?: Record<number, string>;
}

const routes: AdminRouteDoc[] = [];

export function documentRoute(doc: AdminRouteDoc): void {
  if (!routes.some((r) => r.method === doc.method && r.path === doc.path)) routes.push(doc);
}

export function documentedRoutes(): readonly AdminRouteDoc[] {
  return routes;
}
