/**
 * Phase 3: the admitted request goes to the served model's provider. The body is rewritten only
 * where the admission changed it; the request is cut when the client leaves or the gateway's
 * timeout passes. A failure before the answer becomes FallBack when a fallback model remains.
 */
import type { Dispatcher } from 'undici';
import type { AdmissionGranted } from '../../budget/types.js';
import { GatewayError } from '../../errors.js';
import { nodeResponse } from '../../http/request.js';
import { upstreamHeaderRecord } from '../../providers/headers.js';
import type { RequestBody } from '../../providers/types.js';
import type { Exchange } from './exchange.js';
import { upstreamPath } from './upstream.js';
import { ClientGone, FallBack, upstreamError } from './upstream-failures.js';

/** One try at a model: the first, or a fallback after the previous provider failed. */
export interface Attempt {
  admission: AdmissionGranted;
  /** A fallback model remains: a failure before the answer moves on instead of reaching the client. */
  canFallBack: boolean;
  /** The model whose provider failed before this attempt (x-gateway-fallback-from). */
  fallbackFrom: string | undefined;
}

/** The upstream request, answered: what the relay phase reads. */
export interface Forwarded {
  upstream: Dispatcher.ResponseData;
  call: UpstreamCall;
}

/** The upstream request in flight: its abort signal and the clean-up once it is answered. */
export interface UpstreamCall {
  abort: AbortController;
  /** Stops the timeout and the client-gone watch. */
  detach(): void;
  /** The usage chunk was asked for by the gateway, so the relay removes it from the client's stream. */
  strippedUsage: boolean;
}

export async function forward(exchange: Exchange, attempt: Attempt): Promise<Forwarded> {
  const { adapter, config, state } = exchange;
  const provider = attempt.admission.servedModel.provider;
  if (!provider.apiKey) {
    throw new GatewayError(
      'provider_not_configured',
      `The provider ${provider.name} has no API key configured on this gateway.`,
    );
  }
  const { bytes, strippedUsage } = upstreamBody(exchange, attempt.admission);
  const abort = new AbortController();
  const timeout = setTimeout(() => abort.abort(new Error('request timeout')), config.server.requestTimeoutMs);
  timeout.unref();
  const outgoing = nodeResponse(exchange.c);
  const onClientGone = () => abort.abort(new ClientGone());
  outgoing?.once('close', onClientGone);
  const call: UpstreamCall = {
    abort,
    strippedUsage,
    detach() {
      clearTimeout(timeout);
      outgoing?.off('close', onClientGone);
    },
  };

  let upstream: Dispatcher.ResponseData;
  state.upstreamStartedAt = performance.now();
  try {
    upstream = await exchange.deps.pools.pool(provider).request({
      method: 'POST',
      path: upstreamPath(provider, adapter.path),
      headers: upstreamHeaderRecord(provider.kind, provider.apiKey, exchange.clientHeaders, provider.headers),
      body: bytes,
      signal: abort.signal,
    });
  } catch (error) {
    call.detach();
    const failure = upstreamError(error, provider.name, abort.signal);
    if (attempt.canFallBack && failure instanceof GatewayError) throw new FallBack(failure.code);
    throw failure;
  }
  if (attempt.canFallBack && (upstream.statusCode === 429 || upstream.statusCode >= 500)) {
    await upstream.body.dump().catch(() => {});
    call.detach();
    throw new FallBack(`status_${upstream.statusCode}`);
  }
  state.record.upstreamTtfbMs = performance.now() - state.upstreamStartedAt;
  return { upstream, call };
}

/** Applies the admission to the body; returns the bytes to send (the original ones when nothing changed). */
function upstreamBody(
  exchange: Exchange,
  admission: AdmissionGranted,
): { bytes: Buffer | string; strippedUsage: boolean } {
  const { adapter, body } = exchange;
  let changed = setServedModel(body, admission);
  // The cap goes in the served model's field: a fallback or downgrade to an o-series model takes
  // max_completion_tokens where the client wrote max_tokens.
  const served = admission.servedModel;
  const misplacedCap = adapter.shape === 'chat' && body[served.capField] === undefined;
  if ((admission.capChanged || misplacedCap) && admission.outputCap !== undefined) {
    adapter.setOutputCap(body, admission.outputCap, served.capField);
    changed = true;
  }
  const strippedUsage = exchange.stream && adapter.requestUsageInStream(body);
  if (strippedUsage) changed = true;
  return { bytes: changed ? JSON.stringify(body) : exchange.bytes, strippedUsage };
}

function setServedModel(body: RequestBody, admission: AdmissionGranted): boolean {
  if (body.model === admission.servedModel.upstreamModel) return false;
  body.model = admission.servedModel.upstreamModel;
  return true;
}
