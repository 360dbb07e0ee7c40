/** What the self-service routes read: the caller's budgets, their burn rates, the clock. */
import type { BurnRateSource } from '../../analytics/forecast.js';
import type { BudgetEngine } from '../../budget/types.js';
import type { ResponseTokenMemory } from '../../providers/response-memory.js';

export interface SelfServiceDeps {
  engine(): BudgetEngine;
  /** Burn rates from the usage history, for the forecasts (read from memory). */
  burnRates?: BurnRateSource;
  clock: () => number;
  /** The proxy's memory of served Responses, so an estimate reserves previous_response_id as the proxy would. */
  responses?: ResponseTokenMemory;
}
