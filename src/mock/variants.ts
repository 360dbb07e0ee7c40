/**
 * OpenAI-compatible servers that answer chat completions with their own usage fields, chosen per
 * request with `x-mock-variant` (billing as each bills):
 *   deepseek            usage has prompt_cache_hit_tokens / prompt_cache_miss_tokens (hit + miss =
 *                       prompt_tokens) and no prompt_tokens_details: the cache hits are the cached tokens
 *   openrouter          usage.cost: what OpenRouter charged, in USD, at MOCK_OPENROUTER_PRICES
 *   groq                streams ignore stream_options; the last content chunk carries x_groq.usage
 *   no-stream-options   a 400 for any stream_options (older vLLM, some proxies); streams carry no usage
 */
import type { IncomingMessage } from 'node:http';
import type { Json } from './exchange.js';

export type Variant = 'openai' | 'deepseek' | 'openrouter' | 'groq' | 'no-stream-options';

const VARIANTS = new Set<Variant>(['openai', 'deepseek', 'openrouter', 'groq', 'no-stream-options']);

/** USD per million tokens the mock's OpenRouter charges, whatever the model. */
export const MOCK_OPENROUTER_PRICES = { input: 1, output: 2 };

/** The variant a request asks for; undefined for an unknown name (the caller answers 400). */
export function variantOf(req: IncomingMessage): Variant | undefined {
  const value = req.headers['x-mock-variant'];
  if (value === undefined) return 'openai';
  const name = (Array.isArray(value) ? value[0] : value)?.trim().toLowerCase() as Variant;
  return VARIANTS.has(name) ? name : undefined;
}

/** The usage object in the variant's shape, from OpenAI's. */
export function variantUsage(variant: Variant, usage: Json): Json {
  if (variant === 'deepseek') {
    const { prompt_tokens_details, ...rest } = usage;
    const prompt = usage.prompt_tokens as number;
    const hit = ((prompt_tokens_details as Json | undefined)?.cached_tokens as number | undefined) ?? 0;
    return { ...rest, prompt_cache_hit_tokens: hit, prompt_cache_miss_tokens: prompt - hit };
  }
  if (variant === 'openrouter') {
    const cost =
      ((usage.prompt_tokens as number) * MOCK_OPENROUTER_PRICES.input +
        (usage.completion_tokens as number) * MOCK_OPENROUTER_PRICES.output) /
      1e6;
    return { ...usage, cost, is_byok: false };
  }
  return usage;
}

/** Whether a stream ends with OpenAI's usage chunk (only when asked, and only where supported). */
export function streamsUsageChunk(variant: Variant, asked: boolean): boolean {
  return asked && variant !== 'groq' && variant !== 'no-stream-options';
}
