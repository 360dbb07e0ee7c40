/**
 * The Gemini API's routes. Google puts the model and the method in one path segment
 * (`/v1beta/models/{model}:{method}`), so one route reads it and hands the request to the proxy
 * pipeline of its method: generateContent and streamGenerateContent are budgeted like every other
 * endpoint; countTokens is free at Google, so it is passed to the model's provider unbudgeted
 * (for a key allowed that model), which gives the client Google's own count.
 */
import { forbiddenModel } from '../../budget/model-rights.js';
import { GatewayError } from '../../errors.js';
import type { GatewayApp, GatewayContext } from '../../http/app.js';
import { readRequestBody, requireJsonContentType } from '../../http/body.js';
import { denialError } from '../../http/denial-errors.js';
import { identify } from '../../http/key-auth.js';
import { clientHeaders, clientIp, headerSource } from '../../http/request.js';
import { geminiGenerateAdapter, geminiStreamAdapter, parseGeminiPath } from '../../providers/gemini.js';
import { clientHeaderRecord, upstreamHeaderRecord } from '../../providers/headers.js';
import { resolveModel } from './admission.js';
import type { ProxyDeps } from './exchange.js';
import { createProxyHandler } from './handler.js';
import { upstreamPath } from './upstream.js';
import { upstreamError } from './upstream-failures.js';

export const GEMINI_ROUTE = '/v1beta/models/:call';

export function mountGemini(app: GatewayApp, deps: ProxyDeps): void {
  const generate = createProxyHandler(geminiGenerateAdapter, deps);
  const stream = createProxyHandler(geminiStreamAdapter, deps);
  app.post(GEMINI_ROUTE, (c) => {
    switch (parseGeminiPath(c.req.path)?.method) {
      case 'generateContent':
        return generate(c);
      case 'streamGenerateContent':
        return stream(c);
      case 'countTokens':
        return countTokens(c, deps);
      default:
        throw new GatewayError('not_found', `No route for POST ${c.req.path}.`);
    }
  });
}

/** countTokens: the caller's key and model checked, then Google's answer relayed; nothing reserved or billed. */
async function countTokens(c: GatewayContext, deps: ProxyDeps): Promise<Response> {
  const config = c.get('config');
  const headers = clientHeaders(c);
  const queryKey = c.req.query('key');
  if (queryKey && !headers.authorization && !headers['x-api-key'] && !headers['x-goog-api-key']) {
    headers['x-goog-api-key'] = queryKey;
  }
  const identity = identify(config, headerSource(headers), clientIp(c, config), deps.lookupKey);
  const name = parseGeminiPath(c.req.path)?.model ?? '';
  const model = resolveModel(config, geminiGenerateAdapter, name);
  const forbidden = forbiddenModel(config, identity, model);
  if (forbidden) throw denialError(forbidden, config);
  requireJsonContentType({ headers: headerSource(headers) });
  const bytes = await readRequestBody(c, config.server.maxBodyBytes);
  const provider = model.provider;
  if (!provider.apiKey) {
    throw new GatewayError(
      'provider_not_configured',
      `The provider ${provider.name} has no API key configured on this gateway.`,
    );
  }
  const upstreamHeaders = upstreamHeaderRecord(provider.kind, provider.apiKey, headers, provider.headers);
  upstreamHeaders['content-length'] = String(bytes.length);
  const abort = new AbortController();
  const timeout = setTimeout(() => abort.abort(new Error('request timeout')), config.server.requestTimeoutMs);
  timeout.unref();
  try {
    const path = `/v1beta/models/${encodeURIComponent(model.upstreamModel)}:countTokens`;
    const upstream = await deps.pools.pool(provider).request({
      method: 'POST',
      path: upstreamPath(provider, path, model.upstreamModel),
      headers: upstreamHeaders,
      body: bytes,
      signal: abort.signal,
    });
    const answer = Buffer.from(await upstream.body.arrayBuffer());
    const out = clientHeaderRecord(upstream.headers, 'google');
    out['x-gateway-request-id'] = c.get('requestId');
    out['x-gateway-model'] = model.name;
    out['x-gateway-cost-usd'] = '0';
    return new Response(answer, { status: upstream.statusCode, headers: toHeaders(out) });
  } catch (error) {
    throw upstreamError(error, provider.name, abort.signal);
  } finally {
    clearTimeout(timeout);
  }
}

function toHeaders(record: Record<string, string | string[]>): Headers {
  const headers = new Headers();
  for (const [name, value] of Object.entries(record)) {
    if (Array.isArray(value)) for (const v of value) headers.append(name, v);
    else headers.set(name, value);
  }
  return headers;
}
