import { expect } from 'vitest';
import {
  eventually,
  type Stack,
  type StackOptions,
  startStack,
  TEST_KEY,
} from '../../../test/helpers/stack.js';
import type { ReportedUsage, ServedRecord } from '../../mock/server.js';
import { formatUsd, type Nano, pricePerMillionToPico } from '../../money.js';
import type { RequestRecord } from '../../record.js';
import { costOfUsage, type ModelPrice, type Usage } from '../../usage.js';

/** USD per million tokens, as in test/helpers/stack.ts baseConfigYaml. */
const PRICES_PER_MILLION: Record<string, { input: number; output: number; cached: number; write: number }> = {
  'gpt-4o': { input: 2.5, output: 10, cached: 1.25, write: 2.5 },
  'gpt-4o-mini': { input: 0.15, output: 0.6, cached: 0.075, write: 0.15 },
  'o3-mini': { input: 1.1, output: 4.4, cached: 0.55, write: 1.1 },
  'claude-sonnet-4-5': { input: 3, output: 15, cached: 0.3, write: 3.75 },
  'claude-haiku-4-5': { input: 1, output: 5, cached: 0.1, write: 1.25 },
  'text-embedding-3-small': { input: 0.02, output: 0, cached: 0.02, write: 0.02 },
};

export function priceOf(model: string): ModelPrice {
  const p = PRICES_PER_MILLION[model];
  if (!p) throw new Error(`no test price for ${model}`);
  return {
    input: pricePerMillionToPico(p.input),
    output: pricePerMillionToPico(p.output),
    cachedInput: pricePerMillionToPico(p.cached),
    cacheWrite: pricePerMillionToPico(p.write),
  };
}

export function usageOf(reported: ReportedUsage): Usage {
  return {
    inputTokens: reported.input_tokens,
    cachedInputTokens: reported.cached_tokens,
    cacheWriteTokens: reported.cache_write_tokens,
    outputTokens: reported.output_tokens,
    reasoningTokens: reported.reasoning_tokens,
  };
}

/** The cost of what the mock reported for one served request, in nano-USD. */
export function mockCost(served: ServedRecord): Nano {
  if (!served.usage) throw new Error(`the mock reported no usage for ${served.path}`);
  return costOfUsage(usageOf(served.usage), priceOf(served.model));
}

export function mockCostHeader(served: ServedRecord): string {
  return formatUsd(mockCost(served));
}

/** The single request the mock served (fails when it served none or several). */
export function onlyServed(stack: Stack): ServedRecord {
  expect(stack.mock.served).toHaveLength(1);
  return stack.mock.served[0] as ServedRecord;
}

/** The ledger record of a request, once the gateway finished it (streams settle after the last byte). */
export async function recordOf(stack: Stack, requestId: string | null): Promise<RequestRecord> {
  expect(requestId).toMatch(/^req_/);
  let found: RequestRecord | undefined;
  await eventually(() => {
    found = stack.records.find((r) => r.requestId === requestId);
    expect(found).toBeDefined();
  });
  return found as RequestRecord;
}

/** Spent and reserved, summed over every budget the key sees (GET /v1/budget). */
export async function budgetTotals(
  stack: Stack,
  key = TEST_KEY,
): Promise<{ spent: number; reserved: number }> {
  const response = await fetch(`${stack.gateway.url}/v1/budget`, {
    headers: { authorization: `Bearer ${key}` },
  });
  expect(response.status).toBe(200);
  const body = (await response.json()) as { budgets: Array<{ spent_usd: number; reserved_usd: number }> };
  expect(body.budgets.length).toBeGreaterThan(0);
  let spent = 0;
  let reserved = 0;
  for (const b of body.budgets) {
    spent += b.spent_usd;
    reserved += b.reserved_usd;
  }
  return { spent, reserved };
}

/** A global budget so every request has a budget to move (or not). */
// Prepaid (period: none): a test reading spend before and after must see one line, also when
// test:calendar's last-minutes run crosses into a new month between the two reads.
export const GLOBAL_BUDGET_YAML = `budgets:
  - { id: all-spend, scope: global, limit_usd: 1000, period: none }
`;

/**
 * A stack whose config text is edited before the gateway starts (startStack can only append, and
 * extra providers or models must go inside the existing maps).
 */
export function startEditedStack(edit: (yaml: string) => string, options: StackOptions = {}): Promise<Stack> {
  return startStack({ ...options, editConfig: edit });
}

/** Inserts lines right after a top-level `section:` line of the config (providers, models). */
export function addToSection(yaml: string, section: string, lines: string): string {
  const marker = `\n${section}:\n`;
  const at = yaml.indexOf(marker);
  if (at < 0) throw new Error(`no ${section} section`);
  const end = at + marker.length;
  return yaml.slice(0, end) + lines.replace(/\n?$/, '\n') + yaml.slice(end);
}
