import { describe, expect, it } from 'vitest';
import { linearForecast } from './forecast.js';

const NOW = Date.parse('2026-11-28T12:00:00Z');

describe('linearForecast for prepaid budgets (no period end)', () => {
  it('projects nothing and gives a date that serialises: a rate since the epoch would land past year 275760', () => {
    // 0.0001 USD spent of 10 USD: averaged since 1970 the budget would last ~5e17 ms.
    const forecast = linearForecast({
      spentNano: 100_000,
      limitNano: 10_000_000_000,
      periodStartMs: 0,
      periodEndMs: null,
      nowMs: NOW,
    });
    expect(forecast).toEqual({ projectedNano: null, exhaustedAtMs: null });
  });

  it('an exhausted prepaid budget is exhausted now', () => {
    const forecast = linearForecast({
      spentNano: 10_000_000_000,
      limitNano: 10_000_000_000,
      periodStartMs: 0,
      periodEndMs: null,
      nowMs: NOW,
    });
    expect(forecast).toEqual({ projectedNano: null, exhaustedAtMs: NOW });
    expect(new Date(forecast.exhaustedAtMs ?? 0).toISOString()).toBe('2026-11-28T12:00:00.000Z');
  });
});
