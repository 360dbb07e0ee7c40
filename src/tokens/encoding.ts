/**
 * tiktoken encoders, loaded once per process and shared. Which encoding a model uses:
 * o200k_base for gpt-4o, gpt-4.1, gpt-5 and the o-series; cl100k_base for older GPT models and
 * embeddings; Claude has no public tokenizer, so Claude models are counted with o200k_base and a
 * safety margin (CLAUDE_MARGIN) is applied by the estimator (tokens/estimate.ts).
 */
import { get_encoding, type Tiktoken } from 'tiktoken';

export type EncodingName = 'o200k_base' | 'cl100k_base';

const encoders = new Map<EncodingName, Tiktoken>();

export function encoder(name: EncodingName): Tiktoken {
  let enc = encoders.get(name);
  if (!enc) {
    enc = get_encoding(name);
    encoders.set(name, enc);
  }
  return enc;
}

/** Claude's tokenizer yields more tokens than o200k_base on typical text; estimates are scaled up by this. */
export const CLAUDE_MARGIN = 1.25;

export function isClaudeModel(model: string): boolean {
  return model.startsWith('claude');
}

export function encodingForModel(model: string): EncodingName {
  const m = model.toLowerCase();
  if (
    m.startsWith('gpt-3.5') ||
    m === 'gpt-4' ||
    m.startsWith('gpt-4-') ||
    m.startsWith('text-embedding') ||
    m.startsWith('davinci') ||
    m.startsWith('babbage')
  ) {
    return 'cl100k_base';
  }
  return 'o200k_base';
}

/** Exact token count of a text (special tokens are counted as ordinary text, as providers bill them). */
export function countTokens(text: string, encoding: EncodingName): number {
  if (text.length === 0) return 0;
  return encoder(encoding).encode_ordinary(text).length;
}
