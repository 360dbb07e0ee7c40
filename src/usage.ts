/**
 * Token usage as the gateway bills it, normalised across providers:
 * - inputTokens: prompt tokens billed at the input price (OpenAI: prompt_tokens minus cached;
 *   Anthropic: input_tokens, which already excludes cache reads and writes);
 * - cachedInputTokens: prompt tokens read from the provider's cache (cached_input / cache_read price);
 * - cacheWriteTokens: tokens written to the cache (Anthropic cache_creation_input_tokens);
 * - outputTokens: generated tokens, reasoning included (that is how both providers bill them);
 * - reasoningTokens: the reasoning share of outputTokens, for reporting only.
 */
import { costNano, type Nano, type PicoPerToken } from './money.js';

export interface Usage {
  inputTokens: number;
  cachedInputTokens: number;
  cacheWriteTokens: number;
  outputTokens: number;
  reasoningTokens: number;
}

export const ZERO_USAGE: Readonly<Usage> = Object.freeze({
  inputTokens: 0,
  cachedInputTokens: 0,
  cacheWriteTokens: 0,
  outputTokens: 0,
  reasoningTokens: 0,
});

/** A model's prices in integer pico-USD per token (see money.ts). */
export interface ModelPrice {
  input: PicoPerToken;
  output: PicoPerToken;
  /** Cache reads: OpenAI cached_input, Anthropic cache_read. Defaults to the input price. */
  cachedInput: PicoPerToken;
  /** Anthropic cache writes. Defaults to the input price. */
  cacheWrite: PicoPerToken;
}

export function costOfUsage(usage: Usage, price: ModelPrice): Nano {
  return costNano([
    { tokens: usage.inputTokens, pico: price.input },
    { tokens: usage.cachedInputTokens, pico: price.cachedInput },
    { tokens: usage.cacheWriteTokens, pico: price.cacheWrite },
    { tokens: usage.outputTokens, pico: price.output },
  ]);
}
