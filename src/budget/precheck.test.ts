/**
 * The pre-check of large prompts (issue 13): a request priced at a lower bound of its prompt is
 * refused before its tokens are counted when even that cannot fit, and never refused when the
 * exact count would be admitted.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { RuntimeConfig, RuntimeLimit } from '../config/runtime.js';
import { closeAll, denied, granted, setup, usage } from './engine.test-helpers.js';
import { budget, config, request } from './fixtures.test-helpers.js';
import type { AdmissionRequest } from './types.js';

afterEach(closeAll);

/** A request whose exact count is `exact` and whose bounds are given; `counted` says whether it was counted. */
function bounded(cfg: RuntimeConfig, exact: number, lower: number, upper = exact * 4) {
  const seen = { counted: 0 };
  const req: AdmissionRequest = {
    ...request(cfg),
    promptTokensFor: () => {
      seen.counted++;
      return exact;
    },
    promptBoundsFor: () => ({ lower, upper }),
  };
  return { req, seen };
}

function withLimits(cfg: RuntimeConfig, list: Array<Partial<RuntimeLimit>>): RuntimeConfig {
  const full = list.map((l, i) => ({
    id: `limit-${i}`,
    scope: 'global' as const,
    requestsPerMinute: 0,
    tokensPerMinute: 0,
    concurrentRequests: 0,
    concurrentStreams: 0,
    ...l,
  }));
  return { ...cfg, limits: { ...cfg.limits, list: full } };
}

describe('pre-check of large prompts', () => {
  it('refuses an exhausted budget without counting the prompt', async () => {
    const cfg = config({ budgets: [budget({ id: 'trial', limitUsd: 0.01 })] });
    const { engine } = setup(cfg);
    // 32,768 tokens (a 4 MB prompt / 128 bytes) at $2.50/M = $0.08 > $0.01.
    const { req, seen } = bounded(cfg, 1_000_000, 32_768);
    const refusal = denied(await engine.admit(req));
    expect(refusal.denial.kind).toBe('budget_exceeded');
    expect(seen.counted).toBe(0);
  });

  it('counts, and admits, a large prompt whose lower bound fits', async () => {
    const cfg = config({ budgets: [budget({ id: 'team', limitUsd: 10 })] });
    const { engine } = setup(cfg);
    const { req, seen } = bounded(cfg, 100_000, 800);
    const grant = granted(await engine.admit(req));
    expect(grant.promptTokens).toBe(100_000);
    expect(seen.counted).toBe(1);
  });

  it('leaves to the exact path a budget that is only busy (held by requests in flight)', async () => {
    const cfg = config({ budgets: [budget({ id: 'team', limitUsd: 0.2 })], maxWaitMs: 0 });
    const { engine } = setup(cfg);
    granted(await engine.admit(request(cfg))); // holds $0.166 of $0.20
    const { req, seen } = bounded(cfg, 10_000, 2_000);
    const refusal = denied(await engine.admit(req));
    expect(refusal.denial.kind).toBe('budget_busy');
    expect(seen.counted).toBe(1);
  });

  it('refuses past a tokens_per_minute limit, and a full one, without counting', async () => {
    const cfg = withLimits(config(), [{ tokensPerMinute: 30_000 }]);
    const { engine } = setup(cfg);
    const big = bounded(cfg, 1_000_000, 32_768);
    const tooLarge = denied(await engine.admit(big.req));
    expect(tooLarge.denial).toMatchObject({ kind: 'rate_limited', limitKind: 'tokens', tooLarge: true });
    expect(big.seen.counted).toBe(0);

    // 20,000 counted; 12,000 at the lower bound + 256 output no longer fit the 10,000 left.
    const first = granted(await engine.admit({ ...request(cfg, { promptTokens: 20_000 }), requestedCap: 0 }));
    await engine.settle(first.reservation, first.servedModel, usage(20_000, 0));
    const full = bounded(cfg, 48_000, 12_000);
    const refusal = denied(await engine.admit(full.req));
    expect(refusal.denial).toMatchObject({ kind: 'rate_limited', limitKind: 'tokens', tooLarge: false });
    expect(full.seen.counted).toBe(0);
  });

  it('refuses a caller out of requests before counting', async () => {
    const cfg = withLimits(config(), [{ requestsPerMinute: 1 }]);
    const { engine } = setup(cfg);
    granted(await engine.admit(request(cfg)));
    const { req, seen } = bounded(cfg, 100_000, 800);
    const refusal = denied(await engine.admit(req));
    expect(refusal.denial).toMatchObject({ kind: 'rate_limited', limitKind: 'requests' });
    expect(seen.counted).toBe(0);
  });

  it('never refuses what the exact count admits (budgets and tokens limits, a sweep)', async () => {
    let checked = 0;
    for (const limitUsd of [0.001, 0.003, 0.0051, 0.02, 0.2]) {
      for (const tpm of [0, 1_500, 3_000, 20_000]) {
        for (const exact of [200, 1_000, 2_000, 8_000]) {
          for (const lower of [0, Math.floor(exact / 4), exact]) {
            const base = config({ budgets: [budget({ id: 'b', limitUsd })] });
            const cfg = tpm > 0 ? withLimits(base, [{ tokensPerMinute: tpm }]) : base;
            const plain = setup(cfg).engine;
            const exactOnly = await plain.admit({
              ...request(cfg, { promptTokens: exact }),
              requestedCap: 500,
            });
            const checkedFirst = setup(cfg).engine;
            const { req } = bounded(cfg, exact, lower);
            const withBound = await checkedFirst.admit({ ...req, requestedCap: 500 });
            expect({ limitUsd, tpm, exact, lower, ok: withBound.ok }).toEqual({
              limitUsd,
              tpm,
              exact,
              lower,
              ok: exactOnly.ok,
            });
            checked++;
          }
        }
      }
    }
    expect(checked).toBe(240);
  });
});
