/**
 * GET /admin/suggestions: cheaper choices with money attached, per team (or key) and model (see
 * docs/analytics.md).
 */
import { z } from 'zod';
import type { Suggestion } from '../../../analytics/suggestions.js';
import { hourRange } from '../../../analytics/usage-report.js';
import { nanoToUsd, usdToNano } from '../../../money.js';
import { parseQuery } from '../shared/problems.js';
import { type AdminRoute, mountRoute } from '../shared/route.js';
import type { AdminServices } from '../shared/services.js';
import { DAY_MS, iso, queryErrors, range, time } from './query.js';

const suggestionsQuery = z
  .object({
    from: time,
    to: time,
    min_savings_usd: z.coerce
      .number({ error: 'expected a number' })
      .min(0, 'expected a number >= 0')
      .default(0.01)
      .describe('Leave out suggestions saving less than this.'),
  })
  .strict();

const suggestionsAnswer = z.object({
  from: z.string(),
  to: z.string(),
  suggestions: z.array(
    z.object({
      team: z.string().optional(),
      key: z.string().optional(),
      model: z.string(),
      alternative: z.string(),
      requests: z.number().int(),
      actual_usd: z.number(),
      alternative_usd: z.number(),
      savings_usd: z.number(),
      message: z.string(),
    }),
  ),
});

function suggestionJson(s: Suggestion) {
  return {
    ...s.scope,
    model: s.model,
    alternative: s.alternative,
    requests: s.requests,
    actual_usd: nanoToUsd(s.actualNano),
    alternative_usd: nanoToUsd(s.alternativeNano),
    savings_usd: nanoToUsd(s.savingsNano),
    message: s.message,
  };
}

export const getSuggestions: AdminRoute<Pick<AdminServices, 'analytics' | 'clock'>> = {
  doc: {
    method: 'get',
    path: '/admin/suggestions',
    summary:
      'Cheaper choices with money attached: per team (or key) and model, what its short-output requests cost and what a cheaper model from the alternatives or downgrade maps would have cost. Default: the last 30 days.',
    query: suggestionsQuery,
    response: suggestionsAnswer,
    errors: queryErrors,
  },
  register(admin, { analytics, clock }) {
    mountRoute(admin, getSuggestions.doc, async (c) => {
      const q = parseQuery(suggestionsQuery, c);
      const asked = range(q, clock(), 30 * DAY_MS);
      const { fromMs, toMs } = hourRange(asked.fromMs, asked.toMs);
      const suggestions = await analytics.suggestions(fromMs, toMs, usdToNano(q.min_savings_usd));
      return c.json({ from: iso(fromMs), to: iso(toMs), suggestions: suggestions.map(suggestionJson) });
    });
  },
};
