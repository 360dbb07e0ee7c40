/**
 * One adapter per client-facing endpoint shape. The proxy pipeline knows nothing about wire formats;
 * everything format-specific (field names, usage, SSE events) lives behind this interface.
 */
import type { ApiFormat, GatewayError } from '../errors.js';
import type { Usage } from '../usage.js';

export type ApiShape = 'chat' | 'completions' | 'embeddings' | 'responses' | 'messages' | 'gemini';
/**
 * How the gateway talks to a provider upstream. `azure` and `openai-compatible` speak OpenAI's wire
 * format (clients call them through the OpenAI endpoints); `google` speaks Gemini's.
 */
export type ProviderKind = 'openai' | 'anthropic' | 'google' | 'azure' | 'openai-compatible';
/** The client-facing wire format an endpoint speaks, and the one each provider kind is served to. */
export type ProviderWire = 'openai' | 'anthropic' | 'google';

export function wireOfKind(kind: ProviderKind): ProviderWire {
  if (kind === 'anthropic' || kind === 'google') return kind;
  return 'openai';
}

/** The request body as parsed JSON (an object; validated by the adapter). */
export type RequestBody = Record<string, unknown>;

export interface StreamTap {
  /**
   * Feeds one upstream chunk; returns the bytes to forward to the client (the same buffer when
   * nothing was removed, a shorter one when the gateway's own usage chunk was cut out, or null
   * when nothing is to be forwarded yet).
   */
  push(chunk: Uint8Array): Uint8Array | null;
  /** End of the upstream stream; returns any bytes still held back. */
  flush(): Uint8Array | null;
  /** The last usage the stream reported, once seen: a later report replaces an earlier one. */
  usage(): Usage | undefined;
  /**
   * True when a usage report arrived after the last generated text, i.e. it can be final. A report
   * followed by more text (a usage object in the first chunk, Anthropic's provisional message_start
   * count) is not: usage() then covers only part of the output, and the settle bills output from
   * the relayed text (countedOutputTokens) instead, never below the report.
   */
  usageComplete(): boolean;
  /** The text generated so far (content, tool-call arguments, reasoning text), all choices. */
  generatedText(): string;
  /**
   * Tokens of generatedText() in this model's tokenizer (tiktoken; Claude counts unscaled), counted
   * once per text length. What the client was relayed: settle at no less than this.
   */
  countedOutputTokens(model: string): number;
  /** The provider's response id seen in the stream (Responses API), for ResponseTokenMemory. */
  responseId(): string | undefined;
}

/** Conversation state the provider adds to a request's input, by reference. */
export interface ConversationState {
  /** Responses `previous_response_id`: that response's input and output are input of this call. */
  previousResponseId?: string;
  /** Responses `conversation` (an id or `{ id }`): the stored conversation is input of this call. */
  conversationId?: string;
}

export interface EndpointAdapter {
  readonly shape: ApiShape;
  /** The path clients call, e.g. "/v1/chat/completions". */
  readonly path: string;
  /** The error format of this API. */
  readonly format: ApiFormat;
  /** The wire format of the providers that serve this API (see wireOfKind). */
  readonly provider: ProviderWire;
  /**
   * Validates the body's shape (model, messages/input, types, `n`/`best_of`) and ends with
   * pricingProblem(); returns a 400 naming the field, or null.
   */
  validate(body: RequestBody): GatewayError | null;
  /**
   * How many output sequences the provider can bill for this body (chat `n`, completions
   * `best_of` x prompts, 0 for embeddings): the engine reserves `outputCap x outputMultiplier`
   * output tokens. Total on any body; meaningful once validate() passed.
   */
  worstCase(body: RequestBody): WorstCase;
  /**
   * A 400 naming the field when the body asks for something billed at a price the gateway does not
   * have (service tiers, 1-hour cache writes, server-side tools, audio output); null otherwise.
   * Part of validate(); exposed so a caller that does learn such prices can decide itself.
   */
  pricingProblem(body: RequestBody): GatewayError | null;
  /** Context the provider adds by reference (Responses only; {} elsewhere). */
  conversationState(body: RequestBody): ConversationState;
  /** The provider's response id in a non-streaming JSON answer (Responses API), else undefined. */
  responseIdFromJson(json: unknown): string | undefined;
  isStream(body: RequestBody): boolean;
  /**
   * The output cap the client sent (max_tokens / max_completion_tokens / max_output_tokens), if any;
   * per output sequence. Chat with both fields: the larger (an upstream may read either).
   */
  requestedOutputCap(body: RequestBody): number | undefined;
  /**
   * Writes the output cap the gateway decided into the right field for this API and model
   * (chat: `capField`, i.e. max_tokens or max_completion_tokens; responses: max_output_tokens;
   * messages: max_tokens, lowering `thinking.budget_tokens` below it). Chat with one cap field
   * sends only `capField`; with both, both carry the cap, so no larger value is left upstream.
   */
  setOutputCap(body: RequestBody, cap: number, capField: 'max_tokens' | 'max_completion_tokens'): void;
  /**
   * Makes a body that could be read two ways say one thing before it is reserved for (chat with
   * both cap fields at different values: both get the larger, which is what is reserved). True
   * when the body changed, so the bytes sent upstream are re-serialised. Absent: nothing to align.
   */
  alignCapFields?(body: RequestBody): boolean;
  /**
   * Readies a streaming body for upstream (e.g. sets stream_options.include_usage for OpenAI).
   * Returns true when the gateway added a usage chunk the client did not ask for (the tap then removes it).
   */
  requestUsageInStream(body: RequestBody): boolean;
  /** Usage from a non-streaming JSON response; undefined when absent. */
  usageFromJson(json: unknown): Usage | undefined;
  /** A tap for this API's SSE stream. */
  createStreamTap(options: { stripUsageChunk: boolean }): StreamTap;
  /**
   * APIs whose model is in the path, not the body (Gemini `/v1beta/models/{model}:generateContent`):
   * the model named by the client's path. Absent: the body's `model`.
   */
  modelOf?(body: RequestBody, path: string): string;
  /**
   * APIs whose model is in the path: the upstream path (before the provider's base path) for the
   * served model. Absent: the endpoint's fixed path, with the served model written into the body.
   */
  upstreamPathFor?(upstreamModel: string): string;
  /** The virtual key may also come as `?key=` (Google's convention). */
  readonly acceptsQueryKey?: boolean;
}

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
