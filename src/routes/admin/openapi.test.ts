/**
 * GET /admin/openapi.json: every mounted admin route is documented (and nothing else), the document
 * has the shape of OpenAPI 3.1, and its schemas are the ones that validate the requests.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { adminCall } from '../../../test/helpers/admin.js';
import { type Stack, startStack } from '../../../test/helpers/stack.js';
import { budgetSchema } from '../../config/schema.js';

const METHODS = ['get', 'post', 'put', 'delete', 'patch'] as const;

// The parts of OpenAPI 3.1 this document uses, strictly (an unexpected field fails).
const jsonSchema = z.record(z.string(), z.unknown());
const mediaType = z.object({ schema: jsonSchema }).strict();
const content = z.record(z.string().regex(/^[a-z]+\/[a-z0-9.+-]+$/), mediaType);
const parameter = z
  .object({
    name: z.string().min(1),
    in: z.enum(['path', 'query', 'header', 'cookie']),
    required: z.boolean(),
    schema: jsonSchema,
    description: z.string().optional(),
  })
  .strict()
  .refine((p) => p.in !== 'path' || p.required, 'path parameters must be required');
const operation = z
  .object({
    operationId: z.string().regex(/^[A-Za-z0-9_]+$/),
    summary: z.string().min(1),
    tags: z.array(z.string()).min(1),
    parameters: z.array(parameter).optional(),
    requestBody: z.object({ required: z.boolean(), content }).strict().optional(),
    responses: z.record(
      z.string().regex(/^[1-5]\d\d$/),
      z.object({ description: z.string().min(1), content: content.optional() }).strict(),
    ),
  })
  .strict();
const document = z
  .object({
    openapi: z.string().regex(/^3\.1\.\d+$/),
    info: z
      .object({ title: z.string().min(1), version: z.string().min(1), description: z.string().optional() })
      .strict(),
    security: z.array(z.record(z.string(), z.array(z.string()))),
    paths: z.record(z.string().regex(/^\/admin\//), z.partialRecord(z.enum(METHODS), operation)),
    components: z
      .object({
        securitySchemes: z.record(
          z.string(),
          z.object({
            type: z.literal('http'),
            scheme: z.literal('bearer'),
            description: z.string().optional(),
          }),
        ),
        schemas: z.record(z.string(), jsonSchema).optional(),
      })
      .strict(),
  })
  .strict();

type Doc = z.infer<typeof document>;

let stack: Stack;
let doc: Doc;
beforeAll(async () => {
  stack = await startStack();
  const answer = await adminCall(stack.gateway, 'GET', '/admin/openapi.json');
  expect(answer.status).toBe(200);
  expect(answer.headers.get('content-type')).toMatch(/^application\/json/);
  doc = answer.body;
});
afterAll(async () => {
  await stack?.close();
});

/** Admin routes as Hono mounted them, in OpenAPI path syntax. */
function mountedRoutes(): string[] {
  return stack.gateway.app.routes
    .filter((r) => r.path.startsWith('/admin/') && r.method !== 'ALL')
    .map((r) => `${r.method.toLowerCase()} ${r.path.replace(/:([A-Za-z0-9_]+)/g, '{$1}')}`);
}

function documentedRoutes(): string[] {
  return Object.entries(doc.paths).flatMap(([path, item]) =>
    Object.keys(item).map((method) => `${method} ${path}`),
  );
}

describe('the OpenAPI document', () => {
  it('documents every mounted admin route, and only those', () => {
    const mounted = mountedRoutes();
    expect(mounted.length).toBeGreaterThanOrEqual(12);
    expect(new Set(documentedRoutes())).toEqual(new Set(mounted));
    for (const route of [
      'get /admin/budgets',
      'post /admin/budgets/{id}/topup',
      'delete /admin/keys/{id}',
      'post /admin/config/reload',
      'get /admin/openapi.json',
    ]) {
      expect(mounted).toContain(route);
    }
  });

  it('has the shape of OpenAPI 3.1', () => {
    const parsed = document.safeParse(doc);
    expect(parsed.success ? [] : parsed.error.issues).toEqual([]);
    const ids = Object.values(doc.paths).flatMap((item) => Object.values(item).map((op) => op?.operationId));
    expect(new Set(ids).size).toBe(ids.length);
    for (const [path, item] of Object.entries(doc.paths)) {
      const templated = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]).sort();
      for (const op of Object.values(item)) {
        const inPath = (op?.parameters ?? [])
          .filter((p) => p.in === 'path')
          .map((p) => p.name)
          .sort();
        expect(inPath, path).toEqual(templated);
        expect(Object.keys(op?.responses ?? {}), path).toContain('401');
      }
    }
  });

  it('resolves every $ref inside the document', () => {
    const refs = [...JSON.stringify(doc).matchAll(/"\$ref":"([^"]+)"/g)].map((m) => m[1] as string);
    for (const ref of refs) {
      expect(ref).toMatch(/^#\//);
      let node: unknown = doc;
      for (const part of ref.slice(2).split('/'))
        node = (node as Record<string, unknown> | undefined)?.[part];
      expect(node, ref).toBeDefined();
    }
  });

  it('uses the schemas that validate the requests', () => {
    const create = doc.paths['/admin/budgets']?.post;
    const body = create?.requestBody?.content['application/json']?.schema;
    const { $schema: _, ...expected } = z.toJSONSchema(budgetSchema, { io: 'input' }) as Record<
      string,
      unknown
    >;
    expect(body).toEqual({ ...expected, description: expect.any(String) });
    expect(Object.keys(create?.responses ?? {}).sort()).toEqual(['201', '400', '401', '409']);
    const problems = create?.responses['400']?.content?.['application/json']?.schema as {
      properties: { error: { properties: Record<string, unknown> } };
    };
    expect(Object.keys(problems.properties.error.properties)).toContain('problems');
    const key = doc.paths['/admin/keys']?.post?.responses['201']?.content?.['application/json']?.schema as {
      properties: Record<string, unknown>;
    };
    expect(Object.keys(key.properties)).toContain('key');
  });
});
