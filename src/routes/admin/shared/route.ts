/**
 * One admin route: its documentation (method, path, zod schemas, errors) and `register`, which
 * mounts its handler with the services it declares. The handler is mounted at the documented
 * method and path (`mountRoute`), so /admin/openapi.json, built from the route list, cannot
 * describe a route that is served elsewhere.
 */
import type { Handler, Hono } from 'hono';
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

export interface AdminRoute<Services> {
  readonly doc: AdminRouteDoc;
  /** A property, not a method, so a route asking for a service the router does not pass fails to compile. */
  readonly register: (admin: Hono, services: Services) => void;
}

/** `/admin/budgets/{id}` -> `/budgets/:id`, the path inside the admin app mounted at /admin. */
export function honoPath(openApiPath: string): string {
  return openApiPath.replace(/^\/admin/, '').replace(/\{([^}]+)\}/g, ':$1');
}

/** Mounts `handler` at the route's documented method and path. */
export function mountRoute(admin: Hono, doc: AdminRouteDoc, handler: Handler): void {
  admin.on(doc.method.toUpperCase(), honoPath(doc.path), handler);
}

/** The standard error answers, for route documentation. */
export const commonErrors = {
  401: 'Missing or invalid admin token (the same answer either way).',
  503: 'The store is unavailable; nothing was changed.',
} as const;
