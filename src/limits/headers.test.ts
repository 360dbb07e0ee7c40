import { describe, expect, it } from 'vitest';
import { formatReset, rateLimitHeaders } from './headers.js';
import type { LimitSpec, LimitUse } from './types.js';

const spec = (instance: string, rpm: number, tpm: number): LimitSpec => ({
  limitId: instance,
  instance,
  requestsPerMinute: rpm,
  tokensPerMinute: tpm,
  concurrentRequests: 0,
});
const use = (requests: number, tokens: number): LimitUse => ({
  requests,
  tokens,
  inFlight: 0,
  resetRequestsMs: 1500,
  resetTokensMs: 61_000,
});

describe('x-ratelimit headers', () => {
  it('formats resets as OpenAI does', () => {
    expect([
      formatReset(0),
      formatReset(20),
      formatReset(1500),
      formatReset(60_000),
      formatReset(361_000),
    ]).toEqual(['0ms', '20ms', '2s', '1m0s', '6m1s']);
  });

  it('reports the tightest limit of each kind, and nothing for a kind no limit has', () => {
    const headers = rateLimitHeaders([
      { spec: spec('a', 100, 0), use: use(10, 0) },
      { spec: spec('b', 20, 6000), use: use(15, 100) },
    ]);
    expect(headers).toEqual({
      'x-ratelimit-limit-requests': '20',
      'x-ratelimit-remaining-requests': '5',
      'x-ratelimit-reset-requests': '2s',
      'x-ratelimit-limit-tokens': '6000',
      'x-ratelimit-remaining-tokens': '5900',
      'x-ratelimit-reset-tokens': '1m1s',
    });
    expect(rateLimitHeaders([{ spec: spec('c', 0, 0), use: use(1, 1) }])).toEqual({});
    expect(rateLimitHeaders(undefined)).toEqual({});
  });
});
