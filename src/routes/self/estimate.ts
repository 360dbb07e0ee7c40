/**
 * POST /v1/cost/estimate: what a request would cost and whether it would pass, for the caller's own
 * key, before sending it. The admission is built as the proxy builds it (routes/proxy/admission.ts),
 * so the preview touches the same budget lines; nothing is reserved, no provider is called.
 */
import type { Identity } from '../../budget/types.js';
import type { RuntimeConfig } from '../../config/runtime.js';
import { GatewayError } from '../../errors.js';
import type { GatewayContext } from '../../http/app.js';
import { parseJsonObject, readRequestBody, requireJsonContentType } from '../../http/body.js';
import { formatUsd, nanoToUsd } from '../../money.js';
import { geminiGenerateAdapter, geminiStreamAdapter, parseGeminiPath } from '../../providers/gemini.js';
import { adapterForPath } from '../../providers/index.js';
import type { EndpointAdapter, RequestBody } from '../../providers/types.js';
import { admissionBuilder, refusal, resolveModel } from '../proxy/admission.js';
import { budgetJson } from './budget.js';
import type { SelfServiceDeps } from './deps.js';

export function estimateHandler(deps: SelfServiceDeps) {
  return async (c: GatewayContext): Promise<Response> => {
    const config = c.get('config');
    requireJsonContentType(c.req.raw);
    const body = parseJsonObject(await readRequestBody(c, config.server.maxBodyBytes));
    const adapter = estimateAdapter(body);
    // The answer speaks the API of the endpoint being priced (the one refinement of http/context.ts).
    c.set('format', adapter.format);
    return c.json(await costPreview(deps, config, c.get('identity'), adapter, body, deps.clock()));
  };
}

/** The adapter an estimate body names in `endpoint` (default chat completions); removes the field. */
export function estimateAdapter(body: RequestBody): EndpointAdapter {
  const endpoint = body.endpoint ?? '/v1/chat/completions';
  const adapter =
    typeof endpoint === 'string' ? (adapterForPath(endpoint) ?? geminiEstimate(endpoint, body)) : undefined;
  if (!adapter) {
    throw new GatewayError(
      'invalid_request',
      `endpoint: expected one of the proxy paths, got ${JSON.stringify(endpoint)}`,
      { param: 'endpoint' },
    );
  }
  delete body.endpoint;
  return adapter;
}

/**
 * Gemini puts the model in the path: `"endpoint": "/v1beta/models/{model}:generateContent"` (or
 * `:streamGenerateContent`) prices that model, read into the body's `model` for the preview only.
 */
function geminiEstimate(endpoint: string, body: RequestBody): EndpointAdapter | undefined {
  const parsed = parseGeminiPath(endpoint);
  if (parsed === undefined) return undefined;
  const adapter =
    parsed.method === 'generateContent'
      ? geminiGenerateAdapter
      : parsed.method === 'streamGenerateContent'
        ? geminiStreamAdapter
        : undefined;
  if (adapter) body.model = parsed.model;
  return adapter;
}

/**
 * What a request would cost and whether it would pass, for `identity`, without reserving anything.
 * Shared by POST /v1/cost/estimate (the caller's own key) and POST /admin/cost/estimate (any key).
 * Throws a GatewayError for a malformed body, an unknown or forbidden model.
 */
export async function costPreview(
  deps: Pick<SelfServiceDeps, 'engine' | 'burnRates' | 'responses'>,
  config: RuntimeConfig,
  identity: Identity,
  adapter: EndpointAdapter,
  body: RequestBody,
  now: number,
) {
  const invalid = adapter.validate(body);
  if (invalid) throw invalid;
  const builder = admissionBuilder({
    requestId: 'estimate',
    identity,
    adapter,
    body,
    nowMs: now,
    responses: deps.responses,
  });
  const model = resolveModel(config, adapter, body.model as string);
  const preview = await deps.engine().preview(builder.request(model));
  // A model the caller may not use is an error, not a priced refusal (as the real request answers).
  if (!preview.ok && preview.denial.kind === 'forbidden_model') throw refusal(preview, config);
  const budgets = preview.budgets.map((v) => budgetJson(v, now, deps.burnRates));
  if (preview.ok) {
    return {
      model: model.name,
      served_model: preview.servedModel.name,
      estimated_usd: nanoToUsd(preview.estimateNano),
      estimated_cost: formatUsd(preview.estimateNano),
      prompt_tokens: preview.promptTokens,
      max_output_tokens: preview.outputCap ?? 0,
      downgraded: preview.downgradedFrom !== undefined,
      clamped: preview.clamped,
      budgets,
      allowed: true,
      reason: null,
    };
  }
  const refused = refusal(preview, config);
  return {
    model: model.name,
    served_model: preview.servedModel?.name ?? model.name,
    estimated_usd: preview.estimateNano === undefined ? null : nanoToUsd(preview.estimateNano),
    max_output_tokens: null,
    budgets,
    allowed: false,
    reason: refused.message,
    code: preview.denial.kind,
  };
}
