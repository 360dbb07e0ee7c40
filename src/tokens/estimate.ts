/**
 * Prompt token estimation: the worst case a provider will bill for a request body, counted with
 * the model's tokenizer. The per-shape rules live in shapes/; media costs in media.ts.
 */

import { GatewayError } from '../errors.js';
import type { ApiShape, RequestBody } from '../providers/types.js';
import { cachedCount, countTextTokens } from './count-cache.js';
import { PromptParts } from './prompt.js';
import { collectChat } from './shapes/chat.js';
import { collectGemini } from './shapes/gemini.js';
import { collectCompletions, collectEmbeddings } from './shapes/inputs.js';
import { collectMessages } from './shapes/messages.js';
import { collectResponses } from './shapes/responses.js';
import { countTextsInWorker, holdQueueRoom, TokenQueueFull } from './worker-pool.js';

export { closeTokenWorkers, releaseQueueRoom } from './worker-pool.js';

/**
 * Prompts with more characters than this are counted in a worker. Measured on the 2-core dev box
 * (scripts/bench-tokens.ts, English + code): o200k_base runs at ~4 M chars/s, so 16k chars hold
 * the event loop ~4-5 ms and 32k ~9 ms, while a worker round trip adds only ~0.1-0.8 ms. Below
 * 16k the hand-off buys nothing; above it every other request in flight would feel the stall.
 */
export const WORKER_THRESHOLD_CHARS = 16_000;

const collectors: Record<ApiShape, (parts: PromptParts, body: RequestBody) => void> = {
  chat: collectChat,
  completions: collectCompletions,
  embeddings: collectEmbeddings,
  responses: collectResponses,
  messages: collectMessages,
  gemini: collectGemini,
};

/** What to count for this request (no tokenizing yet). Never throws on odd bodies. */
export function collectPrompt(shape: ApiShape, body: RequestBody, model: string): PromptParts {
  const parts = new PromptParts(model);
  const collect = collectors[shape];
  if (collect && typeof body === 'object' && body !== null) collect(parts, body);
  else parts.json(body);
  return parts;
}

function countSync(texts: readonly string[], encoding: PromptParts['encoding']): number {
  let tokens = 0;
  for (const text of texts) tokens += countTextTokens(text, encoding);
  return tokens;
}

/** Worst-case prompt tokens a provider will bill for this request body, as this model's tokenizer counts them. Synchronous. */
export function promptTokens(shape: ApiShape, body: RequestBody, model: string): number {
  const parts = collectPrompt(shape, body, model);
  return parts.total(countSync(parts.texts, parts.encoding));
}

/** Same result, but large prompts are counted off the main thread (a worker) so the event loop never stalls. */
export async function countPromptTokens(
  shape: ApiShape,
  body: RequestBody,
  model: string,
  /** Whose share of the worker queue this count uses (the key id; every trial visitor shares one). */
  owner = '',
  /** Queue room held for this count before the body was parsed (holdCountRoom), if any. */
  holdKey?: string,
): Promise<number> {
  const parts = collectPrompt(shape, body, model);
  if (parts.chars <= WORKER_THRESHOLD_CHARS) return parts.total(countSync(parts.texts, parts.encoding));
  // Texts counted recently (the system prompt, earlier turns) are known; only the rest is counted,
  // on the main thread when little is left, else in a worker.
  let known = 0;
  const unknown: string[] = [];
  let unknownChars = 0;
  for (const text of parts.texts) {
    const cached = cachedCount(text, parts.encoding);
    if (cached !== undefined) known += cached;
    else {
      unknown.push(text);
      unknownChars += text.length;
    }
  }
  if (unknownChars <= WORKER_THRESHOLD_CHARS) return parts.total(known + countSync(unknown, parts.encoding));
  // A full queue refuses (429): counting on the main thread is what it protects against. The
  // texts are cut into segments batch by batch as the queue hands them to a worker.
  try {
    return parts.total(known + (await countTextsInWorker(unknown, parts.encoding, owner, holdKey)));
  } catch (error) {
    if (error instanceof TokenQueueFull) throw queueFull();
    // Correctness first: a failed worker must not fail the request, only make it slower.
    return parts.total(known + countSync(unknown, parts.encoding));
  }
}

/**
 * Holds the token queue room a large prompt's count will need (its uncacheable texts' characters:
 * countPromptTokens queues at least those, under the same owner) under `key` until the count is
 * queued or releaseQueueRoom(key): false when there is none, and the count would be refused. The
 * body probe's pre-check asks it, so such a prompt is refused before its body is taken back and
 * parsed on the main thread (~5 ms for 3.9 MB, sixteen of them in a flood). Prompts counted on
 * the main thread hold nothing (true).
 */
export function holdCountRoom(key: string, longTextChars: number, owner: string): boolean {
  if (longTextChars <= WORKER_THRESHOLD_CHARS) return true;
  return holdQueueRoom(key, longTextChars, owner);
}

/** The token queue's refusal: 429 rate_limit_exceeded, retry shortly. */
export function queueFull(): GatewayError {
  return new GatewayError(
    'rate_limit_exceeded',
    'Too many large prompts are waiting to be counted; retry shortly.',
    {
      headers: { 'retry-after': '1', 'x-should-retry': 'true' },
    },
  );
}
