/**
 * GET /v1/models: the models this caller may use, in the format of the SDK asking (Anthropic's SDK
 * sends anthropic-version; everything else gets OpenAI's list shape).
 */
import type { GatewayContext } from '../../http/app.js';

export function modelsHandler() {
  return (c: GatewayContext): Response => {
    const config = c.get('config');
    const identity = c.get('identity');
    const names = [...config.models.keys()].filter(
      (name) => !identity.allowedModels || identity.allowedModels.has(name),
    );
    if (c.get('format') === 'anthropic') {
      const data = names
        .filter((name) => config.models.get(name)?.provider.kind === 'anthropic')
        .map((id) => ({ type: 'model', id, display_name: id, created_at: '1970-01-01T00:00:00Z' }));
      return c.json({
        data,
        has_more: false,
        first_id: data[0]?.id ?? null,
        last_id: data.at(-1)?.id ?? null,
      });
    }
    const data = names.map((id) => ({
      id,
      object: 'model',
      created: 0,
      owned_by: config.models.get(id)?.provider.name,
    }));
    return c.json({ object: 'list', data });
  };
}
