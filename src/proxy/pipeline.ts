/**
 * The proxy pipeline, in its fixed order: identify, parse, estimate, reserve, forward, relay, settle.
 * Everything format-specific is behind the endpoint adapter; everything about money is behind the
 * budget engine. Each request runs on the config snapshot it started with.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Context } from 'hono';
import type { Dispatcher } from 'undici';
import type { BurnRateSource } from '../analytics/forecast.js';
import type { AdmissionGranted, BudgetEngine } from '../budget/types.js';
import type { RuntimeConfig, RuntimeModel } from '../config/runtime.js';
import { type ApiFormat, errorResponse, GatewayError } from '../errors.js';
import { denialError } from '../http/denial-errors.js';
import {
  clientHeaderRecord,
  type HeaderRecord,
  headerRecordFromHeaders,
  headerRecordFromRaw,
  upstreamHeaderRecord,
} from '../providers/headers.js';
import type { EndpointAdapter, RequestBody } from '../providers/types.js';
import { countPromptTokens } from '../tokens/estimate.js';
import type { Usage } from '../usage.js';
import { parseJsonObject, readBodyBytes, requireJsonContentType } from './body.js';
import {
  admissionHeaders,
  afterRelease,
  budgetHeaders,
  costHeader,
  estimateHeader,
} from './gateway-headers.js';
import { type HeaderSource, identify, type KeyLookup } from './identity.js';
import type { RequestObserver } from './record.js';
import { nextRequestId, RequestState } from './request-state.js';
import { relayStream } from './stream-relay.js';
import { type UpstreamPools, upstreamPath } from './upstream.js';
import { ClientGone, FallBack, fallbackModels, upstreamError } from './upstream-failures.js';

export interface ProxyDeps {
  config(): RuntimeConfig;
  engine(): BudgetEngine;
  /** Burn rates from the usage history, for the forecasts in /v1/budget (read from memory). */
  burnRates?: BurnRateSource;
  pools: UpstreamPools;
  observe: RequestObserver;
  lookupKey?: KeyLookup;
  clock?: () => number;
  /** A provider failed before answering and the request moved to a fallback model. */
  onFallback?(from: string, to: string, reason: string): void;
}

type NodeBindings = { incoming?: IncomingMessage; outgoing?: ServerResponse };

/** Recorded for a request whose client left before an answer (nobody reads the response). */
const CLIENT_CLOSED_STATUS = 499;

export function clientIp(c: Context, config: RuntimeConfig): string | undefined {
  if (config.server.trustProxy) {
    const forwarded = c.req.header('x-forwarded-for');
    if (forwarded) return forwarded.split(',')[0]?.trim();
  }
  return (c.env as NodeBindings | undefined)?.incoming?.socket?.remoteAddress;
}

/** The client's request headers, read once as a plain object (see providers/headers.ts). */
function clientHeadersOf(c: Context): HeaderRecord {
  const incoming = (c.env as NodeBindings | undefined)?.incoming;
  return incoming ? headerRecordFromRaw(incoming.rawHeaders) : headerRecordFromHeaders(c.req.raw.headers);
}

function headerSource(headers: HeaderRecord): HeaderSource {
  return { get: (name) => headers[name] ?? null };
}

export function createProxyHandler(adapter: EndpointAdapter, deps: ProxyDeps) {
  const clock = deps.clock ?? Date.now;
  return async (c: Context): Promise<Response> => {
    const config = deps.config();
    const engine = deps.engine();
    const requestId = nextRequestId();
    const state = new RequestState(requestId, adapter.path, clock());
    const format: ApiFormat = adapter.format;
    let admission: AdmissionGranted | undefined;
    try {
      const clientHeaders = clientHeadersOf(c);
      const headerReader = headerSource(clientHeaders);
      const identity = identify(config, headerReader, clientIp(c, config), deps.lookupKey);
      state.record.keyId = identity.keyId;
      state.record.anonymous = identity.anonymous;
      state.record.team = identity.team ?? null;

      requireJsonContentType({ headers: headerReader });
      const bindings = c.env as NodeBindings | undefined;
      const bytes = await readBodyBytes(bindings?.incoming, c.req.raw, config.server.maxBodyBytes);
      const body = parseJsonObject(bytes);
      const invalid = adapter.validate(body);
      if (invalid) throw invalid;
      const stream = adapter.isStream(body);
      state.record.stream = stream;
      if (identity.user === undefined && typeof body.user === 'string' && body.user.length > 0) {
        identity.user = body.user.slice(0, 200);
      }
      state.record.user = identity.user ?? null;

      const model = resolveModel(config, adapter, body.model as string);
      state.record.requestedModel = model.name;

      const tokenCounts = new Map<string, Promise<number>>();
      // Read before forward() rewrites the body: a fallback is admitted on the client's own cap.
      const requestedCap = adapter.requestedOutputCap(body);
      const admit = async (candidate: RuntimeModel): Promise<AdmissionGranted> => {
        const granted = await engine.admit({
          requestId,
          identity,
          model: candidate,
          promptTokensFor: (m: RuntimeModel) => {
            const known = tokenCounts.get(m.name);
            if (known) return known;
            const count = countPromptTokens(adapter.shape, body, m.upstreamModel);
            tokenCounts.set(m.name, count);
            return count;
          },
          requestedCap,
          outputless: adapter.shape === 'embeddings',
          nowMs: state.record.timeMs,
        });
        if (!granted.ok) throw denialError(granted.denial, config);
        state.record.servedModel = granted.servedModel.name;
        state.record.provider = granted.servedModel.provider.name;
        state.record.estimateNano = granted.estimateNano;
        state.record.downgraded = granted.downgradedFrom !== undefined;
        state.record.clamped = granted.clamped;
        return granted;
      };
      admission = await admit(model);

      const fallbacks = fallbackModels(config, adapter, model.name, identity);
      let fallbackFrom: string | undefined;
      for (let attempt = 0; ; attempt++) {
        try {
          const canFallBack = attempt < fallbacks.length;
          const route = { canFallBack, fallbackFrom };
          return await forward(
            c,
            clientHeaders,
            adapter,
            deps,
            config,
            state,
            body,
            bytes,
            admission,
            stream,
            route,
          );
        } catch (error) {
          if (!(error instanceof FallBack)) throw error;
          // The provider billed nothing; the fallback is checked against the budgets at its own price.
          await engine.release(admission.reservation);
          const from = admission.servedModel.name;
          admission = undefined;
          const next = fallbacks[attempt] as RuntimeModel;
          admission = await admit(next);
          deps.onFallback?.(from, admission.servedModel.name, error.reason);
          fallbackFrom = from;
        }
      }
    } catch (error) {
      if (admission) await engine.release(admission.reservation);
      if (error instanceof ClientGone) {
        state.record.status = CLIENT_CLOSED_STATUS;
        state.record.settlement = admission ? 'released' : 'none';
        state.finish(deps.observe);
        return new Response(null, { status: CLIENT_CLOSED_STATUS });
      }
      const gatewayError = asGatewayError(error);
      state.record.status = gatewayError.status;
      state.record.errorCode = gatewayError.code;
      state.record.settlement = admission ? 'released' : 'none';
      state.finish(deps.observe);
      const headers = new Headers({ 'x-gateway-request-id': requestId });
      return errorResponse(gatewayError, format, headers);
    }
  };
}

export function resolveModel(config: RuntimeConfig, adapter: EndpointAdapter, name: string): RuntimeModel {
  const model = config.models.get(name);
  if (!model) {
    throw new GatewayError(
      'model_not_found',
      `The model ${JSON.stringify(name)} is not configured on this gateway.`,
      {
        param: 'model',
      },
    );
  }
  if (model.provider.kind !== adapter.provider) {
    throw new GatewayError(
      'invalid_request',
      `The model ${name} is served by the ${model.provider.kind} API; call it through its own endpoint, not ${adapter.path}.`,
      { param: 'model' },
    );
  }
  return model;
}

function asGatewayError(error: unknown): GatewayError {
  if (error instanceof GatewayError) return error;
  return new GatewayError('internal_error', 'The gateway failed to handle this request.');
}

/** Applies the admission to the body; returns the bytes to send (the original ones when nothing changed). */
function upstreamBody(
  adapter: EndpointAdapter,
  body: RequestBody,
  original: Buffer,
  admission: AdmissionGranted,
  stream: boolean,
): { bytes: Buffer | string; strippedUsage: boolean } {
  let changed = false;
  const served = admission.servedModel;
  if (body.model !== served.upstreamModel) {
    body.model = served.upstreamModel;
    changed = true;
  }
  // The cap goes in the served model's field: a fallback or downgrade to an o-series model takes
  // max_completion_tokens where the client wrote max_tokens.
  const misplacedCap = adapter.shape === 'chat' && body[served.capField] === undefined;
  if ((admission.capChanged || misplacedCap) && admission.outputCap !== undefined) {
    adapter.setOutputCap(body, admission.outputCap, served.capField);
    changed = true;
  }
  let strippedUsage = false;
  if (stream) {
    strippedUsage = adapter.requestUsageInStream(body);
    if (strippedUsage) changed = true;
  }
  return { bytes: changed ? JSON.stringify(body) : original, strippedUsage };
}

async function forward(
  c: Context,
  clientHeaders: HeaderRecord,
  adapter: EndpointAdapter,
  deps: ProxyDeps,
  config: RuntimeConfig,
  state: RequestState,
  body: RequestBody,
  original: Buffer,
  admission: AdmissionGranted,
  stream: boolean,
  route: { canFallBack: boolean; fallbackFrom: string | undefined },
): Promise<Response> {
  const engine = deps.engine();
  const served = admission.servedModel;
  const provider = served.provider;
  if (!provider.apiKey) {
    throw new GatewayError(
      'provider_not_configured',
      `The provider ${provider.name} has no API key configured on this gateway.`,
    );
  }
  const { bytes, strippedUsage } = upstreamBody(adapter, body, original, admission, stream);
  const abort = new AbortController();
  const timeout = setTimeout(() => abort.abort(new Error('request timeout')), config.server.requestTimeoutMs);
  timeout.unref();
  const outgoing = (c.env as NodeBindings | undefined)?.outgoing;
  const onClientGone = () => abort.abort(new ClientGone());
  outgoing?.once('close', onClientGone);
  const detach = () => {
    clearTimeout(timeout);
    outgoing?.off('close', onClientGone);
  };

  let upstream: Dispatcher.ResponseData;
  state.upstreamStartedAt = performance.now();
  try {
    upstream = await deps.pools.pool(provider).request({
      method: 'POST',
      path: upstreamPath(provider, adapter.path),
      headers: upstreamHeaderRecord(provider.kind, provider.apiKey, clientHeaders, provider.headers),
      body: bytes,
      signal: abort.signal,
    });
  } catch (error) {
    detach();
    const failure = upstreamError(error, provider.name, abort.signal);
    if (route.canFallBack && failure instanceof GatewayError) throw new FallBack(failure.code);
    throw failure;
  }
  if (route.canFallBack && (upstream.statusCode === 429 || upstream.statusCode >= 500)) {
    await upstream.body.dump().catch(() => {});
    detach();
    throw new FallBack(`status_${upstream.statusCode}`);
  }
  state.record.upstreamTtfbMs = performance.now() - state.upstreamStartedAt;

  const headers = clientHeaderRecord(upstream.headers);
  // What @hono/node-server answers for a Headers object without one; a plain object gets no default.
  headers['content-type'] ??= 'text/plain; charset=UTF-8';
  admissionHeaders(headers, state.record.requestId, admission);
  if (route.fallbackFrom) headers['x-gateway-fallback-from'] = route.fallbackFrom;

  if (upstream.statusCode >= 400) {
    // The provider refused the request: it billed nothing, so nothing is spent.
    const errorBytes = Buffer.from(await upstream.body.arrayBuffer().catch(() => new ArrayBuffer(0)));
    detach();
    await engine.release(admission.reservation);
    state.record.status = upstream.statusCode;
    state.record.errorCode = 'provider_error';
    state.record.settlement = 'released';
    budgetHeaders(headers, afterRelease(admission.tightest, admission.reservation));
    state.finish(deps.observe);
    return new Response(errorBytes, { status: upstream.statusCode, headers });
  }

  if (!stream) {
    let responseBytes: Buffer;
    try {
      responseBytes = Buffer.from(await upstream.body.arrayBuffer());
    } catch (error) {
      detach();
      throw upstreamError(error, provider.name, abort.signal);
    }
    detach();
    let usage: Usage | undefined;
    try {
      usage = adapter.usageFromJson(JSON.parse(responseBytes.toString('utf8')));
    } catch {
      usage = undefined;
    }
    const settled = await settleNonStream(engine, admission, usage, state);
    costHeader(headers, settled.costNano);
    budgetHeaders(headers, settled.tightest ?? admission.tightest);
    state.record.status = upstream.statusCode;
    state.finish(deps.observe);
    return new Response(responseBytes, { status: upstream.statusCode, headers });
  }

  estimateHeader(headers, admission.estimateNano);
  budgetHeaders(headers, admission.tightest);
  state.record.status = upstream.statusCode;
  const relayed = relayStream({
    upstream: upstream.body,
    tap: adapter.createStreamTap({ stripUsageChunk: strippedUsage }),
    abort,
    onEnd: async (outcome) => {
      detach();
      const settledUsage = outcome.usage;
      if (!settledUsage) {
        await engine.release(admission.reservation);
        state.record.settlement = 'released';
      } else {
        const result = await engine.settle(admission.reservation, served, settledUsage);
        state.setUsage(settledUsage, result.costNano);
        state.record.settlement = outcome.counted ? 'counted' : 'usage';
      }
      state.finish(deps.observe);
    },
    promptTokens: admission.promptTokens,
    model: served,
  });
  return new Response(relayed, { status: upstream.statusCode, headers });
}

async function settleNonStream(
  engine: BudgetEngine,
  admission: AdmissionGranted,
  usage: Usage | undefined,
  state: RequestState,
) {
  if (usage) {
    const result = await engine.settle(admission.reservation, admission.servedModel, usage);
    state.setUsage(usage, result.costNano);
    state.record.settlement = 'usage';
    return result;
  }
  // A success without usage: the provider billed something we cannot see, so the worst case
  // that was reserved is what we count.
  const reservedUsage: Usage = {
    inputTokens: admission.promptTokens,
    cachedInputTokens: 0,
    cacheWriteTokens: 0,
    outputTokens: admission.outputCap ?? 0,
    reasoningTokens: 0,
  };
  const result = await engine.settle(admission.reservation, admission.servedModel, reservedUsage);
  state.setUsage(reservedUsage, result.costNano);
  state.record.settlement = 'reserved';
  return result;
}
