/** OpenAI's POST /v1/moderations, in its wire format: nothing flagged, whatever the input. */
import type { Handler } from './exchange.js';
import { newId } from './ids.js';

export const moderations: Handler = (ex, body) => {
  const model =
    typeof body === 'object' && body !== null && typeof (body as { model?: unknown }).model === 'string'
      ? (body as { model: string }).model
      : 'omni-moderation-latest';
  ex.sendJson(200, {
    id: newId('modr-'),
    model,
    results: [{ flagged: false, categories: { violence: false }, category_scores: { violence: 0.0001 } }],
  });
};
