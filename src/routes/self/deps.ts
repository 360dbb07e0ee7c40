/** What the self-service routes read: the caller's budgets, their burn rates, the clock. */
import type { BurnRateSource } from '../../analytics/forecast.js';
import type { BudgetEngine } from '../../budget/types.js';

export interface SelfServiceDeps {
  engine(): BudgetEngine;
  /** Burn rates from the usage history, for the forecasts (read from memory). */
  burnRates?: BurnRateSource;
  clock: () => number;
}
