/**
 * What a plain (non-streamed) answer says about itself, read from the top of its JSON: the
 * provider's response id, the model that answered (gen_ai.response.model) and why generation
 * stopped (gen_ai.response.finish_reasons). OpenAI chat / completions / Responses / embeddings and
 * Anthropic Messages keep these in a few top-level fields, so this costs a handful of property reads.
 */
export interface ResponseFacts {
  id?: string;
  model?: string;
  finishReasons?: string[];
}

export function responseFacts(json: unknown): ResponseFacts | undefined {
  if (typeof json !== 'object' || json === null) return undefined;
  const body = json as Record<string, unknown>;
  const facts: ResponseFacts = {};
  if (typeof body.id === 'string') facts.id = body.id;
  if (typeof body.model === 'string') facts.model = body.model;
  const reasons = finishReasons(body);
  if (reasons.length > 0) facts.finishReasons = reasons;
  return facts;
}

function finishReasons(body: Record<string, unknown>): string[] {
  // Anthropic Messages.
  if (typeof body.stop_reason === 'string') return [body.stop_reason];
  // OpenAI chat and completions: one per choice.
  if (Array.isArray(body.choices)) {
    const out: string[] = [];
    for (const choice of body.choices) {
      const reason = (choice as { finish_reason?: unknown } | null)?.finish_reason;
      if (typeof reason === 'string') out.push(reason);
    }
    return out;
  }
  // OpenAI Responses: `completed`, or `incomplete` with the reason (max_output_tokens, ...).
  if (typeof body.status === 'string' && body.object === 'response') {
    const detail = (body.incomplete_details as { reason?: unknown } | null)?.reason;
    return [typeof detail === 'string' ? detail : body.status];
  }
  return [];
}
