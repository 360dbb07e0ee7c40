/**
 * Config and expectations shared by the end-to-end tests: a gateway config pointed at the mock
 * provider, the line specs to read a budget straight from the store, and the cost of what the mock
 * served, computed from the mock's own records (not from anything the gateway reported).
 */
import { chatPromptTokens } from '../../src/mock/prompt.js';
import type { ServedRecord } from '../../src/mock/server.js';
import { type Nano, pricePerMillionToPico } from '../../src/money.js';
import type { LineSpec } from '../../src/store/types.js';
import { costOfUsage, type ModelPrice } from '../../src/usage.js';
import { ANTHROPIC_UPSTREAM_KEY, OPENAI_UPSTREAM_KEY } from '../helpers/stack.js';

export { ANTHROPIC_UPSTREAM_KEY, OPENAI_UPSTREAM_KEY };

/** Virtual keys of the configs below (three, so per-key template lines get several instances). */
export const KEYS = ['sk-gw-e2e-key-one-0001', 'sk-gw-e2e-key-two-0002', 'sk-gw-e2e-key-three-0003'];

/** USD per million tokens, written out again here so a pricing bug in the gateway cannot hide. */
const PRICES: Record<string, { input: number; output: number; cached: number }> = {
  'gpt-4o': { input: 2.5, output: 10, cached: 1.25 },
  'gpt-4o-mini': { input: 0.15, output: 0.6, cached: 0.075 },
};

export function priceOf(model: string): ModelPrice {
  const p = PRICES[model];
  if (!p) throw new Error(`no test price for model ${JSON.stringify(model)}`);
  return {
    input: pricePerMillionToPico(p.input),
    output: pricePerMillionToPico(p.output),
    cachedInput: pricePerMillionToPico(p.cached),
    cacheWrite: pricePerMillionToPico(p.input),
  };
}

export interface ConfigOptions {
  mockUrl: string;
  /** The `store:` mapping's body, e.g. `type: redis, url: "redis://…", prefix: "t1"`. */
  store: string;
  /** Budgets (YAML list items, each starting with "- "). */
  budgets: string[];
  /** Extra `server:` fields, e.g. `request_timeout_ms: 3000`. */
  server?: string;
  /** Both models' max_output_tokens (default 16384): what a request without max_tokens reserves. */
  maxOutputTokens?: number;
  /** A whole `budgeting:` mapping body, e.g. `lease_margin_ms: 1000`. */
  budgeting?: string;
}

export function gatewayConfig(options: ConfigOptions): string {
  const server = ['host: 127.0.0.1', 'port: 0', 'log_level: warn', options.server].filter(Boolean).join(', ');
  return `
server: { ${server} }
store: { ${options.store} }
providers:
  openai: { kind: openai, base_url: "${options.mockUrl}/v1", api_key: "${OPENAI_UPSTREAM_KEY}" }
models:
  gpt-4o: { provider: openai, input: 2.50, output: 10.00, cached_input: 1.25, max_output_tokens: ${options.maxOutputTokens ?? 16384} }
  gpt-4o-mini: { provider: openai, input: 0.15, output: 0.60, cached_input: 0.075, max_output_tokens: ${options.maxOutputTokens ?? 16384} }
keys:
${KEYS.map((key, i) => `  - { id: key-${i + 1}, key: "${key}", team: team-${(i % 2) + 1} }`).join('\n')}
budgets:${options.budgets.length === 0 ? ' []' : ''}
${options.budgets.map((b) => `  ${b}`).join('\n')}
${options.budgeting ? `budgeting: { ${options.budgeting} }` : ''}
`;
}

/** The store line of a config budget (not a "*" template) in a period, for reading balances. */
export function lineOf(budgetId: string, limitUsd: number, period = 'all'): LineSpec {
  return {
    instance: budgetId,
    budgetId,
    period,
    previousPeriod: null,
    limitNano: Math.round(limitUsd * 1e9),
    rolloverMaxNano: 0,
    downgradeAtNano: -1,
    ttlSeconds: 0,
  };
}

/** The line of one instance of a `{ key: "*" }` template budget. */
export function keyLineOf(budgetId: string, keyId: string, limitUsd: number, period = 'all'): LineSpec {
  return { ...lineOf(budgetId, limitUsd, period), instance: `${budgetId}|key=${keyId}` };
}

/** Chat completions the mock answered with 200 (every one of them reached a provider: money). */
export function servedChats(served: readonly ServedRecord[]): ServedRecord[] {
  return served.filter((r) => r.path === '/v1/chat/completions' && r.status === 200);
}

/**
 * What the provider would bill for one answered request: its reported usage, or, when the answer
 * broke off before the usage (none in these tests unless a test says so), an error.
 */
export function servedCost(record: ServedRecord): Nano {
  // A stream the gateway cut (at the budget, issue #17): the provider bills the prompt and what it
  // generated before it saw the client leave (the mock counts that as outputTokensSent).
  if (!record.usage) {
    if (record.completed) throw new Error(`the mock served ${record.id} completely without reporting usage`);
    return costOfUsage(
      {
        inputTokens: chatPromptTokens(record.body as Record<string, unknown>),
        cachedInputTokens: 0,
        cacheWriteTokens: 0,
        outputTokens: record.outputTokensSent,
        reasoningTokens: 0,
      },
      priceOf(record.model),
    );
  }
  const u = record.usage;
  return costOfUsage(
    {
      inputTokens: u.input_tokens,
      cachedInputTokens: u.cached_tokens,
      cacheWriteTokens: u.cache_write_tokens,
      outputTokens: u.output_tokens,
      reasoningTokens: u.reasoning_tokens,
    },
    priceOf(record.model),
  );
}

export function totalServedCost(served: readonly ServedRecord[]): Nano {
  return servedChats(served).reduce((sum, r) => sum + servedCost(r), 0);
}

/** A counter's value in Prometheus text (the sum over its label sets); 0 when absent. */
export function metricValue(text: string, name: string): number {
  let total = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (match && match[1] === name) total += Number(match[3]);
  }
  return total;
}
