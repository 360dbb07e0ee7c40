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
  // The Gemini SDK's credential header (and Azure's): the client's virtual key, never sent upstream.
  'x-goog-api-key',
  'api-key',
  'cookie',
]);

export const DEFAULT_ANTHROPIC_VERSION = '2023-06-01';

/** Names listed in the Connection header are hop-by-hop too (RFC 9110 §7.6.1). */
function connectionListed(headers: Headers): ReadonlySet<string> {
  return listedIn(headers.get('connection'));
}

const NONE_LISTED: ReadonlySet<string> = new Set();
/** Parsed Connection values: a client sends the same one ("keep-alive") on every request. */
const listedCache = new Map<string, ReadonlySet<string>>();

function listedIn(value: string | null | undefined): ReadonlySet<string> {
  if (!value) return NONE_LISTED;
  let listed = listedCache.get(value);
  if (listed === undefined) {
    listed = parseListed(value);
    if (listedCache.size >= 64) listedCache.clear();
    listedCache.set(value, listed);
  }
  return listed;
}

function parseListed(value: string): Set<string> {
  const listed = new Set<string>();
  for (const name of value.split(',')) {
    const trimmed = name.trim().toLowerCase();
    if (trimmed) listed.add(trimmed);
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
  const credential = credentialHeaders(kind, apiKey);
  for (const name in credential) headers.set(name, credential[name]!);
  if (kind === 'anthropic' && !headers.has('anthropic-version')) {
    headers.set('anthropic-version', DEFAULT_ANTHROPIC_VERSION);
  }
  return headers;
}

/**
 * The provider's credential, in the header its API reads: OpenAI and compatible servers a bearer
 * token, Anthropic `x-api-key`, Gemini `x-goog-api-key` (never `?key=`: a URL ends up in logs),
 * Azure OpenAI `api-key`.
 */
function credentialHeaders(kind: ProviderKind, apiKey: string): Record<string, string> {
  switch (kind) {
    case 'anthropic':
      return { 'x-api-key': apiKey };
    case 'google':
      return { 'x-goog-api-key': apiKey };
    case 'azure':
      return { 'api-key': apiKey };
    default:
      return { authorization: `Bearer ${apiKey}` };
  }
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

/**
 * Plain-object forms of the two functions above, same rules, for the proxy's hot path: WHATWG
 * Headers validate and re-sort on every operation (measured ~15 µs per proxied request in all),
 * while Node hands the gateway plain objects on both sides and @hono/node-server writes a plain
 * object straight to the socket.
 */

/** Lower-case name to value; repeated headers joined with ", " as Headers does (set-cookie kept apart). */
export type HeaderRecord = Record<string, string>;
export type ResponseHeaderRecord = Record<string, string | string[]>;

/** A request's headers from Node's rawHeaders (name, value, name, value, ...). */
export function headerRecordFromRaw(raw: readonly string[]): HeaderRecord {
  const out: HeaderRecord = Object.create(null);
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    const value = raw[i + 1]!;
    const existing = out[name];
    out[name] = existing === undefined ? value : `${existing}, ${value}`;
  }
  return out;
}

/** A request's headers from a Headers object (when there is no Node request, e.g. app.request()). */
export function headerRecordFromHeaders(headers: Headers): HeaderRecord {
  const out: HeaderRecord = Object.create(null);
  headers.forEach((value, name) => {
    out[name] = value;
  });
  return out;
}

/** upstreamHeaders() on a HeaderRecord, answering a plain object. */
export function upstreamHeaderRecord(
  kind: ProviderKind,
  apiKey: string,
  client: HeaderRecord,
  extra: Record<string, string>,
): HeaderRecord {
  const listed = listedIn(client.connection);
  const out: HeaderRecord = Object.create(null);
  for (const name in client) {
    if (HOP_BY_HOP.has(name) || NOT_FORWARDED_UPSTREAM.has(name) || listed.has(name)) continue;
    if (name.startsWith('x-gateway-')) continue;
    out[name] = client[name]!;
  }
  for (const name in extra) out[name.toLowerCase()] = extra[name]!;
  Object.assign(out, credentialHeaders(kind, apiKey));
  if (kind === 'anthropic' && out['anthropic-version'] === undefined) {
    out['anthropic-version'] = DEFAULT_ANTHROPIC_VERSION;
  }
  return out;
}

/** responseHeadersForClient() on the plain object undici answers with (lower-case names). */
export function clientHeaderRecord(
  upstream: Record<string, string | string[] | undefined>,
): ResponseHeaderRecord {
  const connection = upstream.connection;
  const listed = listedIn(Array.isArray(connection) ? connection.join(', ') : connection);
  const out: ResponseHeaderRecord = {};
  for (const name in upstream) {
    const value = upstream[name];
    if (value === undefined) continue;
    if (HOP_BY_HOP.has(name) || listed.has(name)) continue;
    if (name === 'content-length' || name === 'content-encoding') continue;
    if (!Array.isArray(value)) out[name] = value;
    else if (name === 'set-cookie') out[name] = value;
    else out[name] = value.join(', ');
  }
  return out;
}
