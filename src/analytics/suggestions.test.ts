import { describe, expect, it } from 'vitest';
import { parseConfig } from '../config/load.js';
import type { RollupRow } from '../store/history.js';
import { zeroCounters } from './records.js';
import { candidatePairs, suggestSavings } from './suggestions.js';

const USD = 1_000_000_000;
const HOUR = Date.UTC(2030, 2, 15, 9);

const config = parseConfig(
  `
providers:
  openai: { kind: openai, base_url: "http://127.0.0.1:1/v1" }
  anthropic: { kind: anthropic, base_url: "http://127.0.0.1:1" }
models:
  gpt-4o: { provider: openai, input: 2.50, output: 10.00, cached_input: 1.25 }
  gpt-4o-mini: { provider: openai, input: 0.15, output: 0.60, cached_input: 0.075 }
  o3-mini: { provider: openai, input: 1.10, output: 4.40 }
  claude-sonnet-4-5: { provider: anthropic, input: 3.00, output: 15.00, cache_read: 0.30, cache_write: 3.75 }
  claude-haiku-4-5: { provider: anthropic, input: 1.00, output: 5.00, cache_read: 0.10, cache_write: 1.25 }
budgets:
  - id: data-monthly
    scope: { team: data }
    limit_usd: 100
    thresholds: [{ at: 0.8, downgrade: { claude-sonnet-4-5: claude-haiku-4-5 } }]
alternatives:
  gpt-4o: [o3-mini, gpt-4o-mini]
`,
  'test',
  {},
);

function row(fields: Partial<RollupRow> & Pick<RollupRow, 'model' | 'costNano'>): RollupRow {
  return {
    ...zeroCounters(),
    hourMs: HOUR,
    key: 'k',
    user: '',
    team: '',
    provider: fields.model.startsWith('claude') ? 'anthropic' : 'openai',
    short: true,
    ...fields,
  };
}

describe('savings suggestions', () => {
  it('candidate pairs come from the alternatives map and the downgrade maps', () => {
    const pairs = candidatePairs(config);
    expect([...(pairs.get('gpt-4o') ?? [])].sort()).toEqual(['gpt-4o-mini', 'o3-mini']);
    expect([...(pairs.get('claude-sonnet-4-5') ?? [])]).toEqual(['claude-haiku-4-5']);
    expect(pairs.has('gpt-4o-mini')).toBe(false);
  });

  it('a seeded history gives the expected pairs and amounts, biggest saving first', async () => {
    const rows: RollupRow[] = [
      // team web: 1,000 short gpt-4o requests, 1M input and 200k output tokens = $2.50 + $2.00.
      row({
        team: 'web',
        model: 'gpt-4o',
        requests: 600,
        inputTokens: 600_000,
        outputTokens: 120_000,
        costNano: 2.7 * USD,
      }),
      row({
        team: 'web',
        model: 'gpt-4o',
        requests: 400,
        inputTokens: 400_000,
        outputTokens: 80_000,
        costNano: 1.8 * USD,
        hourMs: HOUR + 3_600_000,
      }),
      // Long outputs are not what the suggestion is about: left out.
      row({
        team: 'web',
        model: 'gpt-4o',
        short: false,
        requests: 10,
        inputTokens: 10_000,
        outputTokens: 50_000,
        costNano: 0.525 * USD,
      }),
      // team data: sonnet, 2M input, 1M cache reads, 100k output = $6 + $0.30 + $1.50.
      row({
        team: 'data',
        model: 'claude-sonnet-4-5',
        requests: 500,
        inputTokens: 2_000_000,
        cachedInputTokens: 1_000_000,
        outputTokens: 100_000,
        costNano: 7.8 * USD,
      }),
      // A key without a team is named by its key; gpt-4o-mini has no cheaper candidate.
      row({
        key: 'batch',
        model: 'gpt-4o',
        requests: 2,
        inputTokens: 2000,
        outputTokens: 100,
        costNano: 0.006 * USD,
      }),
      row({
        team: 'web',
        model: 'gpt-4o-mini',
        requests: 50,
        inputTokens: 50_000,
        outputTokens: 5000,
        costNano: 0.0105 * USD,
      }),
    ];
    const suggestions = await suggestSavings(rows, config.models, candidatePairs(config), 0.001 * USD);
    expect(
      suggestions.map((s) => [s.scope, s.model, s.alternative, s.requests, s.actualNano, s.alternativeNano]),
    ).toEqual([
      // haiku: 2M x $1 + 1M x $0.10 + 100k x $5 = $2.60
      [{ team: 'data' }, 'claude-sonnet-4-5', 'claude-haiku-4-5', 500, 7.8 * USD, 2.6 * USD],
      // mini beats o3-mini: 1M x $0.15 + 200k x $0.60 = $0.27
      [{ team: 'web' }, 'gpt-4o', 'gpt-4o-mini', 1000, 4.5 * USD, 0.27 * USD],
      // 2000 x $0.15/M + 100 x $0.60/M = $0.00036
      [{ key: 'batch' }, 'gpt-4o', 'gpt-4o-mini', 2, 0.006 * USD, 360_000],
    ]);
    expect(suggestions[0]!.savingsNano).toBe(5.2 * USD);
    expect(suggestions[1]!.message).toBe(
      'team web spent $4.50 on gpt-4o for 1,000 requests with under 300 output tokens; gpt-4o-mini would have cost $0.27 (saving $4.23)',
    );
    expect(suggestions[2]!.message).toContain('key batch spent $0.006000 on gpt-4o for 2 requests');
  });

  it('savings below the minimum are left out; no history, no suggestions', async () => {
    const rows = [
      row({
        team: 'web',
        model: 'gpt-4o',
        requests: 1,
        inputTokens: 1000,
        outputTokens: 10,
        costNano: 2_600_000,
      }),
    ];
    expect(await suggestSavings(rows, config.models, candidatePairs(config), 0.01 * USD)).toEqual([]);
    expect(await suggestSavings([], config.models, candidatePairs(config), 0)).toEqual([]);
  });
});
