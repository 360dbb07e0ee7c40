/**
 * The sections compiled beyond budgets and keys: alerts, history, alternatives, and the file's
 * own definitions kept for the admin API's echo (without secrets).
 */
import { describe, expect, it } from 'vitest';
import { parseConfig } from './load.js';

const BASE = `
providers:
  openai: { kind: openai, base_url: "http://127.0.0.1:9/v1", api_key: k }
models:
  gpt-4o: { provider: openai, input: 2.5, output: 10 }
  gpt-4o-mini: { provider: openai, input: 0.15, output: 0.6 }
`;

describe('compileConfig', () => {
  it('compiles alerts: webhooks in file order, an empty secret as none, delivery in camelCase', () => {
    const config = parseConfig(
      `${BASE}alerts:
  history: 50
  webhooks:
    - { url: "http://127.0.0.1:9/a", secret: "" }
    - { url: "http://127.0.0.1:9/b", secret: s3cret, events: [threshold, anomaly] }
  delivery: { timeout_ms: 300, max_attempts: 2 }
`,
      't',
      {},
    );
    expect(config.alerts.historySize).toBe(50);
    expect(config.alerts.webhooks.map((w) => [w.url, w.secret, w.events && [...w.events]])).toEqual([
      ['http://127.0.0.1:9/a', undefined, undefined],
      ['http://127.0.0.1:9/b', 's3cret', ['threshold', 'anomaly']],
    ]);
    expect(config.alerts.delivery).toEqual({
      timeoutMs: 300,
      maxAttempts: 2,
      backoffMs: 1000,
      maxBackoffMs: 300_000,
      queueSize: 1000,
    });
  });

  it('compiles history: retention in ms, the anomaly floor in nano-USD', () => {
    const config = parseConfig(
      `${BASE}history: { rollup_retention_days: 2, ledger_retention_days: 1, anomaly_min_usd: 0.25, anomaly_score: 4 }\n`,
      't',
      {},
    );
    expect(config.history).toEqual({
      rollupRetentionMs: 2 * 86_400_000,
      ledgerRetentionMs: 86_400_000,
      flushIntervalMs: 1000,
      flushMaxRecords: 500,
      anomalyMinNano: 250_000_000,
      anomalyScore: 4,
      store: { type: 'same', url: undefined, path: undefined },
      bufferMaxEntries: 100_000,
    });
  });

  it('compiles alternatives to a map', () => {
    const config = parseConfig(`${BASE}alternatives: { gpt-4o: [gpt-4o-mini] }\n`, 't', {});
    expect([...config.alternatives]).toEqual([['gpt-4o', ['gpt-4o-mini']]]);
  });

  it("keeps the file's budget and key definitions for the admin echo, never a key's secret or hash", () => {
    const config = parseConfig(
      `${BASE}keys:
  - { id: web, key: sk-secret-web-1, team: web, max_choices: 2 }
  - { id: ops, key_sha256: "${'b'.repeat(64)}", tags: [ops] }
budgets:
  - { id: web-monthly, scope: { team: web }, limit_usd: 5 }
`,
      't',
      {},
    );
    expect(config.fileDefinitions.keys).toEqual([
      { id: 'web', team: 'web', tags: [], max_choices: 2 },
      { id: 'ops', tags: ['ops'] },
    ]);
    expect([...config.keysByHash.values()].map((k) => [k.id, k.maxChoices])).toEqual([
      ['web', 2],
      ['ops', undefined],
    ]);
    expect(() =>
      parseConfig(`${BASE}keys:\n  - { id: web, key: sk-secret-web-1, max_choices: 0 }\n`, 't', {}),
    ).toThrow(/max_choices/);
    expect(config.fileDefinitions.budgets).toEqual([
      {
        id: 'web-monthly',
        scope: { team: 'web' },
        limit_usd: 5,
        period: 'monthly',
        timezone: 'UTC',
        thresholds: [],
      },
    ]);
  });

  it('leases: a short lease renewed often by default, renewals bounded by the request timeout + margin', () => {
    expect(parseConfig(BASE, 't', {}).budgeting).toMatchObject({
      leaseMs: 15_000,
      renewEveryMs: 5000,
      maxHoldMs: 660_000,
    });
    const custom = parseConfig(
      `${BASE}server: { request_timeout_ms: 1000 }\nbudgeting: { lease_ms: 3000, lease_renew_ms: 1000, lease_margin_ms: 500 }\nstore: { timeout_ms: 1000 }\n`,
      't',
      {},
    );
    expect(custom.budgeting).toMatchObject({ leaseMs: 3000, renewEveryMs: 1000, maxHoldMs: 1500 });
  });

  it('refuses a lease that one failed renewal could let run out under a live request', () => {
    expect(() =>
      parseConfig(`${BASE}budgeting: { lease_ms: 10000, lease_renew_ms: 5000 }\n`, 't', {}),
    ).toThrow(
      /budgeting\.lease_ms: 10000 is too short .* at least 2 x lease_renew_ms \+ store\.timeout_ms \(10500\)/,
    );
  });

  it('marks the models that bill reasoning they do not stream, by what the provider runs', () => {
    const config = parseConfig(
      `${BASE.replace(
        'models:\n',
        `models:
  o3: { provider: openai, input: 2, output: 8 }
  gemini-2.5-flash: { provider: openai, input: 0.3, output: 2.5 }
  gemini-2.5-flash-lite: { provider: openai, input: 0.1, output: 0.4 }
  reasoner: { provider: openai, upstream_model: gpt-5, input: 1.25, output: 10 }
  plain: { provider: openai, upstream_model: gemini-2.5-flash, input: 0.3, output: 2.5, hidden_reasoning: false }
`,
      )}`,
      't',
      {},
    );
    const hidden = (name: string) => config.models.get(name)?.hiddenReasoning;
    expect(['o3', 'gemini-2.5-flash', 'reasoner'].map(hidden)).toEqual([true, true, true]);
    expect(['gemini-2.5-flash-lite', 'gpt-4o', 'plain'].map(hidden)).toEqual([false, false, false]);
  });
});
