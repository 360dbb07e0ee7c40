/**
 * The attribute names the gateway's spans carry.
 *
 * Pinned: the OpenTelemetry GenAI semantic conventions at semconv v1.45.0, the names
 * @opentelemetry/semantic-conventions 1.45.0 exports from its `incubating` entry point (which marks
 * them as moved, unchanged, to open-telemetry/semantic-conventions-genai). That is the v1.37+
 * layout: `gen_ai.provider.name` (not the older `gen_ai.system`), content as the
 * `gen_ai.input.messages` / `gen_ai.output.messages` attributes (JSON), plus the later dotted usage
 * counters `gen_ai.usage.cache_read.input_tokens`, `cache_creation.input_tokens` and
 * `reasoning.output_tokens`. The package's README asks instrumentations to copy incubating names
 * instead of importing them at run time, so they are copied here; semconv.test.ts checks the copy.
 *
 * Token semantics follow the conventions, not the billing split of src/usage.ts: input_tokens
 * includes cache reads and writes (Anthropic reports them apart; the span adds them back), and
 * output_tokens includes reasoning.
 */
import type { ApiShape } from '../providers/types.js';

export const GEN_AI_SEMCONV_VERSION = '1.45.0';

export const ATTR = {
  operationName: 'gen_ai.operation.name',
  providerName: 'gen_ai.provider.name',
  requestModel: 'gen_ai.request.model',
  requestMaxTokens: 'gen_ai.request.max_tokens',
  requestStream: 'gen_ai.request.stream',
  responseModel: 'gen_ai.response.model',
  responseId: 'gen_ai.response.id',
  responseFinishReasons: 'gen_ai.response.finish_reasons',
  inputTokens: 'gen_ai.usage.input_tokens',
  outputTokens: 'gen_ai.usage.output_tokens',
  cacheReadInputTokens: 'gen_ai.usage.cache_read.input_tokens',
  cacheCreationInputTokens: 'gen_ai.usage.cache_creation.input_tokens',
  reasoningOutputTokens: 'gen_ai.usage.reasoning.output_tokens',
  inputMessages: 'gen_ai.input.messages',
  outputMessages: 'gen_ai.output.messages',
  // Stable HTTP / general conventions.
  errorType: 'error.type',
  httpStatus: 'http.response.status_code',
  httpMethod: 'http.request.method',
  httpRoute: 'http.route',
  serverAddress: 'server.address',
  serverPort: 'server.port',
  // The gateway's own, under its namespace.
  requestId: 'llm_gateway.request_id',
  costUsd: 'llm_gateway.cost_usd',
  estimatedCostUsd: 'llm_gateway.estimated_cost_usd',
  budgetIds: 'llm_gateway.budget_ids',
  decision: 'llm_gateway.decision',
  refusalReason: 'llm_gateway.refusal_reason',
  servedModel: 'llm_gateway.served_model',
  downgradedFrom: 'llm_gateway.downgraded_from',
  attempt: 'llm_gateway.attempt',
  settlement: 'llm_gateway.settlement',
} as const;

/** gen_ai.operation.name per endpoint shape (the conventions' well-known values). */
export function operationName(shape: ApiShape): string {
  switch (shape) {
    case 'completions':
      return 'text_completion';
    case 'embeddings':
      return 'embeddings';
    default:
      // Chat completions, Responses and Anthropic Messages are all chat in the conventions.
      return 'chat';
  }
}
