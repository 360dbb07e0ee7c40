/** GET /v1/budget: the caller's budgets with balances and forecasts (a budget bar for the app). */
import { type BurnRateSource, forecastBalance } from '../../analytics/forecast.js';
import { periodOf } from '../../budget/periods.js';
import type { BudgetView } from '../../budget/types.js';
import type { GatewayContext } from '../../http/app.js';
import { denialError } from '../../http/denial-errors.js';
import { nanoToUsd } from '../../money.js';
import { StoreResetError, StoreUnavailableError } from '../../store/types.js';
import type { SelfServiceDeps } from './deps.js';

/**
 * One budget as the self-service API shows it (DESIGN §2). The forecast uses the burn rate the
 * analytics computed from hourly history in the background (read from memory), applied to the
 * balance as it stands; linear over the elapsed period where there is none.
 */
export function budgetJson(view: BudgetView, nowMs: number, burnRates?: BurnRateSource) {
  const period = periodOf(view.budget.period, view.budget.timezone, nowMs);
  const input = {
    spentNano: view.spentNano,
    limitNano: view.limitNano,
    periodStartMs: period.startMs,
    periodEndMs: period.endMs,
    nowMs,
  };
  const forecast = forecastBalance(input, { instance: view.instance, periodId: view.line.period }, burnRates);
  return {
    id: view.budget.id,
    ...(view.instance !== view.budget.id ? { instance: view.instance } : {}),
    scope: view.budget.scope,
    period: view.budget.period,
    limit_usd: nanoToUsd(view.limitNano),
    spent_usd: nanoToUsd(view.spentNano),
    reserved_usd: nanoToUsd(view.reservedNano),
    remaining_usd: nanoToUsd(Math.max(0, view.remainingNano)),
    resets_at: view.resetsAtMs === null ? null : new Date(view.resetsAtMs).toISOString(),
    forecast: {
      projected_usd: forecast.projectedNano === null ? null : nanoToUsd(forecast.projectedNano),
      exhausted_at: forecast.exhaustedAtMs === null ? null : new Date(forecast.exhaustedAtMs).toISOString(),
    },
  };
}

export function budgetHandler(deps: SelfServiceDeps) {
  return async (c: GatewayContext): Promise<Response> => {
    const now = deps.clock();
    const views = await deps
      .engine()
      .budgetsFor(c.get('identity'), now)
      .catch((error: unknown) => {
        if (!(error instanceof StoreUnavailableError)) throw error;
        if (error instanceof StoreResetError) throw denialError({ kind: 'store_reset' }, c.get('config'));
        throw denialError({ kind: 'store_unavailable', operation: 'balances' }, c.get('config'));
      });
    return c.json({ budgets: views.map((v) => budgetJson(v, now, deps.burnRates)) });
  };
}
