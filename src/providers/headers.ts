/**
 * Header hygiene between the client, the gateway and the provider: allow-lists both ways, per
 * provider ([hardening] 11). A deny-list let a key holder choose which organisation or project of
 * the gateway's provider account is billed (`openai-organization`, `openai-project`), pass its own
 * idea of the client address (`x-forwarded-for`, `forwarded`, `x-real-ip`), and let the provider's
 * account ids and cookies reach every client. Now only what an official SDK needs goes up and only
 * what it reads comes back; the operator's `providers.<name>.headers` are added on top (theirs to
 * choose), and the provider's credential is set last.
 *
 * `anthropic-beta` is the one header whose values change what a request costs; each such flag is
 * handled explicitly (ANTHROPIC_PRICED_BETAS), the others pass.
 */
import type { ProviderKind } from './types.js';

interface HeaderAllowList {
  names: ReadonlySet<string>;
  prefixes: readonly string[];
}

/**
 * Sent upstream. `x-stainless-*` is the official SDKs' telemetry, `traceparent`/`tracestate` trace
 * context (W3C), `x-mock-*` the controls of the gateway's own mock provider (real providers ignore
 * them, and they carry nothing of the caller's identity).
 */
const COMMON_UPSTREAM = [
  'content-type',
  'accept',
  'user-agent',
  'idempotency-key',
  'traceparent',
  'tracestate',
];
const UPSTREAM: Record<ProviderKind, HeaderAllowList> = {
  openai: {
    names: new Set([...COMMON_UPSTREAM, 'openai-beta']),
    prefixes: ['x-stainless-', 'x-mock-'],
  },
  anthropic: {
    names: new Set([...COMMON_UPSTREAM, 'anthropic-version', 'anthropic-beta']),
    prefixes: ['x-stainless-', 'x-mock-'],
  },
  azure: { names: new Set([...COMMON_UPSTREAM, 'openai-beta']), prefixes: ['x-stainless-', 'x-mock-'] },
  'openai-compatible': { names: new Set(COMMON_UPSTREAM), prefixes: ['x-stainless-', 'x-mock-'] },
  // The @google/genai SDK's client header (x-goog-api-client) is its telemetry, like x-stainless-*.
  google: { names: new Set([...COMMON_UPSTREAM, 'x-goog-api-client']), prefixes: ['x-mock-'] },
};

/**
 * Returned to the client: the body's type, the provider's request id (support tickets quote it),
 * and what the SDKs' retry logic reads. Never the provider's account ids or cookies.
 */
const COMMON_RESPONSE = [
  'content-type',
  'cache-control',
  'retry-after',
  'retry-after-ms',
  'x-should-retry',
  'x-request-id',
];
const RESPONSE: Record<ProviderKind, HeaderAllowList> = {
  openai: {
    names: new Set([...COMMON_RESPONSE, 'openai-processing-ms', 'openai-version']),
    prefixes: ['x-ratelimit-'],
  },
  anthropic: {
    names: new Set([...COMMON_RESPONSE, 'request-id']),
    prefixes: ['anthropic-ratelimit-'],
  },
  azure: { names: new Set([...COMMON_RESPONSE, 'apim-request-id']), prefixes: ['x-ratelimit-'] },
  'openai-compatible': { names: new Set(COMMON_RESPONSE), prefixes: ['x-ratelimit-'] },
  google: { names: new Set(COMMON_RESPONSE), prefixes: [] },
};

function allowed(list: HeaderAllowList, name: string): boolean {
  if (list.names.has(name)) return true;
  for (const prefix of list.prefixes) if (name.startsWith(prefix)) return true;
  return false;
}

/**
 * `anthropic-beta` flags that change the price, and what the gateway does with each:
 * - `context-1m-*` passes: admission refuses it for a model without a `long_context` price tier
 *   (pricing.ts longContextBetaProblem), and reserves and settles at the tier's prices otherwise.
 * - `extended-cache-ttl-*` passes: the flag alone costs nothing; the 1-hour cache writes it enables
 *   are refused in the body (pricing.ts messagesPricingProblem).
 * - `output-128k-*` is removed: it lifts the output cap past the model's `max_output_tokens`, the
 *   most the gateway reserves for; without it the provider refuses such a `max_tokens` (400, billed
 *   nothing) instead of producing output nobody reserved.
 */
export const ANTHROPIC_PRICED_BETAS: ReadonlyArray<{ flag: RegExp; rule: 'admission' | 'body' | 'removed' }> =
  [
    { flag: /^context-1m-/, rule: 'admission' },
    { flag: /^extended-cache-ttl-/, rule: 'body' },
    { flag: /^output-128k-/, rule: 'removed' },
  ];

/** The client's `anthropic-beta` as it goes upstream (undefined: no flag left). */
export function anthropicBetaUpstream(value: string): string | undefined {
  const kept = value
    .split(',')
    .map((flag) => flag.trim())
    .filter((flag) => {
      if (!flag) return false;
      const priced = ANTHROPIC_PRICED_BETAS.find((beta) => beta.flag.test(flag.toLowerCase()));
      return priced?.rule !== 'removed';
    });
  return kept.length > 0 ? kept.join(',') : undefined;
}

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

/** One client header as it goes upstream to a provider of `kind`: its value, or undefined (dropped). */
function upstreamValue(
  kind: ProviderKind,
  name: string,
  value: string,
  listed: ReadonlySet<string>,
): string | undefined {
  if (HOP_BY_HOP.has(name) || listed.has(name) || !allowed(UPSTREAM[kind], name)) return undefined;
  return name === 'anthropic-beta' ? anthropicBetaUpstream(value) : value;
}

/** Whether a provider's response header reaches the client. */
function reachesClient(kind: ProviderKind, name: string, listed: ReadonlySet<string>): boolean {
  return !HOP_BY_HOP.has(name) && !listed.has(name) && allowed(RESPONSE[kind], name);
}

export const DEFAULT_ANTHROPIC_VERSION = '2023-06-01';

/**
 * W3C Trace Context, allowed upstream on purpose: with tracing off the client's own `traceparent`
 * and `tracestate` reach the provider unchanged (the gateway is transparent to the app's trace);
 * with tracing on, src/telemetry/request-trace.ts replaces them with the context of the gateway's
 * CLIENT span for that attempt, which continues the client's trace. Never on the lists above.
 */
export const TRACE_CONTEXT_HEADERS: readonly string[] = ['traceparent', 'tracestate'];

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
    const sent = upstreamValue(kind, name, value, listed);
    if (sent !== undefined) headers.append(name, sent);
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
 * The provider's response headers as the client gets them: the allow-list of its kind. The length
 * and encoding are never on it, since the body is decoded by the gateway's HTTP client and may be
 * rewritten.
 */
export function responseHeadersForClient(upstream: Headers, kind: ProviderKind): Headers {
  const listed = connectionListed(upstream);
  const headers = new Headers();
  for (const [name, value] of upstream) {
    if (reachesClient(kind, name, listed)) headers.append(name, value);
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
    const sent = upstreamValue(kind, name, client[name]!, listed);
    if (sent !== undefined) out[name] = sent;
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
  kind: ProviderKind,
): ResponseHeaderRecord {
  const connection = upstream.connection;
  const listed = listedIn(Array.isArray(connection) ? connection.join(', ') : connection);
  const out: ResponseHeaderRecord = {};
  for (const name in upstream) {
    const value = upstream[name];
    if (value === undefined) continue;
    if (!reachesClient(kind, name, listed)) continue;
    out[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}
