/**
 * Taps for OpenAI streams.
 *
 * Chat / completions: every event is `data: {chunk}` and the stream ends with `data: [DONE]`. With
 * `stream_options.include_usage`, OpenAI adds `"usage":null` to every chunk and one last chunk with
 * `"choices":[]` and the usage object. When the gateway asked for that (the client did not), the tap
 * removes both, by cutting bytes, so the client gets the stream it would have had without the option.
 *
 * Responses: named events; usage arrives in `response.completed` (or `.incomplete` / `.failed`).
 *
 * Usage fields read (anything else is ignored; a missing or odd count is 0):
 * | gateway field     | chat / completions / embeddings           | Responses                              |
 * |-------------------|-------------------------------------------|----------------------------------------|
 * | inputTokens       | prompt_tokens - cached                     | input_tokens - cached                  |
 * | cachedInputTokens | prompt_tokens_details.cached_tokens        | input_tokens_details.cached_tokens     |
 * | cacheWriteTokens  | 0 (OpenAI caches for free)                 | 0                                      |
 * | outputTokens      | completion_tokens (all choices, reasoning and rejected prediction tokens included) | output_tokens (reasoning included) |
 * | reasoningTokens   | completion_tokens_details.reasoning_tokens | output_tokens_details.reasoning_tokens |
 * Audio tokens (prompt/completion_tokens_details.audio_tokens) are inside prompt/completion_tokens
 * and billed here at the text price: audio output is refused up front (pricing.ts); audio input
 * parts are counted as their JSON by the estimate.
 */
import type { Usage } from '../usage.js';
import { count, isObject, member } from './common.js';
import { ResponseTracker } from './responses-endings.js';
import { collectStringMembers, type SseFields, sseEventType, stringMembersOf, tryParseJson } from './sse.js';
import { ChoiceTracker, openAiErrorEnding } from './stream-endings.js';
import { SseTap } from './tap.js';
import type { StreamError, StreamTapOptions } from './types.js';

/** OpenAI usage (chat, completions, embeddings) in the gateway's terms; undefined when not an object. */
export function openAiUsage(usage: unknown): Usage | undefined {
  if (!isObject(usage)) return undefined;
  const prompt = count(usage.prompt_tokens);
  // DeepSeek bills by prompt_cache_hit_tokens / _miss_tokens (hit + miss = prompt_tokens); when it
  // sends them they are what it charged, whatever prompt_tokens_details says.
  const hit = usage.prompt_cache_hit_tokens;
  const cachedReported = typeof hit === 'number' ? hit : member(usage.prompt_tokens_details, 'cached_tokens');
  const cached = Math.min(prompt, count(cachedReported));
  const result: Usage = {
    inputTokens: prompt - cached,
    cachedInputTokens: cached,
    cacheWriteTokens: 0,
    outputTokens: count(usage.completion_tokens),
    reasoningTokens: count(member(usage.completion_tokens_details, 'reasoning_tokens')),
  };
  // OpenRouter reports what it charged (USD credits): recorded next to our price, never billed.
  const cost = providerCostNano(usage.cost);
  if (cost !== undefined) result.providerCostNano = cost;
  return result;
}

/** A provider-reported USD cost as nano-USD, rounded up like every cost; undefined when absent or odd. */
function providerCostNano(value: unknown): number | undefined {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) return undefined;
  return Math.ceil(Math.round(value * 1e12) / 1e3);
}

/** Groq streams put usage in `x_groq.usage` of the last chunk, not in a usage chunk of their own. */
function groqUsage(chunk: unknown): Usage | undefined {
  return openAiUsage(member(member(chunk, 'x_groq'), 'usage'));
}

/** Responses API usage in the gateway's terms; undefined when not an object. */
export function responsesUsage(usage: unknown): Usage | undefined {
  if (!isObject(usage)) return undefined;
  const input = count(usage.input_tokens);
  const cached = Math.min(input, count(member(usage.input_tokens_details, 'cached_tokens')));
  return {
    inputTokens: input - cached,
    cachedInputTokens: cached,
    cacheWriteTokens: 0,
    outputTokens: count(usage.output_tokens),
    reasoningTokens: count(member(usage.output_tokens_details, 'reasoning_tokens')),
  };
}

/** Keys whose string values are generated text in a chat / completions chunk. */
const CHAT_TEXT = stringMembersOf(['content', 'refusal', 'arguments', 'reasoning_content']);
const COMPLETIONS_TEXT = stringMembersOf(['text']);
const DELTA = stringMembersOf(['delta']);

export class ChatStreamTap extends SseTap {
  private readonly choices: ChoiceTracker;
  private readonly strip: boolean;

  constructor(
    private readonly textMembers: RegExp,
    kind: 'chat' | 'completions',
    options: StreamTapOptions,
  ) {
    super(options.stripUsageChunk || options.wholeEvents === true);
    this.strip = options.stripUsageChunk;
    this.choices = new ChoiceTracker(kind);
  }

  static chat(options: StreamTapOptions): ChatStreamTap {
    return new ChatStreamTap(CHAT_TEXT, 'chat', options);
  }

  static completions(options: StreamTapOptions): ChatStreamTap {
    return new ChatStreamTap(COMPLETIONS_TEXT, 'completions', options);
  }

  protected read(fields: SseFields): void {
    const data = fields.data;
    if (data === undefined || data === '[DONE]') return;
    if (data.includes('"usage":{')) {
      const chunk = tryParseJson(data);
      const usage = openAiUsage(member(chunk, 'usage')) ?? groqUsage(chunk);
      if (usage !== undefined) this.report(usage);
    }
    collectStringMembers(data, this.textMembers, this.text.list);
    this.choices.read(data);
  }

  protected capEnding(usage: Usage, includeUsage: boolean): string {
    return this.choices.capEnding(usage, includeUsage);
  }

  protected errorEnding(error: StreamError): string {
    return openAiErrorEnding(error);
  }

  /** Cuts the usage member (or the whole usage chunk) as views of the event: no copy until the tap joins. */
  protected override rewrite(event: Uint8Array, fields: SseFields, out: Uint8Array[]): boolean {
    const data = fields.data;
    // Groq's own usage inside x_groq is part of the stream its clients always get: left as it is.
    const cut =
      !this.strip || data === undefined || !data.includes('"usage":') || data.includes('"x_groq":')
        ? null
        : findUsageCut(event, data.includes('"choices":[]'));
    if (cut === 'drop') return true;
    if (cut === null) {
      out.push(event);
      return false;
    }
    if (cut.start > 0) out.push(event.subarray(0, cut.start));
    if (cut.end < event.length) out.push(event.subarray(cut.end));
    return true;
  }
}

const RESPONSES_TEXT_DELTAS = new Set([
  'response.output_text.delta',
  'response.refusal.delta',
  'response.function_call_arguments.delta',
  'response.custom_tool_call_input.delta',
  'response.mcp_call_arguments.delta',
  'response.code_interpreter_call_code.delta',
  'response.reasoning_text.delta',
  'response.reasoning_summary_text.delta',
  'response.audio.transcript.delta',
]);

/** The response id in response.created, which puts it first in `response` (no parse of the echoed request). */
const RESPONSE_ID = /"response": *\{ *"id": *"([^"\\]+)"/;

const RESPONSES_FINAL = new Set(['response.completed', 'response.incomplete', 'response.failed']);

export class ResponsesStreamTap extends SseTap {
  private readonly tracker = new ResponseTracker();

  constructor(options: { wholeEvents?: boolean } = {}) {
    // The Responses API always reports usage: nothing to strip; rewrite() forwards events as they are.
    super(options.wholeEvents === true);
  }

  protected capEnding(usage: Usage): string {
    return this.tracker.capEnding(usage);
  }

  protected errorEnding(error: StreamError): string {
    return this.tracker.errorEnding(error);
  }

  protected read(fields: SseFields): void {
    const data = fields.data;
    if (data === undefined) return;
    const type = sseEventType(fields);
    this.tracker.read(type, data);
    if (type !== undefined && RESPONSES_TEXT_DELTAS.has(type)) {
      collectStringMembers(data, DELTA, this.text.list);
      return;
    }
    if (type === 'response.created' && this.id === undefined) {
      this.id = RESPONSE_ID.exec(data)?.[1];
      return;
    }
    if ((type === undefined || RESPONSES_FINAL.has(type)) && data.includes('"usage":{')) {
      const response = member(tryParseJson(data), 'response');
      const id = member(response, 'id');
      if (typeof id === 'string') this.id = id;
      const usage = responsesUsage(member(response, 'usage'));
      if (usage !== undefined) this.report(usage);
    }
  }
}

const USAGE_KEY = new TextEncoder().encode('"usage":');

/** What to cut from an event: all of it, a byte range, or nothing. */
export type UsageCut = 'drop' | { start: number; end: number } | null;

/**
 * Finds the top-level `"usage":...` member in an event's bytes (OpenAI writes it last, so the last
 * occurrence), with its separating comma. 'drop' when it is the gateway's usage chunk (a usage object
 * with `"choices":[]`); null for unexpected shapes, which are forwarded unchanged.
 */
export function findUsageCut(event: Uint8Array, noChoices: boolean): UsageCut {
  const bytes = event;
  // A backward scan: the member sits at the end of the chunk, so this reads a few dozen bytes.
  const keyAt = lastIndexOfBytes(bytes, USAGE_KEY);
  if (keyAt < 0) return null;
  const valueAt = skipSpaces(bytes, keyAt + USAGE_KEY.length);
  let valueEnd: number;
  if (bytes[valueAt] === 0x7b /* { */) {
    if (noChoices) return 'drop';
    valueEnd = endOfObject(bytes, valueAt);
  } else if (
    bytes[valueAt] === 0x6e /* n */ &&
    bytes[valueAt + 1] === 0x75 &&
    bytes[valueAt + 2] === 0x6c &&
    bytes[valueAt + 3] === 0x6c
  ) {
    valueEnd = valueAt + 4;
  } else {
    return null;
  }
  if (valueEnd < 0) return null;
  const before = skipSpacesBackward(bytes, keyAt - 1);
  if (bytes[before] === 0x2c /* , */) return { start: before, end: valueEnd };
  const after = skipSpaces(bytes, valueEnd);
  return { start: keyAt, end: bytes[after] === 0x2c ? after + 1 : valueEnd };
}

function lastIndexOfBytes(bytes: Uint8Array, needle: Uint8Array): number {
  const last = needle.length - 1;
  outer: for (let i = bytes.length - needle.length; i >= 0; i--) {
    if (bytes[i + last] !== needle[last]) continue;
    for (let k = 0; k < last; k++) if (bytes[i + k] !== needle[k]) continue outer;
    return i;
  }
  return -1;
}

function skipSpaces(bytes: Uint8Array, at: number): number {
  while (bytes[at] === 0x20) at++;
  return at;
}

function skipSpacesBackward(bytes: Uint8Array, at: number): number {
  while (at >= 0 && bytes[at] === 0x20) at--;
  return at;
}

/** Index just past the `}` closing the object that starts at `start`; -1 when unterminated. */
function endOfObject(bytes: Uint8Array, start: number): number {
  let depth = 0;
  let inString = false;
  for (let i = start; i < bytes.length; i++) {
    const byte = bytes[i];
    if (inString) {
      if (byte === 0x5c) i++;
      else if (byte === 0x22) inString = false;
    } else if (byte === 0x22) {
      inString = true;
    } else if (byte === 0x7b || byte === 0x5b) {
      depth++;
    } else if (byte === 0x7d || byte === 0x5d) {
      depth--;
      if (depth === 0) return i + 1;
    }
  }
  return -1;
}
