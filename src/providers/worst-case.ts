/**
 * How many output sequences a request can make the provider bill, and the checks that keep that
 * number honest. The engine reserves `outputCap x outputMultiplier` output tokens; prompt tokens
 * (tokens/estimate.ts) already count every prompt of a batch once.
 *
 * OpenAI's limits, answered the way OpenAI answers them (400 naming the field):
 * - chat `n`: 1..128, default 1; every choice is billed.
 * - completions `n`: 1..128; `best_of`: 1..20, at least `n`, default `n`; OpenAI generates and bills
 *   `best_of` completions per prompt and returns `n`; best_of > 1 cannot be streamed.
 * - completions `prompt`: a string or an array of numbers (token ids) is one prompt; an array of
 *   strings or of token arrays is one prompt per item, each answered with its own choices.
 */
import type { GatewayError } from '../errors.js';
import { invalid, isAbsent } from './common.js';
import type { RequestBody } from './types.js';

export interface WorstCase {
  /**
   * Output sequences the provider may bill, each up to the output cap: reserve `cap x this`.
   * 0 for embeddings (no output). Equals `prompts x generatedPerPrompt`.
   */
  outputMultiplier: number;
  /** Prompts in the request (> 1 only for a legacy completions batch). */
  prompts: number;
  /** Sequences generated (and billed) per prompt: chat `n`, completions `best_of` (>= `n`). */
  generatedPerPrompt: number;
  /** Sequences returned to the client per prompt (`n`). */
  returnedPerPrompt: number;
}

export const MAX_CHOICES = 128;
export const MAX_BEST_OF = 20;

export const SINGLE_OUTPUT: Readonly<WorstCase> = Object.freeze({
  outputMultiplier: 1,
  prompts: 1,
  generatedPerPrompt: 1,
  returnedPerPrompt: 1,
});

export const NO_OUTPUT: Readonly<WorstCase> = Object.freeze({
  outputMultiplier: 0,
  prompts: 1,
  generatedPerPrompt: 0,
  returnedPerPrompt: 0,
});

/** A positive integer field at most `max` (absent or null is fine); a 400 naming it otherwise. */
export function checkCount(body: RequestBody, field: string, max: number): GatewayError | null {
  const value = body[field];
  if (isAbsent(value)) return null;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
    const got = typeof value === 'number' ? String(value) : JSON.stringify(value);
    return invalid(field, `Invalid '${field}': expected a positive integer, but got ${got}.`);
  }
  if (value > max) {
    return invalid(field, `Invalid '${field}': ${value} is greater than the maximum of ${max}.`);
  }
  return null;
}

function countOr(value: unknown, fallback: number): number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value > 0 ? value : fallback;
}

/** Chat: `n` within OpenAI's range. */
export function checkChatChoices(body: RequestBody): GatewayError | null {
  return checkCount(body, 'n', MAX_CHOICES);
}

/** Legacy completions: `n` and `best_of` in range, best_of >= n, no stream with best_of > 1. */
export function checkCompletionChoices(body: RequestBody): GatewayError | null {
  const error = checkCount(body, 'n', MAX_CHOICES) ?? checkCount(body, 'best_of', MAX_BEST_OF);
  if (error) return error;
  const n = countOr(body.n, 1);
  if (!isAbsent(body.best_of)) {
    const bestOf = countOr(body.best_of, 1);
    if (bestOf < n) {
      return invalid('best_of', `Invalid 'best_of': best_of (${bestOf}) must be at least n (${n}).`);
    }
    if (bestOf > 1 && body.stream === true) {
      return invalid(
        'best_of',
        "Invalid 'best_of': results cannot be streamed when best_of is greater than 1.",
      );
    }
  }
  return null;
}

/**
 * A completions `prompt` must be one of the shapes OpenAI takes: a string, or an array all of
 * strings, all of numbers (token ids) or all of arrays (token-id lists). A mixed array would make
 * the number of prompts ambiguous.
 */
export function checkPromptShape(prompt: unknown): GatewayError | null {
  if (!Array.isArray(prompt) || prompt.length === 0) return null;
  const kind = itemKind(prompt[0]);
  for (let i = 1; i < prompt.length; i++) {
    if (itemKind(prompt[i]) !== kind) {
      return invalid(
        'prompt',
        "Invalid 'prompt': expected a string, or an array of strings, of token ids or of token-id arrays (not a mix).",
      );
    }
  }
  return null;
}

function itemKind(item: unknown): string {
  if (Array.isArray(item)) return 'array';
  return typeof item;
}

/** How many prompts a completions `prompt` holds: an array of numbers is one prompt (token ids). */
export function promptCount(prompt: unknown): number {
  if (!Array.isArray(prompt) || prompt.length === 0) return 1;
  return typeof prompt[0] === 'number' ? 1 : prompt.length;
}

export function chatWorstCase(body: RequestBody): WorstCase {
  const n = countOr(body.n, 1);
  return { outputMultiplier: n, prompts: 1, generatedPerPrompt: n, returnedPerPrompt: n };
}

export function completionsWorstCase(body: RequestBody): WorstCase {
  const n = countOr(body.n, 1);
  // Never below n: validate() refuses best_of < n, but the worst case must hold on any body.
  const generated = Math.max(n, countOr(body.best_of, n));
  const prompts = promptCount(body.prompt);
  return {
    outputMultiplier: prompts * generated,
    prompts,
    generatedPerPrompt: generated,
    returnedPerPrompt: n,
  };
}
