import { describe, expect, it } from 'vitest';
import type { Denial } from '../budget/denials.js';
import { denialError } from './denial-errors.js';

const config = { anonymous: { upgradeMessage: 'Create an account to keep going.' } } as Parameters<
  typeof denialError
>[1];

const NOW = Date.UTC(2026, 10, 28, 12);

function exceeded(overrides: Partial<Extract<Denial, { kind: 'budget_exceeded' }>> = {}): Denial {
  return {
    kind: 'budget_exceeded',
    budgetId: 'team-web',
    instance: 'team-web',
    remainingNano: 1_000_000,
    minimumNano: 5_060_000,
    resetsAtMs: Date.UTC(2026, 11, 1),
    nowMs: NOW,
    anonymous: false,
    ...overrides,
  };
}

describe('denialError', () => {
  it('says which budget, what is left, what the request needs and when it resets; no retry before it', () => {
    const error = denialError(exceeded(), config);
    expect(error).toMatchObject({ code: 'budget_exceeded', status: 429 });
    expect(error.message).toBe(
      'Budget "team-web" is exhausted: $0.001000000 left, this request needs at least $0.005060000. ' +
        'It resets at 2026-12-01T00:00:00.000Z.',
    );
    expect(error.headers).toEqual({
      'x-should-retry': 'false',
      'retry-after': String((Date.UTC(2026, 11, 1) - NOW) / 1000),
    });
  });

  it('rounds retry-after up to whole seconds, at least one', () => {
    expect(denialError(exceeded({ resetsAtMs: NOW + 1500 }), config).headers['retry-after']).toBe('2');
    expect(denialError(exceeded({ resetsAtMs: NOW }), config).headers['retry-after']).toBe('1');
  });

  it('sends prepaid budgets to a top-up, without retry-after', () => {
    const error = denialError(exceeded({ budgetId: 'credits', resetsAtMs: null }), config);
    expect(error.message).toContain('"credits"');
    expect(error.message).toContain('prepaid and does not reset: ask an administrator for a top-up.');
    expect(error.headers).toEqual({ 'x-should-retry': 'false' });
  });

  it('gives trial users the configured upgrade message', () => {
    const error = denialError(exceeded({ anonymous: true }), config);
    expect(error.message).toBe('Create an account to keep going.');
    expect(error.headers['x-should-retry']).toBe('false');
  });

  it('words a forbidden model for a key and for trial users, naming the field', () => {
    const forKey = denialError(
      { kind: 'forbidden_model', model: 'gpt-4o', keyId: 'k', anonymous: false },
      config,
    );
    expect(forKey).toMatchObject({ code: 'forbidden_model', status: 403, param: 'model' });
    expect(forKey.message).toBe('This key may not use the model gpt-4o.');
    const forTrial = denialError(
      {
        kind: 'forbidden_model',
        model: 'gpt-4o',
        keyId: 'anonymous',
        anonymous: true,
        allowed: ['gpt-4o-mini'],
      },
      config,
    );
    expect(forTrial.message).toBe(
      'The model gpt-4o is not allowed for trial users; the trial offers gpt-4o-mini.',
    );
  });

  it('answers 503 when the store is down, saying whether the request was sent', () => {
    const reserve = denialError({ kind: 'store_unavailable', operation: 'reserve' }, config);
    expect(reserve).toMatchObject({ code: 'store_unavailable', status: 503 });
    expect(reserve.message).toContain('not sent upstream');
    expect(denialError({ kind: 'store_unavailable', operation: 'balances' }, config).message).toContain(
      'balances cannot be read',
    );
  });
});

describe('[limits] denials', () => {
  const limit = {
    limitId: 'per-key',
    instance: 'per-key|key=web',
    requestsPerMinute: 30,
    tokensPerMinute: 0,
    concurrentRequests: 0,
  };

  it('budgeting.exhausted_status: 402 for clients that retry every 429', () => {
    const error = denialError(exceeded(), { ...config, limits: { exhaustedStatus: 402 } });
    expect(error).toMatchObject({ code: 'budget_exceeded', status: 402 });
    expect(error.headers['x-should-retry']).toBe('false');
  });

  it('a full limit: 429 rate_limit_exceeded naming it, retry-after rounded up, x-should-retry true', () => {
    const error = denialError(
      {
        kind: 'rate_limited',
        limit,
        limitKind: 'requests',
        retryAfterMs: 12_300,
        tooLarge: false,
        anonymous: false,
      },
      config,
      [
        {
          spec: limit,
          use: { requests: 30, tokens: 0, inFlight: 0, resetRequestsMs: 12_300, resetTokensMs: 0 },
        },
      ],
    );
    expect(error).toMatchObject({ code: 'rate_limit_exceeded', status: 429 });
    expect(error.message).toBe('Rate limit "per-key" reached: 30 requests per minute. Retry in 13 s.');
    expect(error.headers).toMatchObject({
      'retry-after': '13',
      'retry-after-ms': '12300',
      'x-should-retry': 'true',
      'x-ratelimit-remaining-requests': '0',
      'x-ratelimit-reset-requests': '13s',
    });
  });

  it('a request larger than the whole tokens limit is told not to retry', () => {
    const error = denialError(
      {
        kind: 'rate_limited',
        limit: { ...limit, tokensPerMinute: 6000 },
        limitKind: 'tokens',
        retryAfterMs: 60_000,
        tooLarge: true,
        anonymous: false,
      },
      config,
    );
    expect(error.headers['x-should-retry']).toBe('false');
    expect(error.message).toContain('this request alone needs more');
  });
});
