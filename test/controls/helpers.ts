/**
 * Shared pieces of the controls tests: exact USD parsing of the gateway's headers, budget reads
 * through the self-service endpoint, admin calls, and the stack's prices written out again (not read
 * back from the gateway, so a pricing bug cannot hide itself).
 */
import type OpenAI from 'openai';
import { expect } from 'vitest';
import { ADMIN_TOKEN, type Stack, TEST_KEY } from '../helpers/stack.js';

/** A nine-decimal USD string (the gateway's header format) as exact nano-USD. */
export function nanoOf(usd: string | null | undefined): number {
  expect(usd).toMatch(/^\d+\.\d{9}$/);
  const [whole, frac] = (usd as string).split('.');
  return Number(whole) * 1_000_000_000 + Number(frac);
}

/** A JSON USD number as nano-USD (JSON numbers of nano amounts round-trip exactly to 9 decimals). */
export function nanoOfNumber(usd: number): number {
  return Math.round(usd * 1_000_000_000);
}

/** Pico-USD per token, as in test/helpers/stack.ts baseConfigYaml. */
export const PICO = {
  'gpt-4o': { input: 2_500_000, output: 10_000_000 },
  'gpt-4o-mini': { input: 150_000, output: 600_000 },
  'o3-mini': { input: 1_100_000, output: 4_400_000 },
  'claude-sonnet-4-5': { input: 3_000_000, output: 15_000_000 },
  'claude-haiku-4-5': { input: 1_000_000, output: 5_000_000 },
} as const;

export type PricedModel = keyof typeof PICO;

export interface BudgetJson {
  id: string;
  instance?: string;
  limit_usd: number;
  spent_usd: number;
  reserved_usd: number;
  remaining_usd: number;
  resets_at: string | null;
  forecast: { projected_usd: number | null; exhausted_at: string | null };
}

export async function budgets(
  stack: Pick<Stack, 'gateway'>,
  headers: Record<string, string>,
): Promise<BudgetJson[]> {
  const response = await fetch(`${stack.gateway.url}/v1/budget`, { headers });
  expect(response.status).toBe(200);
  return ((await response.json()) as { budgets: BudgetJson[] }).budgets;
}

export async function budgetById(
  stack: Pick<Stack, 'gateway'>,
  id: string,
  key = TEST_KEY,
): Promise<BudgetJson> {
  const found = (await budgets(stack, { authorization: `Bearer ${key}` })).find((b) => b.id === id);
  expect(found, `budget ${id}`).toBeDefined();
  return found as BudgetJson;
}

/** (spent + reserved) / limit of a budget, from /v1/budget. */
export async function usedRatio(stack: Pick<Stack, 'gateway'>, id: string, key = TEST_KEY): Promise<number> {
  const b = await budgetById(stack, id, key);
  return (nanoOfNumber(b.spent_usd) + nanoOfNumber(b.reserved_usd)) / nanoOfNumber(b.limit_usd);
}

export async function admin(stack: Pick<Stack, 'gateway'>, path: string): Promise<Response> {
  return fetch(`${stack.gateway.url}${path}`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
}

/** One chat completion through the official SDK; the response headers and the body. */
export async function chat(
  client: OpenAI,
  model: string,
  options: { maxTokens?: number; outputTokens?: number; user?: string; content?: string } = {},
) {
  const headers: Record<string, string> = {};
  if (options.outputTokens !== undefined) headers['x-mock-output-tokens'] = String(options.outputTokens);
  if (options.user !== undefined) headers['x-gateway-user'] = options.user;
  const { data, response } = await client.chat.completions
    .create(
      {
        model,
        messages: [{ role: 'user', content: options.content ?? 'Summarise the quarterly report.' }],
        ...(options.maxTokens === undefined ? {} : { max_tokens: options.maxTokens }),
      },
      { headers },
    )
    .withResponse();
  return { data, headers: response.headers };
}
