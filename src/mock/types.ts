/** Public shapes of the mock provider (see server.ts). */

export interface MockProviderOptions {
  /** 0 = a free port (default). */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** When set, OpenAI routes require `Authorization: Bearer <it>`, else 401 in OpenAI's error format. */
  openaiApiKey?: string;
  /**
   * When set, /v1/messages requires `x-api-key: <it>` (or `Authorization: Bearer <it>`, which
   * current Anthropic SDKs send), else 401 in Anthropic's error format.
   */
  anthropicApiKey?: string;
  /** When set, Gemini routes require `x-goog-api-key: <it>` (or `?key=<it>`), else Google's 400/403. */
  googleApiKey?: string;
  /** When set, Azure OpenAI routes (/openai/...) require `api-key: <it>`, else Azure's 401. */
  azureApiKey?: string;
  /** Default 0: delay before the response headers. */
  latencyMs?: number;
  /** Default 20: text tokens generated when the request's output cap allows that many. */
  outputTokens?: number;
  /** Default: one SSE content chunk per token; when set, the output is spread over this many chunks. */
  chunkCount?: number;
  /** Default true: keep a ServedRecord per request (the benchmark turns it off). */
  record?: boolean;
}

export interface ReportedUsage {
  input_tokens: number;
  cached_tokens: number;
  cache_write_tokens: number;
  output_tokens: number;
  reasoning_tokens: number;
}

export interface ServedRecord {
  /** The id of the response object (chatcmpl-…, cmpl-…, resp_…, msg_…), else the request id. */
  id: string;
  /** The `x-request-id` response header (Anthropic routes also get it as `request-id`). */
  requestId: string;
  path: string;
  /** The query string as received, without the '?' ('' when none). */
  query: string;
  /** The body's `model`, or '' when there was none. */
  model: string;
  stream: boolean;
  /** The parsed request body as received (undefined when there was none or it was not JSON). */
  body: unknown;
  /** Request headers as received (lower-case names; repeated headers joined with ", "). */
  headers: Record<string, string>;
  /** The W3C `traceparent` the request carried (the gateway's upstream span when tracing is on), else null. */
  traceparent: string | null;
  /**
   * The usage the response reported, normalised like src/usage.ts: input_tokens are the prompt
   * tokens billed at the input price (OpenAI prompt_tokens minus cached_tokens; Anthropic
   * input_tokens), output_tokens include reasoning. Null when none was reported (error, broken or
   * garbage stream, or an OpenAI stream without `stream_options.include_usage`).
   */
  usage: ReportedUsage | null;
  /** Tokens of generated text actually written before completion/abort (all choices). */
  outputTokensSent: number;
  /** The response was fully written. */
  completed: boolean;
  /** Date.now() when the client connection closed before the response finished. */
  clientClosedAt: number | null;
  /** HTTP status sent (0 while headers are not sent yet). */
  status: number;
  startedAt: number;
}

export interface MockProvider {
  /** e.g. http://127.0.0.1:43123 (OpenAI base URL is `${url}/v1`, Anthropic base URL is `url`). */
  url: string;
  port: number;
  served: ServedRecord[];
  /** Clears `served`. */
  reset(): void;
  /** Closes the server and all its sockets (hanging requests included). */
  close(): Promise<void>;
}
