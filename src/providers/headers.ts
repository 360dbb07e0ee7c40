/**
 * Header hygiene between the client, the gateway and the provider.
 *
 * Upstream: the client's credentials (its virtual key), cookies, the gateway's own `x-gateway-*`
 * headers and everything hop-by-hop stay behind; the provider's credential is set; every other
 * header (SDK metadata, betas, organisation, custom headers) passes through.
 */
import type { ProviderKind } from './types.js';

/** RFC 9110 §7.6.1 hop-by-hop headers, plus the de-facto proxy-connection. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

const NOT_FORWARDED_UPSTREAM = new Set([
  'host',
  // Recomputed by the HTTP client for the (possibly rewritten) body.
  'content-length',
  // The gateway reads and decodes the provider's body, so the encoding is negotiated by its own HTTP
  // client, which only offers what it can decode.
  'accept-encoding',
  // Not supported by fetch, and meaningless once the gateway holds the whole body.
  'expect',
  'authorization',
  'x-api-key',
  'cookie',
]);

export const DEFAULT_ANTHROPIC_VERSION = '2023-06-01';

/** Names listed in the Connection header are hop-by-hop too (RFC 9110 §7.6.1). */
function connectionListed(headers: Headers): Set<string> {
  const listed = new Set<string>();
  const value = headers.get('connection');
  if (value) {
    for (const name of value.split(',')) {
      const trimmed = name.trim().toLowerCase();
      if (trimmed) listed.add(trimmed);
    }
  }
  return listed;
}

export function upstreamHeaders(
  kind: ProviderKind,
  apiKey: string,
  clientHeaders: Headers,
  extra: Record<string, string>,
): Headers {
  const listed = connectionListed(clientHeaders);
  const headers = new Headers();
  for (const [name, value] of clientHeaders) {
    if (HOP_BY_HOP.has(name) || NOT_FORWARDED_UPSTREAM.has(name) || listed.has(name)) continue;
    if (name.startsWith('x-gateway-')) continue;
    headers.append(name, value);
  }
  for (const [name, value] of Object.entries(extra)) headers.set(name, value);
  // The credential last, so neither the client nor `extra` can replace it.
  if (kind === 'openai') {
    headers.set('authorization', `Bearer ${apiKey}`);
  } else {
    headers.set('x-api-key', apiKey);
    if (!headers.has('anthropic-version')) headers.set('anthropic-version', DEFAULT_ANTHROPIC_VERSION);
  }
  return headers;
}

/**
 * The provider's response headers as the client gets them: hop-by-hop headers dropped, and the length
 * and encoding too, since the body is decoded by the gateway's HTTP client and may be rewritten.
 */
export function responseHeadersForClient(upstream: Headers): Headers {
  const listed = connectionListed(upstream);
  const headers = new Headers();
  for (const [name, value] of upstream) {
    if (HOP_BY_HOP.has(name) || listed.has(name)) continue;
    if (name === 'content-length' || name === 'content-encoding') continue;
    headers.append(name, value);
  }
  return headers;
}
