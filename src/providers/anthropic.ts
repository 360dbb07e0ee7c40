/**
 * Anthropic's Messages API: request checks, usage, and the stream tap.
 *
 * Stream usage comes in two parts: `message_start` carries the input side (input, cache read, cache
 * write) and a provisional output count; `message_delta` carries the cumulative output count (and, in
 * newer API versions, the input side again). Usage is complete once a message_delta arrived.
 */
import type { Usage } from '../usage.js';
import {
  checkMessages,
  checkModel,
  checkPositiveInteger,
  checkStreamFields,
  count,
  firstError,
  isObject,
  member,
  positiveIntegerOrUndefined,
} from './common.js';
import { collectStringMembers, type SseFields, sseEventType, stringMembersOf, tryParseJson } from './sse.js';
import { SseTap } from './tap.js';
import type { EndpointAdapter } from './types.js';

/** Anthropic usage in the gateway's terms (input_tokens already excludes cache reads and writes). */
export function anthropicUsage(usage: unknown): Usage | undefined {
  if (!isObject(usage)) return undefined;
  return {
    inputTokens: count(usage.input_tokens),
    cachedInputTokens: count(usage.cache_read_input_tokens),
    cacheWriteTokens: count(usage.cache_creation_input_tokens),
    outputTokens: count(usage.output_tokens),
    reasoningTokens: count(member(usage.output_tokens_details, 'thinking_tokens')),
  };
}

/** Keys whose string values are generated text in a content_block_delta. */
const DELTA_TEXT = stringMembersOf(['text', 'partial_json', 'thinking']);

export class AnthropicStreamTap extends SseTap {
  constructor() {
    // Anthropic always streams usage: nothing to strip.
    super(false);
  }

  protected read(fields: SseFields): void {
    const data = fields.data;
    if (data === undefined) return;
    const type = sseEventType(fields);
    if (type === 'content_block_delta') {
      collectStringMembers(data, DELTA_TEXT, this.text.list);
    } else if (type === 'message_start') {
      const usage = anthropicUsage(member(member(tryParseJson(data), 'message'), 'usage'));
      if (usage !== undefined) this.current = usage;
    } else if (type === 'message_delta') {
      const usage = member(tryParseJson(data), 'usage');
      if (isObject(usage)) {
        this.current = mergeDeltaUsage(this.current, usage);
        this.complete = true;
      }
    }
  }
}

/** message_delta counts are cumulative: each one present (not null) replaces the earlier value. */
function mergeDeltaUsage(base: Usage | undefined, delta: Record<string, unknown>): Usage {
  const merged: Usage = base
    ? { ...base }
    : { inputTokens: 0, cachedInputTokens: 0, cacheWriteTokens: 0, outputTokens: 0, reasoningTokens: 0 };
  if (typeof delta.input_tokens === 'number') merged.inputTokens = count(delta.input_tokens);
  if (typeof delta.cache_read_input_tokens === 'number') {
    merged.cachedInputTokens = count(delta.cache_read_input_tokens);
  }
  if (typeof delta.cache_creation_input_tokens === 'number') {
    merged.cacheWriteTokens = count(delta.cache_creation_input_tokens);
  }
  if (typeof delta.output_tokens === 'number') merged.outputTokens = count(delta.output_tokens);
  const thinking = member(delta.output_tokens_details, 'thinking_tokens');
  if (typeof thinking === 'number') merged.reasoningTokens = count(thinking);
  return merged;
}

export const messagesAdapter: EndpointAdapter = {
  shape: 'messages',
  path: '/v1/messages',
  format: 'anthropic',
  provider: 'anthropic',
  // max_tokens is required by Anthropic, but the gateway sets it when missing, so absent is fine here.
  validate: (body) =>
    firstError(
      () => checkModel(body),
      () => checkMessages(body),
      () => checkPositiveInteger(body, 'max_tokens'),
      () => checkStreamFields(body),
    ),
  isStream: (body) => body.stream === true,
  requestedOutputCap: (body) => positiveIntegerOrUndefined(body.max_tokens),
  setOutputCap(body, cap) {
    body.max_tokens = cap;
  },
  requestUsageInStream: () => false,
  usageFromJson: (json) => anthropicUsage(member(json, 'usage')),
  createStreamTap: () => new AnthropicStreamTap(),
};
