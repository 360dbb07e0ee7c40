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
  /**
   * What the provider says it charged, when it says (OpenRouter `usage.cost`), in nano-USD: recorded
   * for reconciliation, never billed (budgets settle at the configured price they reserved at).
   */
  providerCostNano?: number;
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
  /**
   * Long-context tier (Anthropic's 1M-context beta, Gemini 2.5 Pro): once a request's prompt passes
   * `aboveInputTokens`, the provider bills EVERY token of that request at these prices, not only the
   * tokens past the threshold. Absent: one flat price whatever the prompt length.
   */
  longContext?: LongContextPrice;
}

export interface LongContextPrice {
  /** The tier applies when the prompt's tokens are strictly more than this. */
  aboveInputTokens: number;
  input: PicoPerToken;
  output: PicoPerToken;
  cachedInput: PicoPerToken;
  cacheWrite: PicoPerToken;
}

/** Every prompt token of a usage: billed input, cache reads and cache writes (what the tier threshold counts). */
export function promptTokensOf(usage: Usage): number {
  return usage.inputTokens + usage.cachedInputTokens + usage.cacheWriteTokens;
}

/** The prices a request with this many prompt tokens is billed at: the long-context tier past its threshold. */
export function priceAt(price: ModelPrice, promptTokens: number): ModelPrice {
  const tier = price.longContext;
  return tier !== undefined && promptTokens > tier.aboveInputTokens ? tier : price;
}

export function costOfUsage(usage: Usage, modelPrice: ModelPrice): Nano {
  const price = priceAt(modelPrice, promptTokensOf(usage));
  return costNano([
    { tokens: usage.inputTokens, pico: price.input },
    { tokens: usage.cachedInputTokens, pico: price.cachedInput },
    { tokens: usage.cacheWriteTokens, pico: price.cacheWrite },
    { tokens: usage.outputTokens, pico: price.output },
  ]);
}
