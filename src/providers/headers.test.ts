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
];
const VALUES = [
  'a',
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
      ),
      fc.oneof(
        fc.constantFrom(...VALUES),
        fc.array(fc.constantFrom(...VALUES), { minLength: 1, maxLength: 3 }),
      ),
    );
    fc.assert(
      fc.property(upstream, (undiciHeaders) => {
        const asHeaders = new Headers();
        for (const [name, value] of Object.entries(undiciHeaders)) {
          for (const v of Array.isArray(value) ? value : [value]) asHeaders.append(name, v);
        }
        const expected = responseHeadersForClient(asHeaders);
        const record = clientHeaderRecord(undiciHeaders);
        const { 'set-cookie': cookies, ...rest } = record;
        const { 'set-cookie': _, ...expectedRest } = entries(expected);
        expect(rest).toEqual(expectedRest);
        const cookieList = cookies === undefined ? [] : Array.isArray(cookies) ? cookies : [cookies];
        expect(cookieList).toEqual(expected.getSetCookie());
      }),
      { numRuns: 300 },
    );
  });
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
