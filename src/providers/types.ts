/**
 * One adapter per client-facing endpoint shape. The proxy pipeline knows nothing about wire formats;
 * everything format-specific (field names, usage, SSE events) lives behind this interface.
 */
import type { ApiFormat, GatewayError } from '../errors.js';
import type { Usage } from '../usage.js';

export type ApiShape = 'chat' | 'completions' | 'embeddings' | 'responses' | 'messages';
export type ProviderKind = 'openai' | 'anthropic';

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
  /** Usage reported in the stream, once seen (complete only after the final usage event). */
  usage(): Usage | undefined;
  /**
   * True once the stream's final usage report arrived. Before that, usage() may hold a partial report
   * (Anthropic's message_start: input and cache tokens with a provisional output count), and the
   * gateway bills output from generatedText() instead.
   */
  usageComplete(): boolean;
  /** The text generated so far (content and tool-call arguments), to bill output when usage never came. */
  generatedText(): string;
}

export interface EndpointAdapter {
  readonly shape: ApiShape;
  /** The path clients call, e.g. "/v1/chat/completions". */
  readonly path: string;
  /** The error format of this API. */
  readonly format: ApiFormat;
  /** The provider kind that serves this API. */
  readonly provider: ProviderKind;
  /** Validates the body's shape (model, messages/input, types); returns a 400 naming the field, or null. */
  validate(body: RequestBody): GatewayError | null;
  isStream(body: RequestBody): boolean;
  /** The output cap the client sent (max_tokens / max_completion_tokens / max_output_tokens), if any. */
  requestedOutputCap(body: RequestBody): number | undefined;
  /**
   * Writes the output cap the gateway decided into the right field for this API and model
   * (chat: `capField`, i.e. max_tokens or max_completion_tokens; responses: max_output_tokens;
   * messages: max_tokens), removing any other cap field so exactly one is sent.
   */
  setOutputCap(body: RequestBody, cap: number, capField: 'max_tokens' | 'max_completion_tokens'): void;
  /**
   * Readies a streaming body for upstream (e.g. sets stream_options.include_usage for OpenAI).
   * Returns true when the gateway added a usage chunk the client did not ask for (the tap then removes it).
   */
  requestUsageInStream(body: RequestBody): boolean;
  /** Usage from a non-streaming JSON response; undefined when absent. */
  usageFromJson(json: unknown): Usage | undefined;
  /** A tap for this API's SSE stream. */
  createStreamTap(options: { stripUsageChunk: boolean }): StreamTap;
}
