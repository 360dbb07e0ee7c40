/**
 * One free call passed through to a provider (moderations, response retrieval): nothing is
 * reserved, the provider's answer goes back as it came (headers on the allow-list), with the
 * gateway's request id and a cost of 0.
 */
import type { RuntimeProvider } from '../../config/runtime.js';
import { GatewayError } from '../../errors.js';
import { clientHeaderRecord } from '../../providers/headers.js';
import type { UpstreamDispatch } from './exchange.js';
import type { RequestState } from './request-state.js';

export interface FreeCall {
  method: 'GET' | 'POST';
  path: string;
  headers: Record<string, string>;
  body?: Buffer;
  timeoutMs: number;
}

export async function passFree(
  pools: UpstreamDispatch,
  provider: RuntimeProvider,
  call: FreeCall,
  state: RequestState,
): Promise<Response> {
  state.upstreamStartedAt = performance.now();
  const upstream = await pools
    .pool(provider)
    .request({
      method: call.method,
      path: call.path,
      headers: call.headers,
      ...(call.body ? { body: call.body } : {}),
      signal: AbortSignal.timeout(call.timeoutMs),
    })
    .catch((error: unknown) => {
      throw new GatewayError('provider_unreachable', `The provider ${provider.name} could not be reached.`, {
        cause: error,
      });
    });
  const answer = await upstream.body.arrayBuffer();
  state.record.status = upstream.statusCode;
  const out = new Headers();
  for (const [name, value] of Object.entries(clientHeaderRecord(upstream.headers, provider.kind))) {
    for (const v of Array.isArray(value) ? value : [value]) out.append(name, v);
  }
  out.set('x-gateway-request-id', state.record.requestId);
  out.set('x-gateway-cost-usd', '0.000000000');
  return new Response(answer, { status: upstream.statusCode, headers: out });
}
