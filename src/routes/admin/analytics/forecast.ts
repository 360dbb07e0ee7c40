/**
 * GET /admin/forecast: per budget line in its current period, the spend projected at the period
 * end and when it runs out (see docs/analytics.md).
 */
import { z } from 'zod';
import type { LineForecast } from '../../../analytics/budget-forecasts.js';
import { nanoToUsd } from '../../../money.js';
import { parseQuery } from '../shared/problems.js';
import { type AdminRoute, mountRoute } from '../shared/route.js';
import type { AdminServices } from '../shared/services.js';
import { iso, queryErrors } from './query.js';

const forecastQuery = z
  .object({
    budget: z.string().optional().describe('Only this budget id.'),
    instances: z.coerce
      .number()
      .int('expected an integer')
      .min(0, 'expected at least 0')
      .default(100)
      .describe('Per "*" budget, at most this many instances (the biggest spenders).'),
  })
  .strict();

const forecastLine = z.object({
  budget_id: z.string(),
  instance: z.string().optional(),
  period: z.string(),
  period_start: z.string().nullable(),
  resets_at: z.string().nullable(),
  limit_usd: z.number(),
  spent_usd: z.number(),
  reserved_usd: z.number(),
  method: z.enum(['ewma', 'linear']).describe('ewma: hourly history; linear: too little history.'),
  burn_rate_usd_per_hour: z.number(),
  projected_usd: z.number().nullable(),
  exhausted_at: z.string().nullable(),
  exhaustion_eta_seconds: z.number().nullable(),
});

const forecastAnswer = z.object({
  generated_at: z.string(),
  budgets: z.array(forecastLine),
  instances_total: z.record(z.string(), z.number()).describe('Instances per "*" budget before the cut.'),
});

function forecastJson(line: LineForecast, nowMs: number) {
  const f = line.forecast;
  return {
    budget_id: line.budgetId,
    ...(line.instance !== line.budgetId ? { instance: line.instance } : {}),
    period: line.period.id,
    period_start: line.period.endMs === null ? null : iso(line.period.startMs),
    resets_at: iso(line.period.endMs),
    limit_usd: nanoToUsd(line.limitNano),
    spent_usd: nanoToUsd(line.spentNano),
    reserved_usd: nanoToUsd(line.reservedNano),
    method: f.method,
    burn_rate_usd_per_hour: nanoToUsd(f.rateNanoPerHour),
    projected_usd: f.projectedNano === null ? null : nanoToUsd(f.projectedNano),
    exhausted_at: iso(f.exhaustedAtMs),
    exhaustion_eta_seconds: f.exhaustedAtMs === null ? null : Math.max(0, (f.exhaustedAtMs - nowMs) / 1000),
  };
}

export const getForecast: AdminRoute<Pick<AdminServices, 'analytics' | 'clock'>> = {
  doc: {
    method: 'get',
    path: '/admin/forecast',
    summary:
      'Per budget line in its current period: spend projected at the period end and when it runs out, from an exponentially weighted hourly burn rate (linear when history is short).',
    query: forecastQuery,
    response: forecastAnswer,
    errors: queryErrors,
  },
  register(admin, { analytics, clock }) {
    mountRoute(admin, getForecast.doc, async (c) => {
      const q = parseQuery(forecastQuery, c);
      const nowMs = clock();
      let lines = await analytics.forecasts();
      if (q.budget !== undefined) lines = lines.filter((l) => l.budgetId === q.budget);
      // "*" budgets: their biggest spenders only (there may be one instance per user).
      const perTemplate = new Map<string, LineForecast[]>();
      const out: LineForecast[] = [];
      for (const line of lines) {
        if (line.instance === line.budgetId) out.push(line);
        else {
          // Appended in place: copying the list per line made this quadratic ([hardening] 8).
          const list = perTemplate.get(line.budgetId);
          if (list) list.push(line);
          else perTemplate.set(line.budgetId, [line]);
        }
      }
      const totals: Record<string, number> = {};
      for (const [budgetId, instances] of perTemplate) {
        totals[budgetId] = instances.length;
        instances.sort((a, b) => b.spentNano - a.spentNano || a.instance.localeCompare(b.instance));
        out.push(...instances.slice(0, q.instances));
      }
      return c.json({
        generated_at: iso(nowMs),
        budgets: out.map((line) => forecastJson(line, nowMs)),
        instances_total: totals,
      });
    });
  },
};
