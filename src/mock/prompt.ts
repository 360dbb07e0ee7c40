/**
 * Prompt token counts the mock reports, computed with tiktoken so they are realistic:
 * - chat, Responses and Anthropic messages: OpenAI's published chat formula, i.e. per message
 *   MESSAGE_OVERHEAD + tokens(role) + tokens(text) (+ tokens(name) + 1 when named), plus
 *   REPLY_PRIMING once; system prompts / instructions count as one system message; tools and
 *   tool calls count as the tokens of their JSON; an image part counts IMAGE_TOKENS;
 * - legacy completions and embeddings: the tokens of the prompt/input (token arrays by length).
 * Claude has no public tokenizer, so Anthropic prompts are counted like OpenAI's (o200k_base).
 */
import { countTokens, type EncodingName, encodingForModel } from '../tokens/encoding.js';

export const MESSAGE_OVERHEAD = 3;
export const REPLY_PRIMING = 3;
export const IMAGE_TOKENS = 85;

type Json = Record<string, unknown>;

// Benchmarks send the same prompts over and over; tiktoken costs ~0.1 ms per few hundred
// characters, a Map lookup far less. Bounded by entries and characters: cleared when full.
const CACHE_MAX_ENTRIES = 4096;
const CACHE_MAX_CHARS = 8_000_000;
const countCache: Record<EncodingName, Map<string, number>> = {
  o200k_base: new Map(),
  cl100k_base: new Map(),
};
let cachedChars = 0;

function count(text: string, enc: EncodingName): number {
  const cache = countCache[enc];
  let n = cache.get(text);
  if (n === undefined) {
    n = countTokens(text, enc);
    if (cache.size >= CACHE_MAX_ENTRIES || cachedChars + text.length > CACHE_MAX_CHARS) {
      countCache.o200k_base.clear();
      countCache.cl100k_base.clear();
      cachedChars = 0;
    }
    if (text.length <= CACHE_MAX_CHARS) {
      cache.set(text, n);
      cachedChars += text.length;
    }
  }
  return n;
}

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Tokens of a message's content: a string, or an array of parts of any of the APIs. */
function contentTokens(content: unknown, enc: EncodingName): number {
  if (typeof content === 'string') return count(content, enc);
  if (!Array.isArray(content)) return content == null ? 0 : count(JSON.stringify(content), enc);
  let n = 0;
  for (const part of content) {
    if (typeof part === 'string') n += count(part, enc);
    else if (!isObject(part)) continue;
    else if (typeof part.text === 'string') n += count(part.text, enc);
    else if (typeof part.type === 'string' && /image/.test(part.type)) n += IMAGE_TOKENS;
    else if (part.type === 'tool_result') n += contentTokens(part.content, enc);
    else n += count(JSON.stringify(part), enc);
  }
  return n;
}

function messageTokens(message: unknown, enc: EncodingName): number {
  if (!isObject(message)) return 0;
  let n = MESSAGE_OVERHEAD;
  if (typeof message.role === 'string') n += count(message.role, enc);
  n += contentTokens(message.content, enc);
  if (typeof message.name === 'string') n += count(message.name, enc) + 1;
  if (message.tool_calls !== undefined) n += count(JSON.stringify(message.tool_calls), enc);
  // Responses API items that are not messages (function_call, function_call_output, ...).
  if (message.content === undefined && message.role === undefined) {
    n += count(JSON.stringify(message), enc);
  }
  return n;
}

function toolsTokens(tools: unknown, enc: EncodingName): number {
  return Array.isArray(tools) && tools.length > 0 ? count(JSON.stringify(tools), enc) : 0;
}

function modelOf(body: Json): string {
  return typeof body.model === 'string' ? body.model : '';
}

export function chatPromptTokens(body: Json): number {
  const enc = encodingForModel(modelOf(body));
  let n = REPLY_PRIMING + toolsTokens(body.tools, enc);
  if (Array.isArray(body.messages)) for (const m of body.messages) n += messageTokens(m, enc);
  return n;
}

export function responsesPromptTokens(body: Json): number {
  const enc = encodingForModel(modelOf(body));
  let n = REPLY_PRIMING + toolsTokens(body.tools, enc);
  if (typeof body.instructions === 'string') {
    n += messageTokens({ role: 'system', content: body.instructions }, enc);
  }
  if (typeof body.input === 'string') n += messageTokens({ role: 'user', content: body.input }, enc);
  else if (Array.isArray(body.input)) for (const item of body.input) n += messageTokens(item, enc);
  return n;
}

export function anthropicPromptTokens(body: Json): number {
  const enc = encodingForModel(modelOf(body));
  let n = REPLY_PRIMING + toolsTokens(body.tools, enc);
  if (body.system !== undefined) n += messageTokens({ role: 'system', content: body.system }, enc);
  if (Array.isArray(body.messages)) for (const m of body.messages) n += messageTokens(m, enc);
  return n;
}

/** Tokens of a legacy prompt or an embeddings input: string | string[] | number[] | number[][]. */
export function plainInputTokens(input: unknown, model: string): number {
  const enc = encodingForModel(model);
  if (typeof input === 'string') return count(input, enc);
  if (!Array.isArray(input)) return 0;
  let n = 0;
  for (const item of input) {
    if (typeof item === 'string') n += count(item, enc);
    else if (typeof item === 'number') n += 1;
    else if (Array.isArray(item)) n += item.length;
  }
  return n;
}
