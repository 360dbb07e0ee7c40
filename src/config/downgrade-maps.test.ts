/**
 * Downgrade maps are checked when the config loads: a map naming an unknown model, or maps that
 * chain into a cycle (within one threshold, across a budget's thresholds, or across budgets, since
 * chaining follows every applicable map), stop start-up with the problem named by path.
 */
import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from './load.js';

const BASE = `
providers:
  openai: { kind: openai, base_url: "http://127.0.0.1:9/v1", api_key: k }
  anthropic: { kind: anthropic, base_url: "http://127.0.0.1:9", api_key: k }
models:
  gpt-4o: { provider: openai, input: 2.5, output: 10 }
  gpt-4o-mini: { provider: openai, input: 0.15, output: 0.6 }
  o3-mini: { provider: openai, input: 1.1, output: 4.4 }
  claude-haiku-4-5: { provider: anthropic, input: 1, output: 5 }
`;

function problemsOf(budgetsYaml: string): string[] {
  try {
    parseConfig(`${BASE}budgets:\n${budgetsYaml}`, 'test.yaml', {});
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
}

describe('downgrade maps at load time', () => {
  it('accepts a chain that ends', () => {
    expect(
      problemsOf(`  - id: a
    scope: global
    limit_usd: 1
    thresholds:
      - { at: 0.5, downgrade: { o3-mini: gpt-4o } }
      - { at: 0.8, downgrade: { gpt-4o: gpt-4o-mini } }
  - { id: b, scope: { team: x }, limit_usd: 1, thresholds: [{ at: 0.9, downgrade: { o3-mini: gpt-4o-mini } }] }
`),
    ).toEqual([]);
  });

  it('names unknown models on either side, and a target behind another API', () => {
    const problems = problemsOf(`  - id: a
    scope: global
    limit_usd: 1
    thresholds:
      - { at: 0.8, downgrade: { gpt-4o: gpt-5-nano, gpt-9: gpt-4o-mini, o3-mini: claude-haiku-4-5 } }
`);
    expect(problems).toEqual(
      expect.arrayContaining([
        'budgets[0].thresholds[0].downgrade.gpt-4o: unknown model gpt-5-nano',
        'budgets[0].thresholds[0].downgrade.gpt-9: unknown model gpt-9',
        expect.stringMatching(
          /^budgets\[0\]\.thresholds\[0\]\.downgrade\.o3-mini: claude-haiku-4-5 is served by another provider/,
        ),
      ]),
    );
  });

  it('rejects a model mapped to itself', () => {
    const problems = problemsOf(
      `  - { id: a, scope: global, limit_usd: 1, thresholds: [{ at: 0.8, downgrade: { gpt-4o: gpt-4o } }] }\n`,
    );
    expect(problems).toEqual([
      expect.stringMatching(/^budgets\[0\]\.thresholds\[0\]\.downgrade\.gpt-4o: .*cycle/),
    ]);
  });

  it('rejects a cycle across the thresholds of one budget', () => {
    const problems = problemsOf(`  - id: a
    scope: global
    limit_usd: 1
    thresholds:
      - { at: 0.5, downgrade: { gpt-4o: gpt-4o-mini } }
      - { at: 0.9, downgrade: { gpt-4o-mini: o3-mini, o3-mini: gpt-4o } }
`);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^budgets\[0\]\.thresholds\[0\]\.downgrade\.gpt-4o: downgrade cycle/);
    expect(problems[0]).toContain('gpt-4o -> gpt-4o-mini -> o3-mini -> gpt-4o');
    expect(problems[0]).toContain('budgets[0].thresholds[1]');
  });

  it('rejects a cycle across budgets (chaining follows every budget the request falls under)', () => {
    const problems =
      problemsOf(`  - { id: a, scope: global, limit_usd: 1, thresholds: [{ at: 0.8, downgrade: { gpt-4o: gpt-4o-mini } }] }
  - { id: b, scope: { team: web }, limit_usd: 1, thresholds: [{ at: 0.5, downgrade: { gpt-4o-mini: gpt-4o } }] }
`);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(
      /^budgets\[0\]\.thresholds\[0\]\.downgrade\.gpt-4o: downgrade cycle gpt-4o -> gpt-4o-mini -> gpt-4o/,
    );
    expect(problems[0]).toContain('budgets[1].thresholds[0]');
  });

  it('reports a cycle inside one map once', () => {
    const problems = problemsOf(
      `  - { id: a, scope: global, limit_usd: 1, thresholds: [{ at: 0.8, downgrade: { gpt-4o: gpt-4o-mini, gpt-4o-mini: gpt-4o } }] }\n`,
    );
    expect(problems.filter((p) => p.includes('cycle')).length).toBeGreaterThanOrEqual(1);
    expect(problems.every((p) => p.startsWith('budgets[0].thresholds[0].downgrade.'))).toBe(true);
  });
});
