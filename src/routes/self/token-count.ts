/**
 * POST /v1/messages/count_tokens (Anthropic; Claude Code and the SDK's `messages.countTokens`) and
 * POST /v1/responses/input_tokens (OpenAI): counted locally, with the tokenizer the gateway reserves
 * with, never proxied. Why local (docs/providers-and-clients.md has the longer version):
 * - it needs no provider call, so it never spends and never waits on the provider, and it answers
 *   for any configured model even when its provider has no key yet;
 * - it is the very count admission will reserve for the same body, so a client that sizes its
 *   context with it (Claude Code compacts on it) sees what the gateway will hold;
 * - proxying would be exact for Claude, but the gateway's count is a worst case (tool and message
 *   overheads included), which errs on the side a budget needs.
 * Either way nothing is reserved or billed: these routes never touch the budget store.
 */
import type { Logger } from 'pino';
import { GatewayError } from '../../errors.js';
import type { GatewayContext } from '../../http/app.js';
import { parseJsonObject, readRequestBody, requireJsonContentType } from '../../http/body.js';
import { messagesAdapter, responsesAdapter } from '../../providers/index.js';
import type { EndpointAdapter } from '../../providers/types.js';
import { countPromptTokens } from '../../tokens/estimate.js';
import { resolveModel } from '../proxy/admission.js';

async function countFor(c: GatewayContext, adapter: EndpointAdapter, logger: Logger): Promise<number> {
  const config = c.get('config');
  requireJsonContentType(c.req.raw);
  const body = parseJsonObject(await readRequestBody(c, config.server.maxBodyBytes));
  if (typeof body.model !== 'string' || body.model === '') {
    throw new GatewayError('invalid_request', 'model: expected the name of a configured model', {
      param: 'model',
    });
  }
  const model = resolveModel(config, adapter, body.model);
  const identity = c.get('identity');
  if (identity.allowedModels && !identity.allowedModels.has(model.name)) {
    throw new GatewayError('forbidden_model', `This key may not use the model ${model.name}.`, {
      param: 'model',
    });
  }
  const tokens = await countPromptTokens(adapter.shape, body, model.upstreamModel);
  logger.info({
    msg: 'tokens counted',
    requestId: c.get('requestId'),
    path: c.req.path,
    key: identity.keyId,
    model: model.name,
    input_tokens: tokens,
  });
  return tokens;
}

export function countTokensHandler(logger: Logger) {
  return async (c: GatewayContext): Promise<Response> => {
    const tokens = await countFor(c, messagesAdapter, logger);
    return c.json({ input_tokens: tokens }, 200, { 'x-gateway-request-id': c.get('requestId') });
  };
}

export function inputTokensHandler(logger: Logger) {
  return async (c: GatewayContext): Promise<Response> => {
    const tokens = await countFor(c, responsesAdapter, logger);
    return c.json({ object: 'response.input_tokens', input_tokens: tokens }, 200, {
      'x-gateway-request-id': c.get('requestId'),
    });
  };
}
