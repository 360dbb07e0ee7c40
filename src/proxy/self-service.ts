/**
 * Self-service endpoints for the caller's own key: GET /v1/budget (a budget bar) and
 * POST /v1/cost/estimate (a cost preview before sending). Same key, same error formats as the proxy.
 */
import type { Context } from 'hono';
import { type BurnRateSource, forecastBalance } from '../analytics/forecast.js';
import { periodOf } from '../budget/periods.js';
import type { BudgetView, Identity } from '../budget/types.js';
import type { RuntimeConfig } from '../config/runtime.js';
import { errorResponse, GatewayError } from '../errors.js';
import { formatUsd, nanoToUsd } from '../money.js';
import { adapterForPath } from '../providers/index.js';
import type { EndpointAdapter, RequestBody } from '../providers/types.js';
import { countPromptTokens } from '../tokens/estimate.js';
import { parseJsonObject, readBodyBytes, requireJsonContentType } from './body.js';
import { identify } from './identity.js';
import { clientIp, type ProxyDeps, resolveModel } from './pipeline.js';

type NodeBindings = { incoming?: import('node:http').IncomingMessage };

/**
 * One budget as the self-service API shows it (DESIGN §2). The forecast uses the burn rate the
 * analytics computed from hourly history in the background (read from memory), applied to the
 * balance as it stands; linear over the elapsed period where there is none.
 */
export function budgetJson(view: BudgetView, nowMs: number, burnRates?: BurnRateSource) {
  const period = periodOf(view.budget.period, view.budget.timezone, nowMs);
  const input = {
    spentNano: view.spentNano,
    limitNano: view.limitNano,
    periodStartMs: period.startMs,
    periodEndMs: period.endMs,
    nowMs,
  };
  const forecast = forecastBalance(input, { instance: view.instance, periodId: view.line.period }, burnRates);
  return {
    id: view.budget.id,
    ...(view.instance !== view.budget.id ? { instance: view.instance } : {}),
    scope: view.budget.scope,
    period: view.budget.period,
    limit_usd: nanoToUsd(view.limitNano),
    spent_usd: nanoToUsd(view.spentNano),
    reserved_usd: nanoToUsd(view.reservedNano),
    remaining_usd: nanoToUsd(Math.max(0, view.remainingNano)),
    resets_at: view.resetsAtMs === null ? null : new Date(view.resetsAtMs).toISOString(),
    forecast: {
      projected_usd: forecast.projectedNano === null ? null : nanoToUsd(forecast.projectedNano),
      exhausted_at: forecast.exhaustedAtMs === null ? null : new Date(forecast.exhaustedAtMs).toISOString(),
    },
  };
}

function fail(error: unknown, format: 'openai' | 'anthropic'): Response {
  const e = error instanceof GatewayError ? error : new GatewayError('internal_error', 'The gateway failed.');
  return errorResponse(e, format);
}

export function budgetHandler(deps: ProxyDeps) {
  const clock = deps.clock ?? Date.now;
  return async (c: Context): Promise<Response> => {
    const config = deps.config();
    const format = c.req.header('anthropic-version') !== undefined ? 'anthropic' : 'openai';
    try {
      const identity = identify(config, c.req.raw.headers, clientIp(c, config), deps.lookupKey);
      const now = clock();
      const views = await deps.engine().budgetsFor(identity, now);
      return c.json({ budgets: views.map((v) => budgetJson(v, now, deps.burnRates)) });
    } catch (error) {
      return fail(error, format);
    }
  };
}

export function estimateHandler(deps: ProxyDeps) {
  const clock = deps.clock ?? Date.now;
  return async (c: Context): Promise<Response> => {
    const config = deps.config();
    let format: 'openai' | 'anthropic' = 'openai';
    try {
      const identity = identify(config, c.req.raw.headers, clientIp(c, config), deps.lookupKey);
      requireJsonContentType(c.req.raw);
      const bytes = await readBodyBytes(
        (c.env as NodeBindings | undefined)?.incoming,
        c.req.raw,
        config.server.maxBodyBytes,
      );
      const body = parseJsonObject(bytes);
      const adapter = estimateAdapter(body);
      format = adapter.format;
      return c.json(await costPreview(deps, config, identity, adapter, body, clock()));
    } catch (error) {
      return fail(error, format);
    }
  };
}

/** The adapter an estimate body names in `endpoint` (default chat completions); removes the field. */
export function estimateAdapter(body: RequestBody): EndpointAdapter {
  const endpoint = body.endpoint ?? '/v1/chat/completions';
  const adapter = typeof endpoint === 'string' ? adapterForPath(endpoint) : undefined;
  if (!adapter) {
    throw new GatewayError(
      'invalid_request',
      `endpoint: expected one of the proxy paths, got ${JSON.stringify(endpoint)}`,
      {
        param: 'endpoint',
      },
    );
  }
  delete body.endpoint;
  return adapter;
}

/**
 * What a request would cost and whether it would pass, for `identity`, without reserving anything.
 * Shared by POST /v1/cost/estimate (the caller's own key) and POST /admin/cost/estimate (any key).
 * Throws a GatewayError for a malformed body, an unknown or forbidden model.
 */
export async function costPreview(
  deps: Pick<ProxyDeps, 'engine' | 'burnRates'>,
  config: RuntimeConfig,
  identity: Identity,
  adapter: EndpointAdapter,
  body: RequestBody,
  now: number,
) {
  const invalid = adapter.validate(body);
  if (invalid) throw invalid;
  if (identity.user === undefined && typeof body.user === 'string') identity.user = body.user;
  const model = resolveModel(config, adapter, body.model as string, identity);
  const preview = await deps.engine().preview({
    requestId: 'estimate',
    identity,
    model,
    promptTokensFor: (m) => countPromptTokens(adapter.shape, body, m.upstreamModel),
    requestedCap: adapter.requestedOutputCap(body),
    outputless: adapter.shape === 'embeddings',
    nowMs: now,
  });
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
  return {
    model: model.name,
    served_model: preview.servedModel?.name ?? model.name,
    estimated_usd: preview.estimateNano === undefined ? null : nanoToUsd(preview.estimateNano),
    max_output_tokens: null,
    budgets,
    allowed: false,
    reason: preview.error.message,
    code: preview.error.code,
  };
}
