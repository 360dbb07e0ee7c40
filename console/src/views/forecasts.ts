/** Per-budget forecasts from GET /admin/forecast, by budget id. */
import { ApiError, get } from '../api.js';
import type { Forecast } from '../model.js';

interface ForecastEntry {
  id?: string;
  budget_id?: string;
  instance?: string;
  projected_usd?: number | null;
  exhausted_at?: string | null;
  forecast?: Forecast;
}

export async function loadForecasts(): Promise<Map<string, Forecast>> {
  let answer: { budgets?: ForecastEntry[]; forecasts?: ForecastEntry[] };
  try {
    answer = await get('/admin/forecast');
  } catch (error) {
    // Budgets show without forecasts when the analytics cannot answer (or are not there).
    if (error instanceof ApiError && error.status !== 401) return new Map();
    throw error;
  }
  const forecasts = new Map<string, Forecast>();
  for (const entry of answer.budgets ?? answer.forecasts ?? []) {
    const id = entry.budget_id ?? entry.id;
    if (!id || (entry.instance !== undefined && entry.instance !== id)) continue;
    forecasts.set(id, {
      projected_usd: entry.forecast?.projected_usd ?? entry.projected_usd ?? null,
      exhausted_at: entry.forecast?.exhausted_at ?? entry.exhausted_at ?? null,
    });
  }
  return forecasts;
}
