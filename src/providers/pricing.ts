/**
 * Request fields that change what the provider charges in ways the gateway has no price for. A
 * request using one is refused (400 naming the field) rather than reserved and billed at the wrong
 * price: the promise is that spend stays inside the budget, and a price we do not know cannot keep it.
 *
 * | API                | field                                        | why it is refused                         |
 * |--------------------|----------------------------------------------|-------------------------------------------|
 * | OpenAI (all)       | `service_tier: "priority"` / `"flex"`        | other per-token prices ("auto"/"default" ok) |
 * | chat               | `web_search_options`                         | search models bill per call               |
 * | chat               | `audio`, `modalities` with "audio"           | audio output tokens have their own price  |
 * | Responses          | `tools[i].type` web_search*, file_search, code_interpreter, image_generation | billed per call / container / image |
 * | Anthropic messages | `cache_control.ttl: "1h"` (system, messages, tools) | 1-hour cache writes cost 2x input, not the 5-minute 1.25x |
 * | Anthropic messages | `tools[i].type` web_search_*, code_execution_* | billed per search / container time      |
 * | Anthropic (header) | `anthropic-beta: context-1m-*` on a model without `long_context` | prompts past 200k billed at the long-context tier |
 *
 * Responses `reasoning` needs nothing here: reasoning tokens are output tokens inside
 * `max_output_tokens`, so the output cap already bounds them (the same for chat's reasoning models
 * under `max_completion_tokens`, and Anthropic `thinking.budget_tokens` under `max_tokens`).
 */
import type { GatewayError } from '../errors.js';
import { invalid, isAbsent, isObject } from './common.js';
import type { RequestBody } from './types.js';

const PRICED_SERVICE_TIERS = new Set(['auto', 'default']);

function unpriced(field: string, what: string): GatewayError {
  return invalid(
    field,
    `Unsupported '${field}': ${what}; this gateway has no price for it, so it cannot keep the request inside a budget.`,
  );
}

export function serviceTierProblem(body: RequestBody): GatewayError | null {
  const tier = body.service_tier;
  if (isAbsent(tier) || (typeof tier === 'string' && PRICED_SERVICE_TIERS.has(tier))) return null;
  return unpriced(
    'service_tier',
    `${JSON.stringify(tier)} is billed at other prices (use "auto" or "default")`,
  );
}

export function chatPricingProblem(body: RequestBody): GatewayError | null {
  const tier = serviceTierProblem(body);
  if (tier) return tier;
  if (!isAbsent(body.web_search_options)) {
    return unpriced('web_search_options', 'web search is billed per call');
  }
  if (!isAbsent(body.audio)) return unpriced('audio', 'audio output is billed at audio token prices');
  if (Array.isArray(body.modalities) && body.modalities.includes('audio')) {
    return unpriced('modalities', 'audio output is billed at audio token prices');
  }
  return null;
}

const RESPONSES_BILLED_TOOLS = /^(web_search|file_search|code_interpreter|image_generation)/;

export function responsesPricingProblem(body: RequestBody): GatewayError | null {
  return serviceTierProblem(body) ?? billedToolProblem(body.tools, RESPONSES_BILLED_TOOLS);
}

const ANTHROPIC_BILLED_TOOLS = /^(web_search_|code_execution_)/;

export function messagesPricingProblem(body: RequestBody): GatewayError | null {
  return (
    billedToolProblem(body.tools, ANTHROPIC_BILLED_TOOLS) ??
    longCacheProblem(body.system, 'system') ??
    longCacheProblem(body.tools, 'tools') ??
    longCacheProblem(body.messages, 'messages') ??
    ttlProblem(body.cache_control, 'cache_control')
  );
}

function billedToolProblem(tools: unknown, billed: RegExp): GatewayError | null {
  if (!Array.isArray(tools)) return null;
  for (let i = 0; i < tools.length; i++) {
    const type = isObject(tools[i]) ? (tools[i] as Record<string, unknown>).type : undefined;
    if (typeof type === 'string' && billed.test(type)) {
      return unpriced(`tools[${i}].type`, `the server-side tool ${JSON.stringify(type)} is billed per use`);
    }
  }
  return null;
}

const LONG_CACHE = '1-hour cache writes are billed at twice the input price';

function ttlProblem(control: unknown, path: string): GatewayError | null {
  return isObject(control) && control.ttl === '1h' ? unpriced(`${path}.ttl`, LONG_CACHE) : null;
}

/**
 * Finds a `cache_control` with `ttl: "1h"` on system blocks, tools, messages, their content parts
 * and tool_result contents: three list levels deep, the deepest place Anthropic reads it from.
 */
function longCacheProblem(value: unknown, path: string, lists = 3): GatewayError | null {
  if (Array.isArray(value)) {
    if (lists === 0) return null;
    for (let i = 0; i < value.length; i++) {
      const found = longCacheProblem(value[i], `${path}[${i}]`, lists - 1);
      if (found) return found;
    }
    return null;
  }
  if (!isObject(value)) return null;
  return (
    ttlProblem(value.cache_control, `${path}.cache_control`) ??
    longCacheProblem(value.content, `${path}.content`, lists)
  );
}

/** Anthropic's 1M-context beta flag, e.g. `context-1m-2025-08-07`. */
const LONG_CONTEXT_BETA = /^context-1m-/;

/**
 * The `anthropic-beta` header asking for the 1M-context window, on a model whose config has no
 * `long_context` tier: prompts past 200k tokens would then be billed at about twice the flat price,
 * which the gateway could neither reserve nor settle. `priced`: the served model has a tier.
 */
export function longContextBetaProblem(beta: string | undefined, priced: boolean): GatewayError | null {
  if (priced || beta === undefined) return null;
  const asks = beta.split(',').some((flag) => LONG_CONTEXT_BETA.test(flag.trim().toLowerCase()));
  if (!asks) return null;
  return invalid(
    'anthropic-beta',
    "Unsupported 'anthropic-beta' header: the 1M-context beta bills long prompts at a higher price, and this model has no long-context price configured, so the gateway cannot keep the request inside a budget.",
  );
}
