/**
 * Bounds on a prompt's token count known without tokenizing it, from its UTF-8 size: what lets the
 * admission refuse a huge prompt that cannot fit its budgets or limits before the exact count
 * (issue 13: 16 refused 3.9 MB prompts held the token workers for seconds).
 *
 * Why these bounds hold for the estimate the exact path reserves (PromptParts.total): every
 * o200k_base / cl100k_base token is a sequence of bytes, the bytes of a text's tokens are the
 * text's UTF-8 bytes, and tokens never span two texts or two tokenizer segments; so a text of B
 * bytes has at least B / MAX_BYTES_PER_TOKEN tokens and at most B (no token is empty). Claude and
 * Gemini prompts are estimated with o200k_base too (encoding.ts), Claude's scaled by CLAUDE_MARGIN,
 * which total() applies to the bounds as to the exact count (it is monotone).
 *
 * The byte bound alone is ~30x below the count of prose; a second floor tightens it: both
 * pre-tokenizers (the o200k_base and cl100k_base split patterns) end a piece at an ASCII letter
 * followed by a space (no piece pattern continues a letter run with white space, and a piece that
 * starts with a space starts after it), tokens never span pieces, and every piece has a token; so
 * a text with P such letter-space pairs has at least P + 1 tokens. Prose reaches ~70% of its
 * count this way (the [limits] flood: 3.9 MB, ~576k tokens floor against ~830k counted), so a
 * trial that cannot pay most of a big prompt is refused before it is counted.
 */
import type { ApiShape, RequestBody } from '../providers/types.js';
import { MAX_CACHED_CHARS } from './count-cache.js';
import { collectPrompt } from './estimate.js';

/**
 * The longest token of both vocabularies, in bytes, measured over every id with tiktoken 1.0.22's
 * decode_single_token_bytes: o200k_base 128 (token 72056, 128 spaces; the longest not made of
 * white space is 112 bytes: " " + 111 "-"), cl100k_base 128 (also 128 spaces; 114 for "//" + 112
 * "-"). Ordinary text runs at ~4 bytes per token, so this bound alone is ~30x below the count;
 * pieceFloor is the tighter one for text with spaces. Neither refuses a borderline prompt.
 */
export const MAX_BYTES_PER_TOKEN = 128;

/**
 * Prompts with fewer characters than this skip the pre-check: counting them is cheap (~16 ms at
 * 64k characters, off the main thread past 16k), so they keep their fast path with no extra store
 * read.
 */
export const PRECHECK_MIN_CHARS = 64 * 1024;

export interface PromptBounds {
  /** At most the exact estimate: no count can be lower. */
  lower: number;
  /** At least the exact estimate: no count can be higher. */
  upper: number;
  /**
   * Characters of the prompt's texts too long for the count cache: what the exact count must
   * queue for a token worker whatever was counted before (estimate.ts holdCountRoom).
   */
  longTextChars?: number;
}

/** Bounds on promptTokens(shape, body, model), or undefined for prompts below PRECHECK_MIN_CHARS. */
export function promptTokenBounds(
  shape: ApiShape,
  body: RequestBody,
  model: string,
): PromptBounds | undefined {
  const parts = collectPrompt(shape, body, model);
  if (parts.chars < PRECHECK_MIN_CHARS) return undefined;
  let bytes = 0;
  let lower = 0;
  let longTextChars = 0;
  for (const text of parts.texts) {
    if (text.length > MAX_CACHED_CHARS) longTextChars += text.length;
    // Native and ~1 ms for 4 MB; lone surrogates count 3 bytes (U+FFFD), as tiktoken receives them.
    const textBytes = Buffer.byteLength(text, 'utf8');
    bytes += textBytes;
    // Per text: tokens never span two texts, so each text's floor holds on its own.
    lower += Math.max(Math.ceil(textBytes / MAX_BYTES_PER_TOKEN), pieceFloor(text));
  }
  return { lower: parts.total(lower), upper: parts.total(bytes), longTextChars };
}

/** At most the pre-tokenizer pieces of `text`: 1 + its ASCII letter-space pairs (0 if empty). */
export function pieceFloor(text: string): number {
  if (text.length === 0) return 0;
  let pieces = 1;
  // indexOf runs natively; prose has a space every ~6 characters (~3 ms for 3.9 MB).
  for (let space = text.indexOf(' ', 1); space !== -1; space = text.indexOf(' ', space + 1)) {
    const before = text.charCodeAt(space - 1) | 0x20; // ASCII upper case folded to lower
    if (before >= 0x61 && before <= 0x7a) pieces++;
  }
  return pieces;
}
