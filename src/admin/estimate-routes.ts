/**
 * POST /admin/cost/estimate: the cost preview of /v1/cost/estimate for any key, chosen by id, so the
 * console can show what a request would cost and which budgets it would touch without holding the
 * key's secret. Same engine preview, nothing reserved, no provider called.
 */
import type { Hono } from 'hono';
import { z } from 'zod';
import type { BudgetEngine } from '../budget/types.js';
import type { RuntimeConfig, RuntimeKey } from '../config/runtime.js';
import { GatewayError } from '../errors.js';
import { parseJsonObject, readRequestBody, requireJsonContentType } from '../http/body.js';
import { identityOfKey } from '../http/key-auth.js';
import { costPreview, estimateAdapter } from '../routes/self/estimate.js';
import { AdminProblem, commonErrors, handled } from './http.js';
import { documentRoute } from './openapi-registry.js';
import { type AdminDeps, requireServices } from './router.js';

/** What this group needs from AdminDeps (gateway.ts fills them in). */
export interface EstimateServices {
  engine(): BudgetEngine;
  /** A key made through the admin API, by id; config keys are found without it. */
  apiKeyById?(id: string): RuntimeKey | undefined | Promise<RuntimeKey | undefined>;
}

const estimateBody = z.looseObject({
  key_id: z.string().min(1).describe('The virtual key whose budgets and model rights apply.'),
  endpoint: z.string().optional().describe('Proxy path; default /v1/chat/completions.'),
  model: z.string(),
});

const budgetLine = z.object({
  id: z.string(),
  instance: z.string().optional(),
  limit_usd: z.number(),
  spent_usd: z.number(),
  reserved_usd: z.number(),
  remaining_usd: z.number(),
  resets_at: z.string().nullable(),
});

const estimateAnswer = z.looseObject({
  model: z.string(),
  served_model: z.string(),
  estimated_usd: z.number().nullable(),
  max_output_tokens: z.number().nullable(),
  budgets: z.array(budgetLine),
  allowed: z.boolean(),
  reason: z.string().nullable(),
});

function configKeyById(config: RuntimeConfig, id: string): RuntimeKey | undefined {
  for (const key of config.keysByHash.values()) if (key.id === id) return key;
  return undefined;
}

export function estimateRoutes(admin: Hono, deps: AdminDeps): void {
  const services = requireServices(deps, 'estimate', 'engine');
  documentRoute({
    method: 'post',
    path: '/admin/cost/estimate',
    summary:
      'Cost preview for a key: the estimate, the budgets the request would touch, and whether it would pass, be downgraded or be rejected. Reserves nothing.',
    body: estimateBody,
    response: estimateAnswer,
    errors: {
      ...commonErrors,
      400: 'Malformed body (names the field).',
      403: 'The key may not use the model.',
      404: 'Unknown key or model.',
    },
  });

  admin.post(
    '/cost/estimate',
    handled(async (c) => {
      const config = deps.config();
      requireJsonContentType(c.req.raw);
      // A preview body is a proxy body: the proxy's size limit applies, not the admin one.
      const body = parseJsonObject(await readRequestBody(c, config.server.maxBodyBytes));
      const keyId = body.key_id;
      if (typeof keyId !== 'string' || keyId === '') {
        throw new AdminProblem([{ field: 'key_id', message: 'expected the id of a virtual key' }]);
      }
      delete body.key_id;
      const key = configKeyById(config, keyId) ?? (await services.apiKeyById?.(keyId));
      if (!key) throw new GatewayError('not_found', `No key with id ${JSON.stringify(keyId)}.`);
      const identity = identityOfKey(key, c.req.header('x-gateway-user'));
      const adapter = estimateAdapter(body);
      return c.json(await costPreview(services, config, identity, adapter, body, deps.clock()));
    }),
  );
}
