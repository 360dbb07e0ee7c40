/**
 * The merge of the config file with API-made records: what joins, and why a record that no longer
 * fits the file stays inactive (while the file's own records are always in force).
 */
import { describe, expect, it } from 'vitest';
import { sha256Hex } from '../config/compile.js';
import { parseConfig } from '../config/load.js';
import { budgetReferenceProblems, mergeConfig } from './merge.js';
import { type ApiBudgetRecord, type ApiKeyRecord, EMPTY_META, type ParsedMeta } from './records.js';

const FILE = parseConfig(
  `
providers:
  openai: { kind: openai, base_url: "http://127.0.0.1:9/v1", api_key: k }
models:
  gpt-4o: { provider: openai, input: 2.5, output: 10 }
  gpt-4o-mini: { provider: openai, input: 0.15, output: 0.6 }
keys:
  - { id: web-app, key: sk-file-web-app }
budgets:
  - { id: web-monthly, scope: { key: web-app }, limit_usd: 500 }
`,
  'test.yaml',
  {},
);

const AT = '2026-01-01T00:00:00.000Z';

function apiBudget(id: string, extra: Record<string, unknown> = {}): ApiBudgetRecord {
  return {
    budget: {
      id,
      scope: 'global',
      limit_usd: 10,
      period: 'monthly',
      timezone: 'UTC',
      thresholds: [],
      ...extra,
    },
    created_at: AT,
    updated_at: AT,
  };
}

function apiKey(id: string, secret: string): ApiKeyRecord {
  return { id, key_sha256: sha256Hex(secret), tags: [], created_at: AT };
}

function meta(parts: Partial<ParsedMeta>): ParsedMeta {
  return { ...EMPTY_META, version: 3, ...parts };
}

describe('mergeConfig', () => {
  it('runs on the file alone before the store was read', () => {
    const merged = mergeConfig(FILE, EMPTY_META);
    expect(merged.version).toBe(-1);
    expect(merged.config.budgets.map((b) => b.id)).toEqual(['web-monthly']);
    expect([...merged.config.keysByHash.values()].map((k) => k.id)).toEqual(['web-app']);
  });

  it('adds API budgets and keys after the file, compiled, with their source', () => {
    const merged = mergeConfig(
      FILE,
      meta({ budgets: [apiBudget('team-a')], keys: [apiKey('batch', 'sk-api-batch-0001')] }),
    );
    expect(merged.version).toBe(3);
    expect(merged.config.budgets.map((b) => [b.id, b.source, b.limitNano])).toEqual([
      ['web-monthly', 'config', 500_000_000_000],
      ['team-a', 'api', 10_000_000_000],
    ]);
    expect(merged.config.keysByHash.get(sha256Hex('sk-api-batch-0001'))).toMatchObject({
      id: 'batch',
      source: 'api',
    });
    expect(merged.inactiveBudgets.size + merged.inactiveKeys.size).toBe(0);
    // The file's own definitions (the admin echo) are not touched by the merge.
    expect(merged.config.fileDefinitions.budgets.map((b) => b.id)).toEqual(['web-monthly']);
  });

  it('keeps an API record inactive when the file defines its id, the same secret or a reserved id', () => {
    const merged = mergeConfig(
      FILE,
      meta({
        budgets: [apiBudget('web-monthly'), apiBudget('anonymous-trial')],
        keys: [
          apiKey('web-app', 'sk-other-secret-1'),
          apiKey('copy', 'sk-file-web-app'),
          apiKey('anonymous', 'sk-x-12345678'),
        ],
      }),
    );
    expect(merged.config.budgets.map((b) => b.source)).toEqual(['config']);
    expect(merged.inactiveBudgets.get('web-monthly')).toEqual([
      'id: the config file now defines a budget "web-monthly"; it takes precedence',
    ]);
    expect(merged.inactiveBudgets.has('anonymous-trial')).toBe(true);
    expect(merged.inactiveKeys.get('web-app')?.[0]).toContain('the config file now defines a key "web-app"');
    expect(merged.inactiveKeys.get('copy')).toEqual(['key: the config file now defines the same secret']);
    expect(merged.inactiveKeys.has('anonymous')).toBe(true);
    expect([...merged.config.keysByHash.values()].map((k) => k.id)).toEqual(['web-app']);
    // Stored all the same: the admin API lists them with their problems.
    expect([...merged.apiBudgets.keys()]).toEqual(['web-monthly', 'anonymous-trial']);
  });

  it('keeps an API budget inactive while it names a model the file does not define', () => {
    const budget = apiBudget('mini', {
      scope: { model: 'gpt-3.5' },
      thresholds: [{ at: 0.5, alert: true, downgrade: { 'gpt-4o': 'gpt-4o-mini' } }],
    });
    const merged = mergeConfig(FILE, meta({ budgets: [budget] }));
    expect(merged.inactiveBudgets.get('mini')).toEqual(['scope.model: unknown model gpt-3.5']);
    expect(budgetReferenceProblems(budget.budget, FILE)).toEqual(['scope.model: unknown model gpt-3.5']);
    expect(merged.config.budgets.map((b) => b.id)).toEqual(['web-monthly']);
  });
});
