import { describe, expect, it } from 'vitest';
import { DEFAULT_FORECAST_EVIDENCE, hasForecastEvidence, requiredHistoryMs } from './forecast-evidence.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const DEC_1 = Date.UTC(2026, 11, 1);
const JAN_1 = Date.UTC(2027, 0, 1);

describe('forecast evidence', () => {
  it('requires the shorter of an hour and 5% of the period', () => {
    const rule = DEFAULT_FORECAST_EVIDENCE;
    expect(requiredHistoryMs(rule, DEC_1, DEC_1 + DAY)).toBe(HOUR); // 5% of a day is 72 minutes
    expect(requiredHistoryMs(rule, DEC_1, JAN_1)).toBe(HOUR);
    expect(requiredHistoryMs(rule, 0, null)).toBe(HOUR); // prepaid: no period length
    expect(requiredHistoryMs({ minHistoryMs: 4 * HOUR, minPeriodFraction: 0.05 }, DEC_1, DEC_1 + DAY)).toBe(
      0.05 * DAY,
    );
  });

  it('counts from the period start or from when the gateway began watching, whichever is later', () => {
    const rule = DEFAULT_FORECAST_EVIDENCE;
    const at = (nowMs: number, observedSinceMs: number) =>
      hasForecastEvidence({ periodStartMs: DEC_1, periodEndMs: JAN_1, observedSinceMs, nowMs }, rule);
    // The first minutes of a month, on a gateway up for weeks.
    expect(at(DEC_1 + 2 * 60_000, DEC_1 - 20 * DAY)).toBe(false);
    expect(at(DEC_1 + HOUR, DEC_1 - 20 * DAY)).toBe(true);
    // Midday on the 1st, on a gateway started minutes ago.
    expect(at(DEC_1 + 12 * HOUR, DEC_1 + 12 * HOUR - 5 * 60_000)).toBe(false);
    expect(at(DEC_1 + 13 * HOUR, DEC_1 + 12 * HOUR - 5 * 60_000)).toBe(true);
  });

  it('waits for nothing when both settings are 0', () => {
    const off = { minHistoryMs: 0, minPeriodFraction: 0 };
    expect(
      hasForecastEvidence(
        { periodStartMs: DEC_1, periodEndMs: JAN_1, observedSinceMs: DEC_1, nowMs: DEC_1 },
        off,
      ),
    ).toBe(true);
  });
});
