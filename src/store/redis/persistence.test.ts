/**
 * ClockSkew ([hardening] 14.3) with an injected local clock and a fake TIME: the offset the
 * gateway adds to its clock, and when it is left at 0.
 */
import { describe, expect, it } from 'vitest';
import { ClockSkew } from './persistence.js';

/** A local clock that reads `at` and moves by `rttMs` during each TIME call. */
function skewAgainst(storeMs: number, localMs: number, rttMs = 2) {
  let local = localMs;
  const measured: number[] = [];
  const skew = new ClockSkew(
    async () => {
      local += rttMs;
      return [String(Math.floor(storeMs / 1000)), String((storeMs % 1000) * 1000)];
    },
    (ms) => measured.push(ms),
    () => local,
  );
  return { skew, measured };
}

describe('ClockSkew', () => {
  it('follows the store when this machine is 90 s behind, to within half the round trip', async () => {
    const { skew, measured } = skewAgainst(1_800_000_090_000, 1_800_000_000_000);
    await skew.measure();
    expect(measured).toEqual([89_999]);
    expect(skew.offsetMs()).toBe(89_999);
  });

  it('follows the store when this machine is ahead', async () => {
    const { skew } = skewAgainst(1_800_000_000_000, 1_800_000_002_000);
    await skew.measure();
    expect(skew.offsetMs()).toBe(-2_001);
  });

  it('leaves the clock alone below 0.1 s, or below half a slow round trip', async () => {
    const small = skewAgainst(1_800_000_000_080, 1_800_000_000_000);
    await small.skew.measure();
    expect(small.skew.offsetMs()).toBe(0);
    expect(small.measured).toEqual([79]);
    // 300 ms measured over a 1 s round trip could be anything within +-500 ms.
    const slow = skewAgainst(1_800_000_000_800, 1_800_000_000_000, 1000);
    await slow.skew.measure();
    expect(slow.skew.offsetMs()).toBe(0);
  });

  it('does not follow a store days off (a clock set wrong, not drift), and still reports it', async () => {
    const followed: boolean[] = [];
    let local = 1_800_000_000_000;
    const storeMs = local - 30 * 86_400_000;
    const skew = new ClockSkew(
      async () => {
        local += 2;
        return [String(Math.floor(storeMs / 1000)), String((storeMs % 1000) * 1000)];
      },
      (_ms, follows) => followed.push(follows),
      () => local,
    );
    const measured = await skew.measure();
    expect(measured).toBeLessThan(-29 * 86_400_000);
    expect(skew.offsetMs()).toBe(0);
    expect(followed).toEqual([false]);
  });
});
