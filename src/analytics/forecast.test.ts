import { describe, expect, it } from 'vitest';
import { linearForecast } from '../budget/forecast.js';
import { DEFAULT_FORECAST_EVIDENCE, hasForecastEvidence } from '../budget/forecast-evidence.js';
import { type BurnRateSource, ewmaRate, forecastBalance, forecastSpend } from './forecast.js';

const HOUR = 3_600_000;
const USD = 1_000_000_000;
const START = Date.UTC(2030, 2, 1); // a monthly period: March 2030
const END = Date.UTC(2030, 3, 1);

/** Sum of q^h for h = 0 .. n-1 (the EWMA weights in closed form). */
function geometric(q: number, n: number): number {
  return (1 - q ** n) / (1 - q);
}
const Q = 2 ** (-1 / 6); // six-hour half-life

describe('forecast', () => {
  it('steady burn: the rate is the hourly spend, projected to the period end', () => {
    const now = START + 10 * HOUR + 30 * 60_000;
    const f = forecastSpend({
      spentNano: 10.5 * USD,
      limitNano: 1000 * USD,
      periodStartMs: START,
      periodEndMs: END,
      nowMs: now,
      hourly: Array(10).fill(1 * USD),
    });
    expect(f.method).toBe('ewma');
    expect(f.rateNanoPerHour).toBeCloseTo(USD, 3);
    const hoursLeft = (END - now) / HOUR;
    expect(f.projectedNano).toBe(Math.round(10.5 * USD + hoursLeft * USD));
    // $1000 lasts past the end of March at $1/h (~709 hours left): no exhaustion this period.
    expect(f.exhaustedAtMs).toBeNull();
  });

  it('steady burn that runs out: exhaustion at remaining / rate', () => {
    const now = START + 10 * HOUR;
    const f = forecastSpend({
      spentNano: 10 * USD,
      limitNano: 30 * USD,
      periodStartMs: START,
      periodEndMs: END,
      nowMs: now,
      hourly: Array(10).fill(2 * USD),
    });
    expect(f.rateNanoPerHour).toBeCloseTo(2 * USD, 3);
    expect(f.exhaustedAtMs).toBe(now + 10 * HOUR);
  });

  it('a spike in the last hour raises the rate by its share of the weights', () => {
    const hourly = [...Array(23).fill(1 * USD), 25 * USD];
    const expected = USD + (24 * USD) / geometric(Q, 24);
    expect(ewmaRate(hourly)).toBeCloseTo(expected, 0);
    const f = forecastSpend({
      spentNano: 48 * USD,
      limitNano: 10_000 * USD,
      periodStartMs: START,
      periodEndMs: END,
      nowMs: START + 24 * HOUR,
      hourly,
    });
    expect(f.method).toBe('ewma');
    expect(f.rateNanoPerHour).toBeCloseTo(expected, 0);
    // The same spike twelve hours ago weighs a quarter as much (two half-lives).
    const older = [...Array(11).fill(1 * USD), 25 * USD, ...Array(12).fill(1 * USD)];
    expect(ewmaRate(older) - USD).toBeCloseTo((24 * USD * 0.25) / geometric(Q, 24), 0);
  });

  it('hours without spend before the first request count as zeros', () => {
    // 336 quiet hours, then 10 hours at $3: rate = 3 * (sum of the 10 newest weights) / (all weights).
    const hourly = [...Array(336).fill(0), ...Array(10).fill(3 * USD)];
    expect(ewmaRate(hourly)).toBeCloseTo((3 * USD * geometric(Q, 10)) / geometric(Q, 346), 0);
  });

  it('an empty history falls back to the linear forecast', () => {
    const input = {
      spentNano: 5 * USD,
      limitNano: 100 * USD,
      periodStartMs: START,
      periodEndMs: END,
      nowMs: START + 50 * HOUR,
      hourly: [],
    };
    const f = forecastSpend(input);
    expect(f.method).toBe('linear');
    expect(f.rateNanoPerHour).toBeCloseTo((5 * USD) / 50, 3);
    const linear = linearForecast(input);
    expect(f.projectedNano).toBe(linear.projectedNano);
    expect(f.exhaustedAtMs).toBe(linear.exhaustedAtMs);
  });

  it('too few hours, or history that never saw the spend, fall back to linear', () => {
    const base = { limitNano: 100 * USD, periodStartMs: START, periodEndMs: END, nowMs: START + 2 * HOUR };
    expect(forecastSpend({ ...base, spentNano: 2 * USD, hourly: [USD, USD] }).method).toBe('linear');
    expect(
      forecastSpend({ ...base, nowMs: START + 5 * HOUR, spentNano: 2 * USD, hourly: [0, 0, 0, 0, 0] }).method,
    ).toBe('linear');
    // Zeros with nothing spent are a real quiet history: no burn, nothing projected.
    const quiet = forecastSpend({ ...base, nowMs: START + 5 * HOUR, spentNano: 0, hourly: [0, 0, 0, 0, 0] });
    expect(quiet).toMatchObject({
      method: 'ewma',
      rateNanoPerHour: 0,
      projectedNano: 0,
      exhaustedAtMs: null,
    });
  });

  it('an exhausted line is exhausted now; a prepaid line has no projection', () => {
    const now = START + 20 * HOUR;
    const spent = forecastSpend({
      spentNano: 100 * USD,
      limitNano: 100 * USD,
      periodStartMs: START,
      periodEndMs: END,
      nowMs: now,
      hourly: Array(20).fill(5 * USD),
    });
    expect(spent.exhaustedAtMs).toBe(now);
    const prepaid = forecastSpend({
      spentNano: 40 * USD,
      limitNano: 100 * USD,
      periodStartMs: 0,
      periodEndMs: null,
      nowMs: now,
      hourly: Array(168).fill(2 * USD),
    });
    expect(prepaid.projectedNano).toBeNull();
    expect(prepaid.exhaustedAtMs).toBe(now + 30 * HOUR);
  });
});

describe('forecasts wait for observed history', () => {
  const rule = DEFAULT_FORECAST_EVIDENCE;
  const base = { limitNano: 100 * USD, periodStartMs: START, periodEndMs: END, hourly: [] as number[] };

  it('projects nothing in the first hour of a period, however long the gateway has been up', () => {
    const evidence = { observedSinceMs: START - 30 * 24 * HOUR, rule };
    const early = forecastSpend({ ...base, spentNano: 10 * USD, nowMs: START + 5 * 60_000, evidence });
    expect(early).toMatchObject({ method: 'linear', projectedNano: null, exhaustedAtMs: null });
    // Without the rule, five minutes of spend would project a month: $10 in 5 minutes runs out in 45.
    const unguarded = forecastSpend({ ...base, spentNano: 10 * USD, nowMs: START + 5 * 60_000 });
    expect(unguarded.exhaustedAtMs).toBe(START + 50 * 60_000);
    const later = forecastSpend({ ...base, spentNano: 10 * USD, nowMs: START + HOUR, evidence });
    expect(later.exhaustedAtMs).toBe(START + 10 * HOUR);
  });

  it('projects nothing in the first hour after the gateway started, and an exhausted line is exhausted', () => {
    const now = START + 12 * HOUR;
    const evidence = { observedSinceMs: now - 10 * 60_000, rule };
    const young = forecastSpend({ ...base, spentNano: 60 * USD, nowMs: now, evidence });
    expect(young.projectedNano).toBeNull();
    expect(young.exhaustedAtMs).toBeNull();
    const spent = forecastSpend({ ...base, spentNano: 100 * USD, nowMs: now, evidence });
    expect(spent).toMatchObject({ projectedNano: null, exhaustedAtMs: now });
  });

  it('/v1/budget: the history rate with evidence, linear without a rate, nothing before the hour', () => {
    const now = START + 10 * HOUR;
    const input = { ...base, spentNano: 10 * USD, nowMs: now };
    const line = { instance: 'b', periodId: '2030-03' };
    const source = (observedSinceMs: number, rate?: number): BurnRateSource => ({
      rateOf: () => (rate === undefined ? undefined : { rateNanoPerHour: rate, computedAtMs: now }),
      hasEvidence: (period) => hasForecastEvidence({ ...period, observedSinceMs }, rule),
    });
    expect(forecastBalance(input, line, source(now - 59 * 60_000, 5 * USD))).toEqual({
      projectedNano: null,
      exhaustedAtMs: null,
    });
    expect(forecastBalance(input, line, source(START, 5 * USD)).exhaustedAtMs).toBe(now + 18 * HOUR);
    expect(forecastBalance(input, line, source(START)).exhaustedAtMs).toBe(now + 90 * HOUR);
    expect(forecastBalance(input, line).exhaustedAtMs).toBe(now + 90 * HOUR); // no analytics: linear
  });
});
