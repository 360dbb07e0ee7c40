/**
 * What each provider kind gets upstream: the URL (Azure deployment URLs and the v1 API, compatible
 * base URLs, Gemini's origin) and the credential header; the config options only some kinds take;
 * Google's error body. The client's own key never goes upstream in any header a kind reads.
 */
import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../../config/load.js';
import type { RuntimeProvider } from '../../config/runtime.js';
import { errorBody, GatewayError } from '../../errors.js';
import { upstreamHeaderRecord } from '../../providers/headers.js';
import type { ProviderKind } from '../../providers/types.js';
import { upstreamPath } from './upstream.js';

function provider(
  kind: ProviderKind,
  baseUrl: string,
  extra: Partial<RuntimeProvider> = {},
): RuntimeProvider {
  return {
    name: kind,
    kind,
    baseUrl,
    apiKey: 'k',
    headers: {},
    timeouts: { connectMs: 1, headersMs: 1, bodyMs: 1 },
    connections: 1,
    ...extra,
  };
}

describe('upstream paths by provider kind', () => {
  const azure = provider('azure', 'https://res.openai.azure.com', {
    apiVersion: '2024-10-21',
    deployments: { 'gpt-4o': 'prod 4o' },
  });

  it('Azure: deployment URLs with api-version; unmapped models are their own deployment', () => {
    expect(upstreamPath(azure, '/v1/chat/completions', 'gpt-4o')).toBe(
      '/openai/deployments/prod%204o/chat/completions?api-version=2024-10-21',
    );
    expect(upstreamPath(azure, '/v1/embeddings', 'text-embedding-3-small')).toBe(
      '/openai/deployments/text-embedding-3-small/embeddings?api-version=2024-10-21',
    );
    // Responses have no deployment route: the model is in the body.
    expect(upstreamPath(azure, '/v1/responses', 'gpt-4o')).toBe('/openai/responses?api-version=2024-10-21');
  });

  it('Azure v1 API, compatible servers and Gemini', () => {
    const v1 = provider('azure', 'https://res.openai.azure.com', { apiVersion: 'v1' });
    expect(upstreamPath(v1, '/v1/chat/completions', 'gpt-4o')).toBe('/openai/v1/chat/completions');
    const groq = provider('openai-compatible', 'https://api.groq.com/openai/v1');
    expect(upstreamPath(groq, '/v1/chat/completions', 'x')).toBe('/openai/v1/chat/completions');
    const google = provider('google', 'https://generativelanguage.googleapis.com');
    expect(upstreamPath(google, '/v1beta/models/gemini-2.5-flash:generateContent', 'gemini-2.5-flash')).toBe(
      '/v1beta/models/gemini-2.5-flash:generateContent',
    );
  });
});

describe('upstream credentials by provider kind', () => {
  const client = {
    authorization: 'Bearer sk-gw-client',
    'x-api-key': 'sk-gw-client',
    'x-goog-api-key': 'sk-gw-client',
    'api-key': 'sk-gw-client',
    'content-type': 'application/json',
  };
  const cases: Array<[ProviderKind, Record<string, string>]> = [
    ['openai', { authorization: 'Bearer up' }],
    ['openai-compatible', { authorization: 'Bearer up' }],
    ['azure', { 'api-key': 'up' }],
    ['google', { 'x-goog-api-key': 'up' }],
    ['anthropic', { 'x-api-key': 'up', 'anthropic-version': '2023-06-01' }],
  ];
  it.each(cases)('%s gets its own header and none of the client key', (kind, expected) => {
    const sent = upstreamHeaderRecord(kind, 'up', client, {});
    expect({ ...sent }).toEqual({ 'content-type': 'application/json', ...expected });
  });
});

describe('provider kind options in config', () => {
  const config = (providers: string) =>
    parseConfig(`providers:\n${providers}\nmodels:\n  m: { provider: p, input: 1, output: 1 }\n`, 't', {});

  it('azure defaults its api-version; deployments and stream_usage are compiled', () => {
    const azure = config(
      '  p: { kind: azure, base_url: "https://r.openai.azure.com", api_key: k, deployments: { m: d } }',
    );
    expect(azure.providers.get('p')).toMatchObject({
      kind: 'azure',
      apiVersion: '2024-10-21',
      deployments: { m: 'd' },
    });
    const vllm = config(
      '  p: { kind: openai-compatible, base_url: "http://127.0.0.1:8000/v1", stream_usage: false }',
    );
    expect(vllm.providers.get('p')?.streamUsage).toBe(false);
  });

  it('takes gemini as another name for google', () => {
    expect(
      config('  p: { kind: gemini, base_url: "https://generativelanguage.googleapis.com" }').providers.get(
        'p',
      )?.kind,
    ).toBe('google');
  });

  it('refuses options on kinds that do not read them, by path', () => {
    let problems: string[] = [];
    try {
      config(
        '  p: { kind: openai, base_url: "https://api.openai.com/v1", api_version: v1, stream_usage: false }',
      );
    } catch (error) {
      if (error instanceof ConfigError) problems = error.problems;
    }
    expect(problems).toEqual([
      'providers.p.api_version: only azure providers take an api_version',
      'providers.p.stream_usage: only openai-compatible providers take stream_usage',
    ]);
  });
});

describe("Google's error format", () => {
  it('carries the HTTP code, the google.rpc status and the gateway code as an ErrorInfo reason', () => {
    const body = errorBody(new GatewayError('budget_exceeded', 'Budget "b" is exhausted.'), 'google');
    expect(body).toEqual({
      error: {
        code: 429,
        message: 'Budget "b" is exhausted.',
        status: 'RESOURCE_EXHAUSTED',
        details: [
          {
            '@type': 'type.googleapis.com/google.rpc.ErrorInfo',
            reason: 'BUDGET_EXCEEDED',
            domain: 'llm-budget-gateway',
          },
        ],
      },
    });
    const invalid = errorBody(
      new GatewayError('invalid_request', 'bad', { param: 'contents' }),
      'google',
    ) as {
      error: { code: number; status: string; details: unknown[] };
    };
    expect(invalid.error.status).toBe('INVALID_ARGUMENT');
    expect(invalid.error.details[1]).toEqual({
      '@type': 'type.googleapis.com/google.rpc.BadRequest',
      fieldViolations: [{ field: 'contents', description: 'bad' }],
    });
  });
});
