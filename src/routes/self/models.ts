/**
 * GET /v1/models and GET /v1/models/{id}: the models this caller may use, in the format of the SDK
 * asking (Anthropic's SDK sends anthropic-version; everything else gets OpenAI's shapes). Each list
 * holds only the models its API serves: the OpenAI list leaves out Claude models, which
 * /v1/chat/completions would refuse, and the Anthropic list holds only them.
 */
import type { RuntimeConfig, RuntimeModel } from '../../config/runtime.js';
import { GatewayError } from '../../errors.js';
import type { GatewayContext } from '../../http/app.js';

/** Kinds whose models clients reach through the OpenAI-shaped endpoints. */
function speaksOpenAi(model: RuntimeModel): boolean {
  return model.provider.kind !== 'anthropic' && (model.provider.kind as string) !== 'gemini';
}

function visibleModels(c: GatewayContext): RuntimeModel[] {
  const config: RuntimeConfig = c.get('config');
  const identity = c.get('identity');
  const anthropic = c.get('format') === 'anthropic';
  return [...config.models.values()].filter(
    (model) =>
      (!identity.allowedModels || identity.allowedModels.has(model.name)) &&
      (anthropic ? model.provider.kind === 'anthropic' : speaksOpenAi(model)),
  );
}

function anthropicModel(model: RuntimeModel) {
  return { type: 'model', id: model.name, display_name: model.name, created_at: '1970-01-01T00:00:00Z' };
}

function openAiModel(model: RuntimeModel) {
  return { id: model.name, object: 'model', created: 0, owned_by: model.provider.name };
}

export function modelsHandler() {
  return (c: GatewayContext): Response => {
    const models = visibleModels(c);
    if (c.get('format') === 'anthropic') {
      const data = models.map(anthropicModel);
      return c.json({
        data,
        has_more: false,
        first_id: data[0]?.id ?? null,
        last_id: data.at(-1)?.id ?? null,
      });
    }
    return c.json({ object: 'list', data: models.map(openAiModel) });
  };
}

/** One model, as models.retrieve in either SDK expects; 404 in the caller's format when not listed. */
export function modelHandler() {
  return (c: GatewayContext): Response => {
    const id = decodeURIComponent(c.req.param('id') ?? '');
    const model = visibleModels(c).find((m) => m.name === id);
    if (!model) {
      throw new GatewayError(
        'model_not_found',
        `The model ${JSON.stringify(id)} is not available to this key on this API.`,
        {
          param: 'model',
        },
      );
    }
    return c.json(c.get('format') === 'anthropic' ? anthropicModel(model) : openAiModel(model));
  };
}
