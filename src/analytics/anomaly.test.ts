import { describe, expect, it } from 'vitest';
import { detectAnomaly, median, medianAbsoluteDeviation } from './anomaly.js';

const USD = 1_000_000_000;

describe('anomaly score', () => {
  const settings = { minVolumeNano: 1 * USD, threshold: 6 };

  it('median and MAD', () => {
    expect(median([])).toBe(0);
    expect(median([5, 1, 3])).toBe(3);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(medianAbsoluteDeviation([1, 1, 2, 2, 4, 6, 9])).toBe(1);
  });

  it('a steady spender at its usual pace is not anomalous', () => {
    const v = detectAnomaly({ lastHourNano: 2 * USD, baseline: Array(168).fill(2 * USD), ...settings });
    expect(v).toMatchObject({ anomalous: false, reason: 'within_baseline', score: 0, medianNano: 2 * USD });
  });

  it('a spike against a flat baseline is scored on 10% of the median', () => {
    const v = detectAnomaly({ lastHourNano: 40 * USD, baseline: Array(168).fill(2 * USD), ...settings });
    expect(v.anomalous).toBe(true);
    expect(v.score).toBeCloseTo((40 - 2) / 0.2, 6);
  });

  it('a noisy baseline is scored on 1.4826 * MAD', () => {
    const baseline = Array.from({ length: 48 }, (_, i) => (i % 2 === 0 ? 1 : 3) * USD);
    const high = detectAnomaly({ lastHourNano: 12 * USD, baseline, ...settings });
    expect(high.madNano).toBe(USD);
    expect(high.score).toBeCloseTo(10 / 1.4826, 6);
    expect(high.anomalous).toBe(true);
    const usual = detectAnomaly({ lastHourNano: 10 * USD, baseline, ...settings });
    expect(usual.score).toBeCloseTo(8 / 1.4826, 6);
    expect(usual.anomalous).toBe(false);
  });

  it('one odd hour in the baseline does not hide the next spike', () => {
    const baseline = [...Array(100).fill(2 * USD), 500 * USD, ...Array(67).fill(2 * USD)];
    expect(detectAnomaly({ lastHourNano: 40 * USD, baseline, ...settings }).anomalous).toBe(true);
  });

  it('a quiet key never pages: below the minimum volume nothing is anomalous', () => {
    const zeros = Array(168).fill(0);
    const quiet = detectAnomaly({ lastHourNano: 0.9 * USD, baseline: zeros, ...settings });
    expect(quiet).toMatchObject({ anomalous: false, reason: 'low_volume' });
    // A cent an hour going to 20 cents is a twenty-fold jump, and still no page.
    const cents = detectAnomaly({
      lastHourNano: 0.2 * USD,
      baseline: Array(168).fill(0.01 * USD),
      ...settings,
    });
    expect(cents.anomalous).toBe(false);
    // From nothing, one minimum volume reaches the threshold exactly.
    const volume = detectAnomaly({ lastHourNano: 1 * USD, baseline: zeros, ...settings });
    expect(volume.score).toBeCloseTo(6, 9);
    expect(volume.anomalous).toBe(true);
  });

  it('an empty or short history is never anomalous', () => {
    expect(detectAnomaly({ lastHourNano: 1000 * USD, baseline: [], ...settings })).toMatchObject({
      anomalous: false,
      reason: 'short_history',
    });
    expect(detectAnomaly({ lastHourNano: 1000 * USD, baseline: Array(5).fill(0), ...settings }).reason).toBe(
      'short_history',
    );
  });
});
