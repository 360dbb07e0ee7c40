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
  /**
   * UTF-8 bytes of generatedText(), maintained as events arrive (O(1) per call). An upper bound on
   * the output tokens relayed (every token is at least one byte): the meter's cheap count between
   * exact ones (countedOutputTokens).
   */
  generatedUtf8Bytes(): number;
  /**
   * The bytes that end the stream, after what was relayed so far, as the provider ends one cut at
   * its output cap: OpenAI chat / completions a `finish_reason: "length"` chunk for every choice
   * still open, the usage chunk when `includeUsage` (the CLIENT asked for it), `[DONE]`; Anthropic
   * `content_block_stop` for an open block, `message_delta` (stop_reason max_tokens, usage),
   * `message_stop`; Responses the open items closed with status "incomplete", `response.incomplete`.
   * `usage` is what the ending reports (the settle's figures). An unfinished event the tap held
   * back (see `wholeEvents`) is dropped: it never reached the client. Call once, instead of flush().
   */
  endAtCap(usage: Usage, includeUsage: boolean): Uint8Array;
  /**
   * The bytes that end a failed stream with an error event the official SDKs raise on (OpenAI
   * chat / completions `data: {"error":{...}}`, Responses `event: error` with the error nested,
   * then `response.failed`; Anthropic `event: error`). Call once, instead of flush().
   */
  endWithError(error: StreamError): Uint8Array;
}

/** An error a stream ends with (OpenAI `type` / `code`; Anthropic uses `type`). */
export interface StreamError {
  message: string;
  type: string;
  code?: string;
}

/** Options of createStreamTap. */
export interface StreamTapOptions {
  /** Remove the usage chunk (and `"usage":null` members) the gateway asked for (OpenAI chat / completions). */
  stripUsageChunk: boolean;
  /**
   * Forward only whole events: the unfinished tail of a chunk is held back until its event
   * completes. Needed when the stream may be ended by endAtCap / endWithError, so the ending never
   * follows half an event. Default false (chunks forwarded as they come).
   */
  wholeEvents?: boolean;
}

/**
 * Builds the provider's non-streaming answer from its stream (plain requests forwarded upstream as
 * streams). Reads the same usage and text as a StreamTap, so the same meter works on it.
 */
export interface StreamAssembler {
  /** Raw SSE bytes, split anywhere. */
  push(chunk: Uint8Array): void;
  /** The last usage the stream reported (as StreamTap.usage). */
  usage(): Usage | undefined;
  /** As StreamTap.usageComplete. */
  usageComplete(): boolean;
  /** As StreamTap.generatedText. */
  generatedText(): string;
  /** As StreamTap.generatedUtf8Bytes. */
  generatedUtf8Bytes(): number;
  /** As StreamTap.countedOutputTokens. */
  countedOutputTokens(model: string): number;
  /**
   * The JSON body the provider returns for the same request when not streamed, field for field;
   * undefined when the stream did not finish (no final event seen).
   */
  result(): unknown;
  /**
   * The body the provider returns when its output cap cuts the answer here (chat / completions
   * finish_reason "length" for unfinished choices, Anthropic stop_reason "max_tokens", Responses
   * status "incomplete" with incomplete_details), usage from `usage`.
   */
  resultAtCap(usage: Usage): unknown;
  /**
   * The error the stream ended with (OpenAI `data: {"error":...}` / Responses `event: error`,
   * Anthropic `event: error`), as the provider's plain error body (`{error: {...}}`;
   * Anthropic `{type: "error", error: {...}}`): what a plain client should get instead of result().
   * Undefined when none was sent.
   */
  failure(): unknown;
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
  createStreamTap(options: StreamTapOptions): StreamTap;
  /**
   * False when the provider cannot stream this request (embeddings; completions with best_of > 1),
   * so a plain request must go upstream plain; true otherwise.
   */
  canStreamUpstream(body: RequestBody): boolean;
  /**
   * A copy of a plain body made streaming (`stream: true`; chat / completions also
   * `stream_options: {include_usage: true}`), nothing else changed. The input is not modified.
   */
  asUpstreamStream(body: RequestBody): RequestBody;
  /** An assembler of this API's plain answer from its stream. */
  createAssembler(): StreamAssembler;
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
  /**
   * APIs whose streaming method has its own URL (Gemini `:streamGenerateContent?alt=sse`): where a
   * plain request the gateway streams upstream to meter it goes (before the provider's base path),
   * query included. Absent: the plain request's own path, the body saying it streams.
   */
  upstreamStreamPathFor?(upstreamModel: string): string;
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
