/**
 * Anthropic Messages API. `max_tokens` is required (400 otherwise, as at Anthropic). Streams:
 * message_start (usage with the input side and output_tokens 1), content_block_start, ping,
 * content_block_delta (text_delta) per chunk, content_block_stop, message_delta (stop_reason and
 * the cumulative output_tokens), message_stop. Reasoning tokens from `x-mock-reasoning-tokens`
 * are billed as output (thinking) tokens and reported in `output_tokens_details.thinking_tokens`;
 * with `thinking: { type: "enabled", budget_tokens }` they stay within the budget, and the budget
 * is checked as Anthropic checks it (at least 1024, below max_tokens), and they are a visible
 * thinking block (thinking text of that many tokens, then its signature) before the text block.
 */
import { invalidRequest } from './errors.js';
import { type Handler, intField, type Json } from './exchange.js';
import { outputSize } from './plan.js';
import { anthropicPromptTokens } from './prompt.js';
import { generatedText, textChunks } from './text.js';
import { planToolCalls } from './tool-calls.js';

/** Anthropic refuses an extended-thinking budget below this. */
const MIN_THINKING_BUDGET = 1024;

function validate(body: Json): string | undefined {
  if (typeof body.model !== 'string' || body.model === '') return 'model: Field required';
  if (body.max_tokens === undefined) return 'max_tokens: Field required';
  if (intField(body, 'max_tokens') === undefined || body.max_tokens === 0) {
    return 'max_tokens: Input should be a valid integer greater than or equal to 1';
  }
  if (!Array.isArray(body.messages)) return 'messages: Field required';
  const budget = thinkingBudget(body);
  if (budget !== undefined) {
    if (!Number.isInteger(budget) || budget < MIN_THINKING_BUDGET) {
      return `thinking.enabled.budget_tokens: Input should be greater than or equal to ${MIN_THINKING_BUDGET}`;
    }
    if (budget >= (body.max_tokens as number))
      return '`max_tokens` must be greater than `thinking.budget_tokens`';
  }
  return undefined;
}

/** The thinking budget of an extended-thinking request (NaN when enabled without a number), else undefined. */
function thinkingBudget(body: Json): number | undefined {
  const thinking = body.thinking;
  if (typeof thinking !== 'object' || thinking === null || (thinking as Json).type !== 'enabled')
    return undefined;
  const budget = (thinking as Json).budget_tokens;
  return typeof budget === 'number' ? budget : Number.NaN;
}

export const countTokensHandler: Handler = (ex, body) => {
  if (typeof body.model !== 'string' || !Array.isArray(body.messages)) {
    ex.sendError(invalidRequest('anthropic', 'messages: Field required'));
    return;
  }
  ex.sendJson(200, { input_tokens: anthropicPromptTokens(body) });
};

export const messages: Handler = async (ex, body) => {
  const problem = validate(body);
  if (problem !== undefined) {
    ex.sendError(invalidRequest('anthropic', problem));
    return;
  }
  const model = body.model as string;
  const budget = thinkingBudget(body);
  const plan =
    budget === undefined
      ? ex.plan
      : { ...ex.plan, reasoningTokens: Math.min(ex.plan.reasoningTokens, budget) };
  const size = outputSize(plan, intField(body, 'max_tokens'));
  const { cachedTokens, cacheWriteTokens } = ex.plan;
  const promptTokens = anthropicPromptTokens(body);
  // Cache reads and writes are part of the prompt; input_tokens is the rest (never below zero).
  const inputTokens = Math.max(0, promptTokens - cachedTokens - cacheWriteTokens);
  const id = ex.ids.id('msg_');
  ex.record.id = id;
  // x-mock-tool-calls: tool_use blocks after the text, each billed its input's tokens.
  const tools = planToolCalls(ex, body, 1, size.textTokens, 'toolu_');
  const calls = tools?.calls[0] ?? [];
  const outputTokens = size.textTokens + size.reasoningTokens + calls.length * (tools?.tokensPerCall ?? 0);
  const stopReason = size.truncated ? 'max_tokens' : tools ? 'tool_use' : 'end_turn';

  const inputUsage = {
    input_tokens: inputTokens,
    cache_creation_input_tokens: cacheWriteTokens,
    cache_read_input_tokens: cachedTokens,
    cache_creation: { ephemeral_5m_input_tokens: cacheWriteTokens, ephemeral_1h_input_tokens: 0 },
  };
  const outputDetails =
    size.reasoningTokens > 0 ? { output_tokens_details: { thinking_tokens: size.reasoningTokens } } : {};
  const record = () => {
    ex.record.usage = {
      input_tokens: inputTokens,
      cached_tokens: cachedTokens,
      cache_write_tokens: cacheWriteTokens,
      output_tokens: outputTokens,
      reasoning_tokens: size.reasoningTokens,
    };
  };
  const message = (content: unknown[], stop: string | null, usage: Json) => ({
    id,
    type: 'message',
    role: 'assistant',
    model,
    content,
    stop_reason: stop,
    stop_sequence: null,
    usage,
  });

  // With extended thinking on, the reasoning tokens are a visible thinking block before the text
  // (as Anthropic answers); otherwise they are billed unseen.
  const thinking = budget !== undefined && size.reasoningTokens > 0;
  const signature = `sig_${id}`;
  const visibleTokens = size.textTokens * (1 + calls.length) + (thinking ? size.reasoningTokens : 0);

  if (body.stream !== true) {
    const text = generatedText(size.textTokens);
    record();
    ex.record.outputTokensSent = visibleTokens;
    const blocks: unknown[] = thinking
      ? [{ type: 'thinking', thinking: generatedText(size.reasoningTokens), signature }]
      : [];
    blocks.push({ type: 'text', text });
    for (const call of calls) {
      blocks.push({ type: 'tool_use', id: call.id, name: call.name, input: JSON.parse(call.arguments) });
    }
    ex.sendJson(
      200,
      message(blocks, stopReason, {
        ...inputUsage,
        output_tokens: outputTokens,
        ...outputDetails,
        service_tier: 'standard',
      }),
    );
    return;
  }

  const event = (type: string, data: Json): string =>
    `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`;
  ex.startSse();
  const opening =
    event('message_start', {
      message: message([], null, { ...inputUsage, output_tokens: 1, service_tier: 'standard' }),
    }) + event('ping', {});
  if (!(await ex.write(opening))) return;
  const textIndex = thinking ? 1 : 0;
  if (thinking) {
    const start = event('content_block_start', {
      index: 0,
      content_block: { type: 'thinking', thinking: '', signature: '' },
    });
    if (!(await ex.write(start))) return;
    const thought = await ex.streamContent(textChunks(size.reasoningTokens, ex.plan.chunks), (chunk) =>
      event('content_block_delta', { index: 0, delta: { type: 'thinking_delta', thinking: chunk.text } }),
    );
    if (!thought) return;
    const stop =
      event('content_block_delta', { index: 0, delta: { type: 'signature_delta', signature } }) +
      event('content_block_stop', { index: 0 });
    if (!(await ex.write(stop))) return;
  }
  const textStart = event('content_block_start', {
    index: textIndex,
    content_block: { type: 'text', text: '' },
  });
  if (!(await ex.write(textStart))) return;
  const ok = await ex.streamContent(textChunks(size.textTokens, ex.plan.chunks), (chunk) =>
    event('content_block_delta', { index: textIndex, delta: { type: 'text_delta', text: chunk.text } }),
  );
  if (!ok) return;
  if (!(await ex.write(event('content_block_stop', { index: textIndex })))) return;
  for (let k = 0; k < calls.length; k++) {
    const call = calls[k]!;
    const index = textIndex + 1 + k;
    const block = { type: 'tool_use', id: call.id, name: call.name, input: {} };
    if (!(await ex.write(event('content_block_start', { index, content_block: block })))) return;
    const sent = await ex.streamContent(tools?.pieces ?? [], (piece) =>
      event('content_block_delta', { index, delta: { type: 'input_json_delta', partial_json: piece.text } }),
    );
    if (!sent || !(await ex.write(event('content_block_stop', { index })))) return;
  }
  record();
  const closing =
    event('message_delta', {
      delta: { stop_reason: stopReason, stop_sequence: null },
      usage: { output_tokens: outputTokens, ...outputDetails },
    }) + event('message_stop', {});
  if (!(await ex.write(closing))) return;
  ex.end();
};
