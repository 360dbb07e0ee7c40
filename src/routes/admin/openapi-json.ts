/** GET /admin/openapi.json: the admin API's OpenAPI 3.1 document, built from the route list. */
import { z } from 'zod';
import { openApiDocument } from './openapi.js';
import { type AdminRoute, type AdminRouteDoc, mountRoute } from './shared/route.js';

const openApiAnswer = z.looseObject({
  openapi: z.string(),
  info: z.object({ title: z.string(), version: z.string() }),
  paths: z.record(z.string(), z.unknown()),
});

/** The router passes the docs of every route it mounts (this one's included). */
export interface OpenApiServices {
  routeDocs: readonly AdminRouteDoc[];
}

export const getOpenApi: AdminRoute<OpenApiServices> = {
  doc: {
    method: 'get',
    path: '/admin/openapi.json',
    summary: 'This document: every admin route, generated from the schemas that validate it.',
    response: openApiAnswer,
  },
  register(admin, { routeDocs }) {
    // Built on first request: most gateways (tests above all) never ask for it.
    let document: ReturnType<typeof openApiDocument> | undefined;
    mountRoute(admin, getOpenApi.doc, (c) => {
      document ??= openApiDocument(routeDocs);
      return c.json(document);
    });
  },
};
