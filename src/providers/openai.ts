/**
 * OpenAI's endpoints: chat completions, legacy completions, embeddings and responses.
 * Each adapter is a small table of field names around the shared checks.
 */
import type { GatewayError } from '../errors.js';
import { createChoicesAssembler } from './assemble-chat.js';
import { createResponsesAssembler } from './assemble-responses.js';
import {
  checkListLength,
  checkMessages,
  checkModel,
  checkPositiveInteger,
  checkStreamFields,
  firstError,
  invalid,
  isAbsent,
  isObject,
  member,
  positiveIntegerOrUndefined,
} from './common.js';
import { ChatStreamTap, openAiUsage, ResponsesStreamTap, responsesUsage } from './openai-stream.js';
import { chatPricingProblem, responsesPricingProblem, serviceTierProblem } from './pricing.js';
import type { ConversationState, EndpointAdapter, RequestBody } from './types.js';
import {
  chatWorstCase,
  checkChatChoices,
  checkCompletionChoices,
  checkPromptShape,
  completionsWorstCase,
  NO_OUTPUT,
  SINGLE_OUTPUT,
} from './worst-case.js';

/** A required field that may be a string or an array (prompt, input). */
function checkStringOrArray(body: RequestBody, field: string): GatewayError | null {
  const value = body[field];
  if (isAbsent(value)) return invalid(field, `Missing required parameter: '${field}'.`);
  if (typeof value !== 'string' && !Array.isArray(value)) {
    return invalid(field, `Invalid '${field}': expected a string or an array.`);
  }
  return checkListLength(field, value);
}

/** OpenAI's /v1/completions generates at most this many tokens when max_tokens is absent or null. */
export const LEGACY_COMPLETIONS_DEFAULT_CAP = 16;

function isStream(body: RequestBody): boolean {
  return body.stream === true;
}

/** The APIs that keep no conversation state and have no response ids worth remembering. */
const STATELESS = {
  conversationState: (): ConversationState => ({}),
  responseIdFromJson: (): undefined => undefined,
};

/**
 * Chat's two cap fields. An upstream may read either, so when a client sent both the larger is
 * the request's worst case, and both carry the granted cap. With one, `capField` (the served
 * model's field) replaces it: o-series models refuse max_tokens.
 */
function chatRequestedCap(body: RequestBody): number | undefined {
  const completion = positiveIntegerOrUndefined(body.max_completion_tokens);
  const legacy = positiveIntegerOrUndefined(body.max_tokens);
  if (completion === undefined) return legacy;
  return legacy === undefined ? completion : Math.max(completion, legacy);
}

/** Chat with both cap fields at different values: both carry the larger (see EndpointAdapter). */
function alignChatCapFields(body: RequestBody): boolean {
  if (isAbsent(body.max_tokens) || isAbsent(body.max_completion_tokens)) return false;
  if (body.max_tokens === body.max_completion_tokens) return false;
  const cap = chatRequestedCap(body);
  if (cap === undefined) return false;
  body.max_tokens = cap;
  body.max_completion_tokens = cap;
  return true;
}

function setChatCap(body: RequestBody, cap: number, capField: 'max_tokens' | 'max_completion_tokens'): void {
  const other = capField === 'max_tokens' ? 'max_completion_tokens' : 'max_tokens';
  const both = !isAbsent(body.max_tokens) && !isAbsent(body.max_completion_tokens);
  body[capField] = cap;
  if (both) body[other] = cap;
  else delete body[other];
}

/**
 * Chat and completions stream usage only when asked (`stream_options.include_usage`). The gateway needs
 * it to settle, so it asks, and reports whether the client had not (the tap then strips it).
 * Non-streaming requests are left alone: OpenAI rejects stream_options without stream.
 */
function requestOpenAiStreamUsage(body: RequestBody): boolean {
  if (body.stream !== true) return false;
  const options = body.stream_options;
  if (isObject(options) && options.include_usage === true) return false;
  body.stream_options = { ...(isObject(options) ? options : {}), include_usage: true };
  return true;
}

/** Chat / completions bodies made streaming, with usage in the stream (the plain answer has it). */
function asOpenAiStream(body: RequestBody): RequestBody {
  const options = isObject(body.stream_options) ? body.stream_options : {};
  return { ...body, stream: true, stream_options: { ...options, include_usage: true } };
}

/** OpenAI refuses to stream legacy completions with an explicit best_of above 1. */
function completionsCanStream(body: RequestBody): boolean {
  return !(typeof body.best_of === 'number' && body.best_of > 1);
}

export const chatCompletionsAdapter: EndpointAdapter = {
  shape: 'chat',
  path: '/v1/chat/completions',
  format: 'openai',
  provider: 'openai',
  validate: (body) =>
    firstError(
      () => checkModel(body),
      () => checkMessages(body),
      () => checkPositiveInteger(body, 'max_completion_tokens'),
      () => checkPositiveInteger(body, 'max_tokens'),
      () => checkChatChoices(body),
      () => checkStreamFields(body),
      () => chatPricingProblem(body),
    ),
  isStream,
  worstCase: chatWorstCase,
  pricingProblem: chatPricingProblem,
  ...STATELESS,
  requestedOutputCap: chatRequestedCap,
  setOutputCap: setChatCap,
  alignCapFields: alignChatCapFields,
  requestUsageInStream: requestOpenAiStreamUsage,
  usageFromJson: (json) => openAiUsage(member(json, 'usage')),
  createStreamTap: (options) => ChatStreamTap.chat(options),
  canStreamUpstream: () => true,
  asUpstreamStream: asOpenAiStream,
  createAssembler: () => createChoicesAssembler('chat', ChatStreamTap.chat({ stripUsageChunk: false })),
};

export const completionsAdapter: EndpointAdapter = {
  shape: 'completions',
  path: '/v1/completions',
  format: 'openai',
  provider: 'openai',
  validate: (body) =>
    firstError(
      () => checkModel(body),
      () => checkStringOrArray(body, 'prompt'),
      () => checkPromptShape(body.prompt),
      () => checkPositiveInteger(body, 'max_tokens'),
      () => checkStreamFields(body),
      () => checkCompletionChoices(body),
      () => serviceTierProblem(body),
    ),
  isStream,
  // Per prompt, best_of completions are generated and billed (n returned): cap x best_of x prompts.
  worstCase: completionsWorstCase,
  pricingProblem: serviceTierProblem,
  ...STATELESS,
  // Absent max_tokens means the provider's default of 16: that is the request's cap. Answering it
  // (not undefined) keeps the body as sent, so the client gets the 16 tokens it would have got
  // without the gateway, and the reservation is for 16, not the model's maximum.
  requestedOutputCap: (body) => positiveIntegerOrUndefined(body.max_tokens) ?? LEGACY_COMPLETIONS_DEFAULT_CAP,
  setOutputCap(body, cap) {
    body.max_tokens = cap;
  },
  requestUsageInStream: requestOpenAiStreamUsage,
  usageFromJson: (json) => openAiUsage(member(json, 'usage')),
  createStreamTap: (options) => ChatStreamTap.completions(options),
  canStreamUpstream: completionsCanStream,
  asUpstreamStream: asOpenAiStream,
  createAssembler: () =>
    createChoicesAssembler('completions', ChatStreamTap.completions({ stripUsageChunk: false })),
};

export const embeddingsAdapter: EndpointAdapter = {
  shape: 'embeddings',
  path: '/v1/embeddings',
  format: 'openai',
  provider: 'openai',
  validate: (body) =>
    firstError(
      () => checkModel(body),
      () => checkStringOrArray(body, 'input'),
    ),
  isStream: () => false,
  worstCase: () => NO_OUTPUT,
  pricingProblem: () => null,
  ...STATELESS,
  requestedOutputCap: () => undefined,
  setOutputCap() {
    // Embeddings generate no tokens: nothing to cap.
  },
  requestUsageInStream: () => false,
  usageFromJson: (json) => openAiUsage(member(json, 'usage')),
  // Embeddings never stream; a pass-through tap keeps the pipeline uniform.
  createStreamTap: (options) => ChatStreamTap.chat({ ...options, stripUsageChunk: false }),
  // Embeddings have no stream: they go upstream as they are.
  canStreamUpstream: () => false,
  asUpstreamStream: (body) => ({ ...body }),
  createAssembler: () => createChoicesAssembler('chat', ChatStreamTap.chat({ stripUsageChunk: false })),
};

/** Fields any one of which gives a Responses request something to answer. */
const RESPONSES_INPUT_FIELDS = ['input', 'instructions', 'prompt', 'previous_response_id', 'conversation'];

function responsesConversationState(body: RequestBody): ConversationState {
  const state: ConversationState = {};
  if (typeof body.previous_response_id === 'string' && body.previous_response_id.length > 0) {
    state.previousResponseId = body.previous_response_id;
  }
  const conversation = isObject(body.conversation) ? body.conversation.id : body.conversation;
  if (typeof conversation === 'string' && conversation.length > 0) state.conversationId = conversation;
  return state;
}

export const responsesAdapter: EndpointAdapter = {
  shape: 'responses',
  path: '/v1/responses',
  format: 'openai',
  provider: 'openai',
  validate: (body) =>
    firstError(
      () => checkModel(body),
      () =>
        RESPONSES_INPUT_FIELDS.some((field) => !isAbsent(body[field]))
          ? null
          : invalid('input', "Missing required parameter: 'input' (or 'instructions')."),
      () =>
        isAbsent(body.input) || typeof body.input === 'string' || Array.isArray(body.input)
          ? null
          : invalid('input', "Invalid 'input': expected a string or an array."),
      () => checkListLength('input', body.input),
      () => checkPositiveInteger(body, 'max_output_tokens'),
      () => checkStreamFields(body),
      () => responsesPricingProblem(body),
    ),
  isStream,
  // One output; reasoning tokens are output tokens inside max_output_tokens.
  worstCase: () => SINGLE_OUTPUT,
  pricingProblem: responsesPricingProblem,
  conversationState: responsesConversationState,
  responseIdFromJson: (json) => {
    const id = member(json, 'id');
    return typeof id === 'string' && id.length > 0 ? id : undefined;
  },
  requestedOutputCap: (body) => positiveIntegerOrUndefined(body.max_output_tokens),
  setOutputCap(body, cap) {
    body.max_output_tokens = cap;
  },
  // Responses streams always end with usage in response.completed.
  requestUsageInStream: () => false,
  usageFromJson: (json) => responsesUsage(member(json, 'usage')),
  createStreamTap: (options) => new ResponsesStreamTap(options),
  canStreamUpstream: () => true,
  asUpstreamStream: (body) => ({ ...body, stream: true }),
  createAssembler: createResponsesAssembler,
};
