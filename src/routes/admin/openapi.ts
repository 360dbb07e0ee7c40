/**
 * The OpenAPI 3.1 document of the admin API, built from the route list's own docs and zod schemas
 * (the ones that validate the requests), so what is documented is what is served and validated.
 * JSON Schema 2020-12, which OpenAPI 3.1 uses as is, comes from z.toJSONSchema.
 */
import { z } from 'zod';
import type { AdminRouteDoc } from './shared/route.js';

type JsonObject = Record<string, unknown>;

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad request',
  401: 'Missing or invalid admin token (the same answer either way).',
  404: 'Not found',
  409: 'Conflict',
  413: 'Body too large',
  503: 'The store is unavailable; nothing was changed.',
};

const problemSchema = z.object({ field: z.string(), message: z.string() });

/** Every admin error body: the OpenAI shape the rest of the gateway answers with. */
export const errorSchema = z.object({
  error: z.object({
    message: z.string(),
    type: z.string(),
    code: z.string(),
    param: z.string().nullable(),
    problems: z.array(problemSchema).optional().describe('Every problem of a rejected body, by field.'),
  }),
});

/** Schemas a route refers to by $ref, collected into components.schemas. */
class Components {
  readonly schemas: Record<string, JsonObject> = {};

  /** A zod schema as JSON Schema; nested $defs move to components.schemas and refs follow them. */
  jsonSchema(schema: z.ZodType, io: 'input' | 'output'): JsonObject {
    const out = z.toJSONSchema(schema, { io, unrepresentable: 'any', target: 'draft-2020-12' }) as JsonObject;
    delete out.$schema;
    const defs = out.$defs as Record<string, JsonObject> | undefined;
    delete out.$defs;
    if (!defs) return out;
    const rewritten = JSON.parse(
      JSON.stringify(out).replaceAll('"#/$defs/', '"#/components/schemas/'),
    ) as JsonObject;
    for (const [name, def] of Object.entries(defs)) {
      this.schemas[name] = JSON.parse(
        JSON.stringify(def).replaceAll('"#/$defs/', '"#/components/schemas/'),
      ) as JsonObject;
    }
    return rewritten;
  }
}

function operationId(route: AdminRouteDoc): string {
  const rest = route.path.replace(/^\/admin\/?/, '').replace(/[{}]/g, '');
  return `${route.method}_${rest.replace(/[^A-Za-z0-9]+/g, '_')}`.replace(/_+$/, '');
}

function parameters(route: AdminRouteDoc, components: Components): JsonObject[] {
  const out: JsonObject[] = [];
  const params = route.params ? objectProperties(components.jsonSchema(route.params, 'input')) : undefined;
  for (const match of route.path.matchAll(/\{([^}]+)\}/g)) {
    const name = match[1] as string;
    const schema = params?.properties[name] ?? { type: 'string' };
    const { description, ...rest } = schema as JsonObject;
    out.push({ name, in: 'path', required: true, schema: rest, ...(description ? { description } : {}) });
  }
  if (route.query) {
    const query = objectProperties(components.jsonSchema(route.query, 'input'));
    for (const [name, schema] of Object.entries(query.properties)) {
      const { description, ...rest } = schema as JsonObject;
      out.push({
        name,
        in: 'query',
        required: query.required.includes(name),
        schema: rest,
        ...(description ? { description } : {}),
      });
    }
  }
  return out;
}

function objectProperties(schema: JsonObject): { properties: Record<string, unknown>; required: string[] } {
  return {
    properties: (schema.properties as Record<string, unknown> | undefined) ?? {},
    required: (schema.required as string[] | undefined) ?? [],
  };
}

function jsonContent(schema: JsonObject): JsonObject {
  return { 'application/json': { schema } };
}

function operation(route: AdminRouteDoc, components: Components): JsonObject {
  const errorBody = components.jsonSchema(errorSchema, 'output');
  const responses: Record<string, JsonObject> = {
    [String(route.status ?? 200)]: {
      description: 'Success',
      ...(route.response ? { content: jsonContent(components.jsonSchema(route.response, 'output')) } : {}),
    },
  };
  const errors: Record<number, string> = { 401: STATUS_TEXT[401] as string, ...route.errors };
  if (route.body) errors[400] ??= 'The body has problems (all listed by field); nothing was written.';
  for (const [status, description] of Object.entries(errors)) {
    responses[status] = { description, content: jsonContent(errorBody) };
  }
  const params = parameters(route, components);
  return {
    operationId: operationId(route),
    summary: route.summary,
    tags: [route.path.split('/')[2] ?? 'admin'],
    ...(params.length > 0 ? { parameters: params } : {}),
    ...(route.body
      ? { requestBody: { required: true, content: jsonContent(components.jsonSchema(route.body, 'input')) } }
      : {}),
    responses,
  };
}

export function openApiDocument(routes: readonly AdminRouteDoc[]): JsonObject {
  const components = new Components();
  const paths: Record<string, Record<string, JsonObject>> = {};
  const sorted = [...routes].sort((a, b) => a.path.localeCompare(b.path) || a.method.localeCompare(b.method));
  for (const route of sorted) {
    paths[route.path] ??= {};
    (paths[route.path] as Record<string, JsonObject>)[route.method] = operation(route, components);
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'llm-budget-gateway admin API',
      version: '1',
      description:
        'Budgets, virtual keys, usage and spend analytics, config reload. Every route needs `Authorization: Bearer <admin token>`.',
    },
    security: [{ adminToken: [] }],
    paths,
    components: {
      securitySchemes: {
        adminToken: { type: 'http', scheme: 'bearer', description: 'The admin.token of the config.' },
      },
      ...(Object.keys(components.schemas).length > 0 ? { schemas: components.schemas } : {}),
    },
  };
}
