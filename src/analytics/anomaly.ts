/**
 * Is the last hour's spend unusual for this budget or key? A robust z-score against the trailing
 * hourly baseline: the median and the median absolute deviation (MAD) ignore the odd spike in the
 * baseline itself, unlike a mean and standard deviation.
 *
 *   scale = max(1.4826 * MAD, 0.1 * median, minVolume / threshold)
 *   score = (lastHour - median) / scale
 *   anomalous when lastHour >= minVolume and score >= threshold and the baseline has enough hours
 *
 * 1.4826 * MAD estimates the standard deviation of normal data. The floors keep a flat baseline
 * (MAD = 0) from making every cent a spike: 10% of the median for steady spenders, and for a
 * baseline of zeros one minimum volume reaches the threshold exactly. The minimum volume is what
 * keeps quiet keys from ever paging: a jump from $0.01 to $0.20 is a big score and no news.
 */

export interface AnomalyInput {
  /** Spend in the last hour, nano-USD. */
  lastHourNano: number;
  /** Hourly spend before it, nano-USD (zeros included: hours without spend are part of the pattern). */
  baseline: readonly number[];
  minVolumeNano: number;
  /** Score at or past which the hour is anomalous. */
  threshold: number;
  /** A shorter baseline says too little: never anomalous. Default 6. */
  minBaselineHours?: number;
}

export interface AnomalyVerdict {
  anomalous: boolean;
  score: number;
  medianNano: number;
  madNano: number;
  /** Why it is not anomalous, when it is not. */
  reason: 'anomalous' | 'short_history' | 'low_volume' | 'within_baseline';
}

const MAD_TO_SIGMA = 1.4826;
const MEDIAN_FLOOR = 0.1;
export const DEFAULT_MIN_BASELINE_HOURS = 6;

export function median(values: readonly number[]): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export function medianAbsoluteDeviation(values: readonly number[], center = median(values)): number {
  return median(values.map((v) => Math.abs(v - center)));
}

export function detectAnomaly(input: AnomalyInput): AnomalyVerdict {
  const medianNano = median(input.baseline);
  const madNano = medianAbsoluteDeviation(input.baseline, medianNano);
  const scale = Math.max(
    MAD_TO_SIGMA * madNano,
    MEDIAN_FLOOR * medianNano,
    input.minVolumeNano / input.threshold,
    1, // one nano-USD: a zero minimum volume must not divide by zero
  );
  const score = (input.lastHourNano - medianNano) / scale;
  const verdict = { score, medianNano, madNano };
  if (input.baseline.length < (input.minBaselineHours ?? DEFAULT_MIN_BASELINE_HOURS)) {
    return { ...verdict, anomalous: false, reason: 'short_history' };
  }
  if (input.lastHourNano < input.minVolumeNano) return { ...verdict, anomalous: false, reason: 'low_volume' };
  if (score < input.threshold) return { ...verdict, anomalous: false, reason: 'within_baseline' };
  return { ...verdict, anomalous: true, reason: 'anomalous' };
}
