import { describe, expect, it } from 'vitest';
import { cachedPeriodOf, isValidTimeZone, periodOf, ttlSecondsFor } from './periods.js';

const at = (iso: string) => Date.parse(iso);
const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
const HOUR = 3_600_000;

describe('daily periods', () => {
  it('is aligned to midnight in a zone ahead of UTC (Asia/Tokyo)', () => {
    const before = periodOf('daily', 'Asia/Tokyo', at('2026-11-27T14:59:59.999Z'));
    const after = periodOf('daily', 'Asia/Tokyo', at('2026-11-27T15:00:00.000Z'));
    expect(before.id).toBe('2026-11-27');
    expect(after.id).toBe('2026-11-28');
    expect(iso(after.startMs)).toBe('2026-11-27T15:00:00.000Z');
    expect(iso(after.endMs)).toBe('2026-11-28T15:00:00.000Z');
    expect(before.endMs).toBe(after.startMs);
    expect(after.previousId).toBe('2026-11-27');
  });

  it('is aligned to midnight in a zone behind UTC (America/Los_Angeles)', () => {
    const p = periodOf('daily', 'America/Los_Angeles', at('2026-11-28T07:30:00Z'));
    expect(p.id).toBe('2026-11-27');
    expect(iso(p.startMs)).toBe('2026-11-27T08:00:00.000Z');
    expect(iso(p.endMs)).toBe('2026-11-28T08:00:00.000Z');
  });

  it('has 23 hours on the US spring-forward day', () => {
    const p = periodOf('daily', 'America/Los_Angeles', at('2026-03-08T20:00:00Z'));
    expect(p.id).toBe('2026-03-08');
    expect(iso(p.startMs)).toBe('2026-03-08T08:00:00.000Z');
    expect(iso(p.endMs)).toBe('2026-03-09T07:00:00.000Z');
    expect(p.endMs! - p.startMs).toBe(23 * HOUR);
  });

  it('has 25 hours on the US fall-back day', () => {
    const p = periodOf('daily', 'America/New_York', at('2026-11-01T12:00:00Z'));
    expect(p.id).toBe('2026-11-01');
    expect(iso(p.startMs)).toBe('2026-11-01T04:00:00.000Z');
    expect(p.endMs! - p.startMs).toBe(25 * HOUR);
  });

  it('starts at the transition when DST skips midnight (America/Santiago, Asia/Beirut)', () => {
    // 2022-09-11 00:00 -04 did not exist in Santiago: clocks went to 01:00 -03.
    const santiago = periodOf('daily', 'America/Santiago', at('2022-09-11T12:00:00Z'));
    expect(santiago.id).toBe('2022-09-11');
    expect(iso(santiago.startMs)).toBe('2022-09-11T04:00:00.000Z');
    expect(santiago.endMs! - santiago.startMs).toBe(23 * HOUR);
    const dayBefore = periodOf('daily', 'America/Santiago', at('2022-09-11T03:59:59.999Z'));
    expect(dayBefore.id).toBe('2022-09-10');
    expect(dayBefore.endMs).toBe(santiago.startMs);
    // Beirut 2020-03-29 00:00 +02 jumped to 01:00 +03.
    const beirut = periodOf('daily', 'Asia/Beirut', at('2020-03-29T12:00:00Z'));
    expect(iso(beirut.startMs)).toBe('2020-03-28T22:00:00.000Z');
  });

  it('starts after the repeated hour when DST falls back at midnight (America/Santiago)', () => {
    // 2022-04-03 00:00 -03 became 2022-04-02 23:00 -04: April 2 lasts 25 hours.
    const april2 = periodOf('daily', 'America/Santiago', at('2022-04-02T12:00:00Z'));
    expect(april2.endMs! - april2.startMs).toBe(25 * HOUR);
    const april3 = periodOf('daily', 'America/Santiago', at('2022-04-03T12:00:00Z'));
    expect(iso(april3.startMs)).toBe('2022-04-03T04:00:00.000Z');
    expect(april2.endMs).toBe(april3.startMs);
  });

  it('handles the end of February in leap and non-leap years', () => {
    expect(periodOf('daily', 'UTC', at('2024-02-29T23:00:00Z')).previousId).toBe('2024-02-28');
    expect(periodOf('daily', 'UTC', at('2024-03-01T00:00:00Z')).previousId).toBe('2024-02-29');
    expect(periodOf('daily', 'UTC', at('2026-03-01T00:00:00Z')).previousId).toBe('2026-02-28');
    const feb = periodOf('monthly', 'UTC', at('2024-02-10T00:00:00Z'));
    expect(feb.endMs! - feb.startMs).toBe(29 * 24 * HOUR);
    const feb2026 = periodOf('monthly', 'UTC', at('2026-02-10T00:00:00Z'));
    expect(feb2026.endMs! - feb2026.startMs).toBe(28 * 24 * HOUR);
  });
});

describe('weekly periods (ISO weeks, Monday first)', () => {
  it('names weeks across a year end by the year of their Thursday', () => {
    expect(periodOf('weekly', 'UTC', at('2026-11-28T12:00:00Z')).id).toBe('2026-W48');
    expect(periodOf('weekly', 'UTC', at('2026-12-31T12:00:00Z')).id).toBe('2026-W53');
    expect(periodOf('weekly', 'UTC', at('2027-01-03T23:59:59Z')).id).toBe('2026-W53');
    expect(periodOf('weekly', 'UTC', at('2027-01-04T00:00:00Z')).id).toBe('2027-W01');
    expect(periodOf('weekly', 'UTC', at('2021-01-03T00:00:00Z')).id).toBe('2020-W53');
    // 2024-12-30 (a Monday) is in week 1 of 2025.
    expect(periodOf('weekly', 'UTC', at('2024-12-30T00:00:00Z')).id).toBe('2025-W01');
    expect(periodOf('weekly', 'UTC', at('2025-01-06T00:00:00Z')).previousId).toBe('2025-W01');
    expect(periodOf('weekly', 'UTC', at('2025-01-01T00:00:00Z')).previousId).toBe('2024-W52');
  });

  it('starts on Monday at local midnight', () => {
    const p = periodOf('weekly', 'Europe/Berlin', at('2026-11-28T12:00:00Z'));
    expect(iso(p.startMs)).toBe('2026-11-22T23:00:00.000Z');
    expect(p.endMs! - p.startMs).toBe(7 * 24 * HOUR);
  });
});

describe('monthly periods', () => {
  it('has month ids and local boundaries', () => {
    const p = periodOf('monthly', 'Europe/Berlin', at('2026-03-31T22:30:00Z'));
    expect(p.id).toBe('2026-04');
    expect(p.previousId).toBe('2026-03');
    expect(iso(p.startMs)).toBe('2026-03-31T22:00:00.000Z');
    expect(iso(p.endMs)).toBe('2026-04-30T22:00:00.000Z');
    expect(periodOf('monthly', 'UTC', at('2026-01-15T00:00:00Z')).previousId).toBe('2025-12');
    expect(periodOf('monthly', 'UTC', at('2026-12-31T23:59:59Z')).endMs).toBe(at('2027-01-01T00:00:00Z'));
  });
});

describe('prepaid, validation, TTLs and the cache', () => {
  it("uses 'all' with no end for period none", () => {
    expect(periodOf('none', 'UTC', Date.now())).toEqual({
      id: 'all',
      startMs: 0,
      endMs: null,
      previousId: null,
    });
  });

  it('validates IANA zones', () => {
    expect(isValidTimeZone('Asia/Tokyo')).toBe(true);
    expect(isValidTimeZone('UTC')).toBe(true);
    expect(isValidTimeZone('Mars/Olympus')).toBe(false);
    expect(isValidTimeZone('')).toBe(false);
  });

  it('keeps counters for twice the period plus a margin', () => {
    expect(ttlSecondsFor('none')).toBe(0);
    expect(ttlSecondsFor('daily')).toBeGreaterThan(2 * 86_400);
    expect(ttlSecondsFor('weekly')).toBeGreaterThan(14 * 86_400);
    expect(ttlSecondsFor('monthly')).toBeGreaterThan(62 * 86_400);
  });

  it('memoises without going stale across a boundary', () => {
    const zone = 'Asia/Kolkata';
    for (let t = at('2026-11-27T18:00:00Z'); t < at('2026-11-28T20:00:00Z'); t += 7 * 60_000) {
      expect(cachedPeriodOf('daily', zone, t)).toEqual(periodOf('daily', zone, t));
    }
  });
});
