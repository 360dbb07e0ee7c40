/**
 * POST /admin/cost/estimate: the cost preview of /v1/cost/estimate for any key, chosen by id, so the
 * console can show what a request would cost and which budgets it would touch without holding the
 * key's secret. Same engine preview, nothing reserved, no provider called.
 */
import type { IncomingMessage } from 'node:http';
import { z } from 'zod';
import type { RuntimeConfig, RuntimeKey } from '../../config/runtime.js';
import { GatewayError, invalidRequest } from '../../errors.js';
import { parseJsonObject, readBodyBytes, requireJsonContentType } from '../../proxy/body.js';
import { identityOfKey } from '../../proxy/identity.js';
import { costPreview, estimateAdapter } from '../../proxy/self-service.js';
import { type AdminRoute, commonErrors, mountRoute } from './shared/route.js';
import type { AdminServices } from './shared/services.js';

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

export const estimateCost: AdminRoute<Pick<AdminServices, 'config' | 'clock' | 'engine' | 'apiKeyById'>> = {
  doc: {
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
  },
  register(admin, services) {
    mountRoute(admin, estimateCost.doc, async (c) => {
      const config = services.config();
      requireJsonContentType(c.req.raw);
      // A preview body is a proxy body: the proxy's size limit applies, not the admin one.
      const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;
      const body = parseJsonObject(await readBodyBytes(incoming, c.req.raw, config.server.maxBodyBytes));
      const keyId = body.key_id;
      if (typeof keyId !== 'string' || keyId === '') {
        throw invalidRequest([{ field: 'key_id', message: 'expected the id of a virtual key' }]);
      }
      delete body.key_id;
      const key = configKeyById(config, keyId) ?? (await services.apiKeyById?.(keyId));
      if (!key) throw new GatewayError('not_found', `No key with id ${JSON.stringify(keyId)}.`);
      const identity = identityOfKey(key, c.req.header('x-gateway-user'));
      const adapter = estimateAdapter(body);
      return c.json(await costPreview(services, config, identity, adapter, body, services.clock()));
    });
  },
};
