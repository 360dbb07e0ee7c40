/**
 * Anthropic's Messages API: request checks, usage, and the stream tap.
 *
 * Stream usage comes in two parts: `message_start` carries the input side (input, cache read, cache
 * write) and a provisional output count; `message_delta` carries the cumulative output count (and, in
 * newer API versions, the input side again). Usage is complete once a message_delta arrived.
 *
 * Usage fields read (anything else is ignored; a missing or odd count is 0):
 * | gateway field     | Anthropic                                                              |
 * |-------------------|------------------------------------------------------------------------|
 * | inputTokens       | input_tokens (already excludes cache reads and writes)                 |
 * | cachedInputTokens | cache_read_input_tokens                                                |
 * | cacheWriteTokens  | cache_creation_input_tokens (= cache_creation.ephemeral_5m_input_tokens |
 * |                   | + ephemeral_1h_input_tokens; all billed at the 5-minute write price:   |
 * |                   | requests asking for 1-hour writes are refused up front, see pricing.ts) |
 * | outputTokens      | output_tokens (thinking included)                                      |
 * | reasoningTokens   | output_tokens_details.thinking_tokens, when sent                       |
 * server_tool_use (web_search_requests) is not read: server-side tools are refused up front.
 */
import type { Usage } from '../usage.js';
import { createMessagesAssembler } from './assemble-messages.js';
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
import { messagesPricingProblem } from './pricing.js';
import { collectStringMembers, type SseFields, sseEventType, stringMembersOf, tryParseJson } from './sse.js';
import { anthropicErrorEnding, MessageTracker } from './stream-endings.js';
import { SseTap } from './tap.js';
import type { EndpointAdapter, RequestBody, StreamError } from './types.js';
import { SINGLE_OUTPUT } from './worst-case.js';

/** Anthropic refuses an extended-thinking budget below this. */
export const MIN_THINKING_BUDGET = 1024;

/**
 * Thinking tokens are output tokens inside max_tokens, and Anthropic requires
 * 1024 <= budget_tokens < max_tokens. When the gateway lowers max_tokens, the budget goes to
 * cap - 1; when that is below the minimum, thinking is turned off (a request the API accepts,
 * rather than one it rejects). Adaptive thinking (no budget) needs nothing.
 */
function fitThinking(body: RequestBody, cap: number): void {
  const thinking = body.thinking;
  if (!isObject(thinking) || thinking.type !== 'enabled') return;
  const budget = thinking.budget_tokens;
  if (typeof budget !== 'number' || budget < cap) return;
  if (cap - 1 < MIN_THINKING_BUDGET) delete body.thinking;
  else body.thinking = { ...thinking, budget_tokens: cap - 1 };
}

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
  private readonly tracker = new MessageTracker();

  constructor(options: { wholeEvents?: boolean } = {}) {
    // Anthropic always streams usage: nothing to strip; rewrite() forwards events as they are.
    super(options.wholeEvents === true);
  }

  protected capEnding(usage: Usage): string {
    return this.tracker.capEnding(usage);
  }

  protected errorEnding(error: StreamError): string {
    return anthropicErrorEnding(error);
  }

  protected read(fields: SseFields): void {
    const data = fields.data;
    if (data === undefined) return;
    const type = sseEventType(fields);
    this.tracker.read(type, data);
    if (type === 'content_block_delta') {
      collectStringMembers(data, DELTA_TEXT, this.text.list);
    } else if (type === 'message_start') {
      const usage = anthropicUsage(member(member(tryParseJson(data), 'message'), 'usage'));
      // Provisional: output_tokens here is a placeholder until message_delta.
      if (usage !== undefined) this.report(usage, false);
    } else if (type === 'message_delta') {
      const usage = member(tryParseJson(data), 'usage');
      if (isObject(usage)) this.report(mergeDeltaUsage(this.lastReport(), usage));
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
      () => messagesPricingProblem(body),
    ),
  isStream: (body) => body.stream === true,
  // One output; thinking is inside max_tokens (setOutputCap keeps its budget below the cap).
  worstCase: () => SINGLE_OUTPUT,
  pricingProblem: messagesPricingProblem,
  conversationState: () => ({}),
  responseIdFromJson: () => undefined,
  requestedOutputCap: (body) => positiveIntegerOrUndefined(body.max_tokens),
  setOutputCap(body, cap) {
    body.max_tokens = cap;
    fitThinking(body, cap);
  },
  requestUsageInStream: () => false,
  usageFromJson: (json) => anthropicUsage(member(json, 'usage')),
  createStreamTap: (options) => new AnthropicStreamTap(options),
  canStreamUpstream: () => true,
  asUpstreamStream: (body) => ({ ...body, stream: true }),
  createAssembler: () => createMessagesAssembler(new AnthropicStreamTap()),
};
