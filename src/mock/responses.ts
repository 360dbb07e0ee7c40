/**
 * OpenAI Responses API. Streams are typed events (`event: <type>` plus `type` and a running
 * `sequence_number` in the data). As at OpenAI, a response cut by `max_output_tokens` ends with
 * status "incomplete", `incomplete_details.reason: "max_output_tokens"` and a `response.incomplete`
 * event instead of `response.completed`; both carry the full response with usage.
 * A response created with `store` not false is kept, and GET /v1/responses/{id} answers it as
 * OpenAI does (the final response object); an id it never stored is OpenAI's 404.
 */
import { invalidRequest, openaiError } from './errors.js';
import { type Handler, intField } from './exchange.js';
import { outputSize } from './plan.js';
import { responsesPromptTokens } from './prompt.js';
import { generatedText, textChunks } from './text.js';

export const responses: Handler = async (ex, body) => {
  if (typeof body.model !== 'string' || body.model === '') {
    ex.sendError(invalidRequest('openai', "Missing required parameter: 'model'.", 'model'));
    return;
  }
  const model = body.model;
  const maxOutputTokens = intField(body, 'max_output_tokens');
  const size = outputSize(ex.plan, maxOutputTokens);
  const promptTokens = responsesPromptTokens(body);
  const cached = ex.plan.cachedTokens;
  const input = Math.max(promptTokens, cached);
  const output = size.textTokens + size.reasoningTokens;
  const id = ex.ids.id('resp_');
  const itemId = ex.ids.id('msg_');
  const createdAt = ex.ids.created();
  const status = size.truncated ? 'incomplete' : 'completed';
  ex.record.id = id;

  const usage = () => {
    ex.record.usage = {
      input_tokens: input - cached,
      cached_tokens: cached,
      cache_write_tokens: 0,
      output_tokens: output,
      reasoning_tokens: size.reasoningTokens,
    };
    return {
      input_tokens: input,
      input_tokens_details: { cached_tokens: cached },
      output_tokens: output,
      output_tokens_details: { reasoning_tokens: size.reasoningTokens },
      total_tokens: input + output,
    };
  };
  const text = generatedText(size.textTokens);
  const part = (t: string) => ({ type: 'output_text', annotations: [], logprobs: [], text: t });
  const item = (itemStatus: string, content: unknown[]) => ({
    id: itemId,
    type: 'message',
    status: itemStatus,
    content,
    role: 'assistant',
  });
  const response = (
    responseStatus: string,
    outputItems: unknown[],
    responseUsage: unknown,
  ): Record<string, unknown> => ({
    id,
    object: 'response',
    created_at: createdAt,
    status: responseStatus,
    background: false,
    error: null,
    incomplete_details: responseStatus === 'incomplete' ? { reason: 'max_output_tokens' } : null,
    instructions: typeof body.instructions === 'string' ? body.instructions : null,
    max_output_tokens: maxOutputTokens ?? null,
    model,
    output: outputItems,
    parallel_tool_calls: true,
    previous_response_id: typeof body.previous_response_id === 'string' ? body.previous_response_id : null,
    reasoning: { effort: null, summary: null },
    service_tier: 'default',
    store: body.store !== false,
    temperature: typeof body.temperature === 'number' ? body.temperature : 1,
    text: { format: { type: 'text' } },
    tool_choice: 'auto',
    tools: [],
    top_p: typeof body.top_p === 'number' ? body.top_p : 1,
    truncation: 'disabled',
    usage: responseUsage,
    user: null,
    metadata: {},
  });

  const keep = (final: Record<string, unknown>) => {
    if (body.store !== false) ex.stored.put(id, final);
    return final;
  };
  if (body.stream !== true) {
    ex.record.outputTokensSent = size.textTokens;
    ex.sendJson(200, keep(response(status, [item(status, [part(text)])], usage())));
    return;
  }

  let seq = 0;
  const event = (type: string, data: Record<string, unknown>): string =>
    `event: ${type}\ndata: ${JSON.stringify({ type, ...data, sequence_number: seq++ })}\n\n`;
  const at = { item_id: itemId, output_index: 0, content_index: 0 };

  ex.startSse();
  const opening =
    event('response.created', { response: response('in_progress', [], null) }) +
    event('response.in_progress', { response: response('in_progress', [], null) }) +
    event('response.output_item.added', { output_index: 0, item: item('in_progress', []) }) +
    event('response.content_part.added', { ...at, part: part('') });
  if (!(await ex.write(opening))) return;
  const ok = await ex.streamContent(textChunks(size.textTokens, ex.plan.chunks), (chunk) =>
    event('response.output_text.delta', { ...at, delta: chunk.text, logprobs: [] }),
  );
  if (!ok) return;
  const done = item(status, [part(text)]);
  const closing =
    event('response.output_text.done', { ...at, text, logprobs: [] }) +
    event('response.content_part.done', { ...at, part: part(text) }) +
    event('response.output_item.done', { output_index: 0, item: done }) +
    event(`response.${status}`, { response: response(status, [done], usage()) });
  if (!(await ex.write(closing))) return;
  keep(response(status, [done], usage()));
  ex.end();
};

/** GET /v1/responses/{id}: a stored response as it ended, else OpenAI's 404 for an unknown id. */
export function retrieveResponse(id: string): Handler {
  return (ex) => {
    const stored = ex.stored.get(id);
    if (stored === undefined) {
      ex.sendError(
        openaiError(404, { type: 'invalid_request_error', message: `Response with id '${id}' not found.` }),
      );
      return;
    }
    ex.record.id = id;
    ex.record.model = typeof stored.model === 'string' ? stored.model : '';
    ex.sendJson(200, stored);
  };
}
