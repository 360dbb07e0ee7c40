/**
 * OpenAI chat completions, embeddings and the model list, in OpenAI's wire format (legacy
 * completions: completions.ts). Streams follow OpenAI: one choice per chunk; with
 * `stream_options.include_usage` every chunk carries `"usage":null` and a last chunk with
 * `choices: []` carries the usage. Billing as OpenAI bills: every one of `n` choices, reasoning
 * included, is in completion_tokens.
 */
import { invalidRequest } from './errors.js';
import { type Exchange, type Handler, intField } from './exchange.js';
import { SYSTEM_FINGERPRINT } from './ids.js';
import { choiceCount, includeUsage, MAX_CHOICES, requireModel } from './openai-fields.js';
import { type OutputSize, outputSize } from './plan.js';
import { chatPromptTokens, plainInputTokens } from './prompt.js';
import { generatedText, textChunks } from './text.js';
import { planToolCalls } from './tool-calls.js';
import { streamsUsageChunk, variantOf, variantUsage } from './variants.js';

function chatUsage(ex: Exchange, promptTokens: number, size: OutputSize, n: number, early?: number) {
  const cached = ex.plan.cachedTokens;
  const prompt = Math.max(promptTokens, cached);
  const reasoning = size.reasoningTokens * n;
  const completion = early ?? size.textTokens * n + reasoning;
  if (early === undefined) {
    ex.record.usage = {
      input_tokens: prompt - cached,
      cached_tokens: cached,
      cache_write_tokens: 0,
      output_tokens: completion,
      reasoning_tokens: reasoning,
    };
  }
  return {
    prompt_tokens: prompt,
    completion_tokens: completion,
    total_tokens: prompt + completion,
    prompt_tokens_details: { cached_tokens: cached, audio_tokens: 0 },
    completion_tokens_details: {
      reasoning_tokens: early === undefined ? reasoning : 0,
      audio_tokens: 0,
      accepted_prediction_tokens: 0,
      rejected_prediction_tokens: 0,
    },
  };
}

export const chatCompletions: Handler = async (ex, body) => {
  const model = requireModel(ex, body);
  if (model === undefined) return;
  const variant = variantOf(ex.req);
  if (variant === undefined) {
    ex.sendError(
      invalidRequest('openai', 'x-mock-variant: expected deepseek, openrouter, groq or no-stream-options'),
    );
    return;
  }
  if (variant === 'no-stream-options' && body.stream_options !== undefined) {
    ex.sendError(
      invalidRequest('openai', 'stream_options: Extra inputs are not permitted', 'stream_options'),
    );
    return;
  }
  if (!Array.isArray(body.messages)) {
    ex.sendError(invalidRequest('openai', "Missing required parameter: 'messages'.", 'messages'));
    return;
  }
  const n = choiceCount(ex, body, 'n', MAX_CHOICES);
  if (n === undefined) return;
  const cap = intField(body, 'max_completion_tokens') ?? intField(body, 'max_tokens');
  const size = outputSize(ex.plan, cap);
  const promptTokens = chatPromptTokens(body);
  const id = ex.ids.id('chatcmpl-');
  const created = ex.ids.created();
  ex.record.id = id;
  const tools = planToolCalls(ex, body, n, size.textTokens, 'call_');
  const finish = size.truncated ? 'length' : tools ? 'tool_calls' : 'stop';
  // Billed: the text, or every call's argument tokens.
  const billed = tools ? { ...size, textTokens: tools.tokensPerCall * ex.plan.toolCalls } : size;
  const sentPerChoice = size.textTokens * (tools ? ex.plan.toolCalls : 1);

  if (body.stream !== true) {
    const content = generatedText(size.textTokens);
    const choices = [];
    for (let i = 0; i < n; i++) {
      const message = tools
        ? {
            role: 'assistant',
            content: null,
            refusal: null,
            tool_calls: (tools.calls[i] ?? []).map((call) => ({
              id: call.id,
              type: 'function',
              function: { name: call.name, arguments: call.arguments },
            })),
            annotations: [],
          }
        : { role: 'assistant', content, refusal: null, annotations: [] };
      choices.push({ index: i, message, logprobs: null, finish_reason: finish });
    }
    const usage = variantUsage(variant, chatUsage(ex, promptTokens, billed, n));
    ex.record.outputTokensSent = sentPerChoice * n;
    ex.sendJson(200, {
      id,
      object: 'chat.completion',
      created,
      model,
      choices,
      usage,
      service_tier: 'default',
      system_fingerprint: SYSTEM_FINGERPRINT,
    });
    return;
  }

  const withUsage = streamsUsageChunk(variant, includeUsage(body));
  const head = {
    id,
    object: 'chat.completion.chunk',
    created,
    model,
    service_tier: 'default',
    system_fingerprint: SYSTEM_FINGERPRINT,
  };
  let early = ex.plan.firstChunkUsage;
  const event = (choice: unknown): string => {
    const usage = early === undefined ? null : chatUsage(ex, promptTokens, billed, n, early);
    early = undefined;
    const chunk =
      withUsage || usage !== null ? { ...head, choices: [choice], usage } : { ...head, choices: [choice] };
    return `data: ${JSON.stringify(chunk)}\n\n`;
  };
  const perChoice = (make: (index: number) => unknown): string => {
    let out = '';
    for (let i = 0; i < n; i++) out += event(make(i));
    return out;
  };

  ex.startSse();
  if (
    !(await ex.write(
      perChoice((index) => ({
        index,
        delta: { role: 'assistant', content: tools ? null : '', refusal: null },
        logprobs: null,
        finish_reason: null,
      })),
    ))
  ) {
    return;
  }
  const choice = (index: number, delta: unknown) => ({ index, delta, logprobs: null, finish_reason: null });
  if (tools) {
    for (let k = 0; k < ex.plan.toolCalls; k++) {
      const start = perChoice((index) => {
        const call = tools.calls[index]?.[k];
        const fn = { name: call?.name, arguments: '' };
        return choice(index, { tool_calls: [{ index: k, id: call?.id, type: 'function', function: fn }] });
      });
      if (!(await ex.write(start))) return;
      const ok = await ex.streamContent(
        tools.pieces,
        (piece) =>
          perChoice((index) =>
            choice(index, { tool_calls: [{ index: k, function: { arguments: piece.text } }] }),
          ),
        n,
      );
      if (!ok) return;
    }
  } else {
    const ok = await ex.streamContent(
      textChunks(size.textTokens, ex.plan.chunks),
      (chunk) => perChoice((index) => choice(index, { content: chunk.text })),
      n,
    );
    if (!ok) return;
  }
  let tail = perChoice((index) => ({ index, delta: {}, logprobs: null, finish_reason: finish }));
  if (withUsage) {
    const usage = variantUsage(variant, chatUsage(ex, promptTokens, billed, n));
    tail += `data: ${JSON.stringify({ ...head, choices: [], usage })}\n\n`;
  } else if (variant === 'groq') {
    // Groq: the usage rides in x_groq of one more finish chunk, whatever stream_options said.
    const usage = chatUsage(ex, promptTokens, billed, n);
    const chunk = { ...head, choices: [{ index: 0, delta: {}, logprobs: null, finish_reason: finish }] };
    tail += `data: ${JSON.stringify({ ...chunk, x_groq: { id: `req_${id}`, usage } })}\n\n`;
  }
  if (!(await ex.write(`${tail}data: [DONE]\n\n`))) return;
  ex.end();
};

export const DEFAULT_EMBEDDING_DIMENSIONS = 8;

/** A deterministic unit vector for an input (FNV-1a seed, xorshift stream). */
function embeddingOf(input: unknown, dimensions: number): Float32Array {
  const text = typeof input === 'string' ? input : JSON.stringify(input);
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  let x = h >>> 0 || 1;
  const v = new Float32Array(dimensions);
  let norm = 0;
  for (let i = 0; i < dimensions; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    const f = x / 0xffffffff - 0.5;
    v[i] = f;
    norm += f * f;
  }
  const scale = norm > 0 ? 1 / Math.sqrt(norm) : 0;
  for (let i = 0; i < dimensions; i++) v[i] = v[i]! * scale;
  return v;
}

function base64Float32(v: Float32Array): string {
  const buf = Buffer.allocUnsafe(v.length * 4);
  for (let i = 0; i < v.length; i++) buf.writeFloatLE(v[i]!, i * 4);
  return buf.toString('base64');
}

export const embeddings: Handler = (ex, body) => {
  const model = requireModel(ex, body);
  if (model === undefined) return;
  const input = body.input;
  const inputs: unknown[] =
    typeof input === 'string'
      ? [input]
      : Array.isArray(input) && input.length > 0 && typeof input[0] !== 'number'
        ? input
        : Array.isArray(input) && input.length > 0
          ? [input]
          : [];
  if (inputs.length === 0) {
    ex.sendError(
      invalidRequest(
        'openai',
        "'input' : input must be a string, an array of strings or an array of token arrays, and not empty",
        'input',
      ),
    );
    return;
  }
  const dimensions = intField(body, 'dimensions') || DEFAULT_EMBEDDING_DIMENSIONS;
  const base64 = body.encoding_format === 'base64';
  const data = inputs.map((item, index) => {
    const v = embeddingOf(item, dimensions);
    return { object: 'embedding', index, embedding: base64 ? base64Float32(v) : Array.from(v) };
  });
  const promptTokens = plainInputTokens(input, model);
  ex.record.usage = {
    input_tokens: promptTokens,
    cached_tokens: 0,
    cache_write_tokens: 0,
    output_tokens: 0,
    reasoning_tokens: 0,
  };
  ex.sendJson(200, {
    object: 'list',
    data,
    model,
    usage: { prompt_tokens: promptTokens, total_tokens: promptTokens },
  });
};

const MODELS = [
  { id: 'gpt-4o', created: 1715367049, owned_by: 'system' },
  { id: 'gpt-4o-mini', created: 1721172741, owned_by: 'system' },
  { id: 'gpt-4.1', created: 1744316542, owned_by: 'system' },
  { id: 'o3-mini', created: 1737146383, owned_by: 'system' },
  { id: 'gpt-3.5-turbo-instruct', created: 1692901427, owned_by: 'system' },
  { id: 'text-embedding-3-small', created: 1705948997, owned_by: 'system' },
];

const ANTHROPIC_MODELS = [
  { id: 'claude-sonnet-4-5', display_name: 'Claude Sonnet 4.5', created_at: '2025-09-29T00:00:00Z' },
  { id: 'claude-haiku-4-5', display_name: 'Claude Haiku 4.5', created_at: '2025-10-01T00:00:00Z' },
];

/** GET /v1/models: OpenAI's list, or Anthropic's when the caller speaks Anthropic. */
export const models: Handler = (ex) => {
  if (ex.format === 'anthropic') {
    const data = ANTHROPIC_MODELS.map((m) => ({ type: 'model', ...m }));
    ex.sendJson(200, { data, has_more: false, first_id: data[0]!.id, last_id: data[data.length - 1]!.id });
    return;
  }
  ex.sendJson(200, {
    object: 'list',
    data: MODELS.map((m) => ({ id: m.id, object: 'model', created: m.created, owned_by: m.owned_by })),
  });
};
