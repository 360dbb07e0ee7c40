/**
 * The proxy's plain-object header paths give exactly what the Headers-based functions give, for
 * any mix of headers: what goes upstream (credentials swapped, hop-by-hop and x-gateway-* dropped,
 * repeats joined) and what goes back to the client.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  clientHeaderRecord,
  headerRecordFromHeaders,
  headerRecordFromRaw,
  responseHeadersForClient,
  TRACE_CONTEXT_HEADERS,
  upstreamHeaderRecord,
  upstreamHeaders,
} from './headers.js';

const NAMES = [
  'Authorization',
  'x-api-key',
  'Host',
  'Content-Type',
  'content-length',
  'Connection',
  'keep-alive',
  'TE',
  'cookie',
  'x-gateway-user',
  'X-Gateway-Tags',
  'x-hop-custom',
  'accept',
  'user-agent',
  'anthropic-version',
  'anthropic-beta',
  'openai-organization',
  'x-mock-output-tokens',
  'x-stainless-lang',
  'openai-project',
  'x-forwarded-for',
  'traceparent',
  'openai-beta',
];
const VALUES = [
  'a',
  'output-128k-2025-02-19',
  'context-1m-2025-08-07, output-128k-2025-02-19',
  'Bearer sk-1',
  'keep-alive',
  'close, x-hop-custom',
  'x-hop-custom, TE',
  '2024-01-01',
  'v 1',
];

const rawHeaders = fc
  .array(fc.tuple(fc.constantFrom(...NAMES), fc.constantFrom(...VALUES)), { maxLength: 14 })
  .map((pairs) => pairs.flat());

/** What @hono/node-server builds from a Node request's rawHeaders. */
function headersFromRaw(raw: string[]): Headers {
  const headers = new Headers();
  for (let i = 0; i < raw.length; i += 2) headers.append(raw[i]!, raw[i + 1]!);
  return headers;
}

function entries(headers: Headers): Record<string, string> {
  const out: Record<string, string> = {};
  headers.forEach((value, name) => {
    out[name] = value;
  });
  return out;
}

describe('plain-object header records', () => {
  it('send upstream exactly what upstreamHeaders sends (property)', () => {
    fc.assert(
      fc.property(
        rawHeaders,
        fc.constantFrom('openai' as const, 'anthropic' as const),
        fc.dictionary(
          fc.constantFrom('OpenAI-Organization', 'x-extra', 'anthropic-version'),
          fc.constantFrom(...VALUES),
        ),
        (raw, kind, extra) => {
          const expected = entries(upstreamHeaders(kind, 'sk-upstream', headersFromRaw(raw), extra));
          const fromRaw = upstreamHeaderRecord(kind, 'sk-upstream', headerRecordFromRaw(raw), extra);
          const fromHeaders = upstreamHeaderRecord(
            kind,
            'sk-upstream',
            headerRecordFromHeaders(headersFromRaw(raw)),
            extra,
          );
          expect({ ...fromRaw }).toEqual(expected);
          expect({ ...fromHeaders }).toEqual(expected);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('give the client exactly what responseHeadersForClient gives (property)', () => {
    const upstream = fc.dictionary(
      fc.constantFrom(
        'content-type',
        'content-length',
        'content-encoding',
        'connection',
        'keep-alive',
        'x-request-id',
        'set-cookie',
        'openai-processing-ms',
        'x-hop-custom',
        'vary',
        'request-id',
        'anthropic-organization-id',
        'openai-organization',
        'x-ratelimit-limit-requests',
        'anthropic-ratelimit-requests-limit',
      ),
      fc.oneof(
        fc.constantFrom(...VALUES),
        fc.array(fc.constantFrom(...VALUES), { minLength: 1, maxLength: 3 }),
      ),
    );
    fc.assert(
      fc.property(
        upstream,
        fc.constantFrom('openai' as const, 'anthropic' as const),
        (undiciHeaders, kind) => {
          const asHeaders = new Headers();
          for (const [name, value] of Object.entries(undiciHeaders)) {
            for (const v of Array.isArray(value) ? value : [value]) asHeaders.append(name, v);
          }
          const expected = responseHeadersForClient(asHeaders, kind);
          const record = clientHeaderRecord(undiciHeaders, kind);
          const { 'set-cookie': cookies, ...rest } = record;
          const { 'set-cookie': _, ...expectedRest } = entries(expected);
          expect(rest).toEqual(expectedRest);
          const cookieList = cookies === undefined ? [] : Array.isArray(cookies) ? cookies : [cookies];
          expect(cookieList).toEqual(expected.getSetCookie());
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('allow-lists both ways ([hardening] 11)', () => {
  const client = () =>
    headerRecordFromHeaders(
      new Headers({
        'content-type': 'application/json',
        'user-agent': 'OpenAI/JS 6.49.0',
        'x-stainless-lang': 'js',
        traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
        tracestate: 'vendor=1',
        'openai-organization': 'org-attacker',
        'openai-project': 'proj-attacker',
        'x-forwarded-for': '1.2.3.4',
        forwarded: 'for=1.2.3.4',
        'x-real-ip': '1.2.3.4',
        'x-custom': 'anything',
        'anthropic-version': '2023-06-01',
        'anthropic-beta': 'prompt-caching-2024-07-31, output-128k-2025-02-19, context-1m-2025-08-07',
        'openai-beta': 'assistants=v2',
      }),
    );

  it.each(['openai', 'anthropic'] as const)('keeps the caller’s org, project and address from %s', (kind) => {
    const sent = upstreamHeaderRecord(kind, 'sk-upstream', client(), {});
    for (const name of [
      'openai-organization',
      'openai-project',
      'x-forwarded-for',
      'forwarded',
      'x-real-ip',
      'x-custom',
    ])
      expect(sent[name], name).toBeUndefined();
    expect(sent.traceparent).toBe('00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01');
    expect(sent.tracestate).toBe('vendor=1');
    expect(sent['user-agent']).toBe('OpenAI/JS 6.49.0');
    expect(sent['x-stainless-lang']).toBe('js');
  });

  it('sends each provider only its own protocol headers', () => {
    const openai = upstreamHeaderRecord('openai', 'k', client(), {});
    expect(openai['openai-beta']).toBe('assistants=v2');
    expect(openai['anthropic-beta']).toBeUndefined();
    const anthropic = upstreamHeaderRecord('anthropic', 'k', client(), {});
    expect(anthropic['openai-beta']).toBeUndefined();
    expect(anthropic['anthropic-version']).toBe('2023-06-01');
  });

  it('handles the price-changing anthropic-beta flags explicitly', () => {
    const anthropic = upstreamHeaderRecord('anthropic', 'k', client(), {});
    // output-128k lifts the cap past what was reserved: removed; context-1m is admission's to refuse.
    expect(anthropic['anthropic-beta']).toBe('prompt-caching-2024-07-31,context-1m-2025-08-07');
    const only = upstreamHeaderRecord('anthropic', 'k', { 'anthropic-beta': 'output-128k-2025-02-19' }, {});
    expect(only['anthropic-beta']).toBeUndefined();
  });

  it('lets the operator’s configured headers through (theirs to choose)', () => {
    const sent = upstreamHeaderRecord('openai', 'k', client(), { 'OpenAI-Organization': 'org-operator' });
    expect(sent['openai-organization']).toBe('org-operator');
  });

  it.each(['openai', 'anthropic'] as const)(
    'keeps the provider’s account ids and cookies from %s clients',
    (kind) => {
      const back = clientHeaderRecord(
        {
          'content-type': 'application/json',
          'x-request-id': 'req_1',
          'request-id': 'req_1',
          'openai-organization': 'org-gateway',
          'openai-project': 'proj-gateway',
          'anthropic-organization-id': 'uuid-gateway',
          'set-cookie': ['__cf_bm=abc; path=/', '_cfuvid=def'],
          'cf-ray': 'xyz',
          server: 'cloudflare',
          'retry-after': '3',
          'x-ratelimit-remaining-requests': '9',
          'anthropic-ratelimit-requests-remaining': '9',
        },
        kind,
      );
      for (const name of [
        'openai-organization',
        'openai-project',
        'anthropic-organization-id',
        'set-cookie',
        'cf-ray',
        'server',
      ])
        expect(back[name], name).toBeUndefined();
      expect(back['content-type']).toBe('application/json');
      expect(back['x-request-id']).toBe('req_1');
      expect(back['retry-after']).toBe('3');
      if (kind === 'openai') expect(back['x-ratelimit-remaining-requests']).toBe('9');
      else expect(back['anthropic-ratelimit-requests-remaining']).toBe('9');
    },
  );
});

describe('W3C trace context', () => {
  it('goes upstream as the client sent it (src/telemetry replaces it when tracing is on)', () => {
    const client = headerRecordFromRaw([
      'traceparent',
      '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
      'tracestate',
      'vendor=abc',
      'authorization',
      'Bearer sk-gw-client-key',
    ]);
    const upstream = upstreamHeaderRecord('openai', 'sk-upstream', client, {});
    for (const name of TRACE_CONTEXT_HEADERS) expect(upstream[name]).toBe(client[name]);
    expect(upstream.authorization).toBe('Bearer sk-upstream');
  });
});
