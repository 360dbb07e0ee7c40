/**
 * The budget race both multi-process tests run (issue 3, "Done when"): 500 overlapping mixed
 * requests spread over the gateways, then one request at a time until the budget refuses. Checked
 * against the mock's own records: what the provider served stays within the limit, every request
 * was served or refused with budget_exceeded, the store's settled spend equals the served cost to
 * the nano-USD, nothing stays reserved, and the last refusal came with less left than it needed.
 */
import { expect } from 'vitest';
import type { MockProvider } from '../../src/mock/server.js';
import type { BudgetStore } from '../../src/store/types.js';
import { eventually } from '../helpers/stack.js';
import { KEYS, keyLineOf, lineOf, priceOf, servedChats, totalServedCost } from './fixtures.js';
import { FILL_REQUEST, fillUntilRejected, sendMixedTraffic, tally } from './traffic.js';

/** The budgets the race runs under (period none: no midnight can split the books mid-test). */
export const RACE_LIMIT_USD = 0.05;
export const RACE_PER_KEY_USD = 1;
export const RACE_BUDGETS = [
  `- { id: shared, scope: global, limit_usd: ${RACE_LIMIT_USD}, period: none }`,
  `- { id: per-key, scope: { key: "*" }, limit_usd: ${RACE_PER_KEY_USD}, period: none }`,
];
/** What a request without max_tokens reserves (per model): the config's max_output_tokens. */
export const RACE_MAX_OUTPUT_TOKENS = 2048;

const LIMIT_NANO = RACE_LIMIT_USD * 1e9;

export async function raceToTheLimit(options: {
  label: string;
  gatewayUrls: string[];
  mock: MockProvider;
  /** Reads the shared store (its own connection, same database). */
  store: BudgetStore;
  seed: number;
}): Promise<void> {
  const { mock, store, label } = options;
  const outcomes = await sendMixedTraffic({
    gatewayUrls: options.gatewayUrls,
    keys: KEYS,
    count: 500,
    seed: options.seed,
    spreadMs: 2500,
  });
  const counts = tally(outcomes);
  expect(counts.other, `unexpected outcomes: ${JSON.stringify(counts.other)}`).toEqual({});
  expect(counts.served + counts.rejected).toBe(500);
  // Both sides of the edge were exercised.
  expect(counts.served).toBeGreaterThan(0);
  expect(counts.rejected).toBeGreaterThan(0);
  expect(servedChats(mock.served)).toHaveLength(counts.served);

  const raceNano = totalServedCost(mock.served);
  expect(raceNano).toBeLessThanOrEqual(LIMIT_NANO);
  await expectBooks(store, raceNano);

  // Then fill what is left one request at a time: the budget is usable to its edge, not past it.
  const fill = await fillUntilRejected(options.gatewayUrls[0]!, KEYS[0]!);
  expect(fill.refusal.code).toBe('budget_exceeded');
  const totalNano = totalServedCost(mock.served);
  expect(totalNano).toBeLessThanOrEqual(LIMIT_NANO);
  await expectBooks(store, totalNano);
  const last = servedChats(mock.served).at(-1);
  const promptTokens = last?.usage?.input_tokens ?? 0;
  const price = priceOf(FILL_REQUEST.model);
  const leastNano = Math.ceil((promptTokens * price.input + FILL_REQUEST.minTokens * price.output) / 1000);
  // The books, not what the provider served: an answer cut at the budget is billed its hold.
  const [books] = await store.balances([lineOf('shared', RACE_LIMIT_USD)]);
  expect(LIMIT_NANO - (books?.spentNano ?? 0)).toBeLessThan(leastNano);

  console.log(
    `${label}: race served ${counts.served} (${counts.servedStreams} streams), refused ${counts.rejected}, ` +
      `spent $${(raceNano / 1e9).toFixed(6)}; then ${fill.served} more one by one to $${(totalNano / 1e9).toFixed(6)} ` +
      `of $${RACE_LIMIT_USD} (${LIMIT_NANO - totalNano} nano-USD left)`,
  );
}

/** The shared line holds exactly the served cost with nothing reserved; per-key lines add up to it. */
async function expectBooks(store: BudgetStore, servedNano: number): Promise<void> {
  // Streams settle just after their last chunk reaches the client.
  await eventually(async () => {
    const [shared] = await store.balances([lineOf('shared', RACE_LIMIT_USD)]);
    expect(shared?.reservedNano).toBe(0);
    // Equal for every answer that ran to its end; an answer the meter cut at the budget is billed
    // what its reservation held, which covers what the provider generated (issue #17): never less.
    expect(shared?.spentNano).toBeGreaterThanOrEqual(servedNano);
    expect(shared?.spentNano).toBeLessThanOrEqual(LIMIT_NANO);
  }, 10_000);
  const perKey = await store.balances(
    KEYS.map((_, i) => keyLineOf('per-key', `key-${i + 1}`, RACE_PER_KEY_USD)),
  );
  expect(perKey.map((b) => b.reservedNano)).toEqual(KEYS.map(() => 0));
  const [shared] = await store.balances([lineOf('shared', RACE_LIMIT_USD)]);
  expect(perKey.reduce((sum, b) => sum + b.spentNano, 0)).toBe(shared?.spentNano);
}
