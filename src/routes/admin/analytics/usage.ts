/**
 * GET /admin/usage: usage history from the hourly rollups, per hour or day (UTC), optionally
 * grouped (see docs/analytics.md); grouped by session, from the request ledger (usage-report.ts).
 */
import { z } from 'zod';
import { DIMENSIONS, type Dimension, hourRange } from '../../../analytics/usage-report.js';
import { nanoToUsd } from '../../../money.js';
import type { UsageCounters } from '../../../store/history.js';
import { parseQuery } from '../shared/problems.js';
import { type AdminRoute, mountRoute } from '../shared/route.js';
import type { AdminServices } from '../shared/services.js';
import { badParameter, DAY_MS, iso, queryErrors, range, time } from './query.js';

const usageQuery = z
  .object({
    from: time,
    to: time,
    group_by: z
      .string()
      .describe(`One or more of ${DIMENSIONS.join(', ')}, comma-separated; none: one row per bucket.`)
      .optional(),
    bucket: z.enum(['hour', 'day']).default('hour').describe('Bucket size (UTC).'),
  })
  .strict();

const counters = z.object({
  requests: z.number().int(),
  errors: z.number().int(),
  input_tokens: z.number().int(),
  cached_input_tokens: z.number().int(),
  cache_write_tokens: z.number().int(),
  output_tokens: z.number().int(),
  reasoning_tokens: z.number().int(),
  cost_usd: z.number(),
  cost_nano: z.number().int().describe('Exact cost in nano-USD (1e-9 USD).'),
});

const usageAnswer = z.object({
  from: z.string(),
  to: z.string(),
  bucket: z.enum(['hour', 'day']),
  group_by: z.array(z.enum(DIMENSIONS)),
  rows: z.array(
    counters.extend({
      start: z.string(),
      model: z.string().optional(),
      key: z.string().optional(),
      user: z.string().optional(),
      team: z.string().optional(),
      provider: z.string().optional(),
      session: z.string().optional(),
    }),
  ),
  total: counters,
  source: z
    .enum(['rollups', 'ledger'])
    .describe(
      'rollups: the hourly rollups (history.rollup_retention_days); ledger: summed from the request ledger, when grouped by session (history.ledger_retention_days).',
    ),
});

function countersJson(c: UsageCounters) {
  return {
    requests: c.requests,
    errors: c.errors,
    input_tokens: c.inputTokens,
    cached_input_tokens: c.cachedInputTokens,
    cache_write_tokens: c.cacheWriteTokens,
    output_tokens: c.outputTokens,
    reasoning_tokens: c.reasoningTokens,
    cost_usd: nanoToUsd(c.costNano),
    cost_nano: c.costNano,
  };
}

/** `model, key` -> ['model', 'key'], each once; 400 on anything not a dimension. */
function groupByOf(value: string | undefined): Dimension[] {
  const groupBy: Dimension[] = [];
  for (const part of (value ?? '').split(',').map((s) => s.trim())) {
    if (part === '') continue;
    if (!(DIMENSIONS as readonly string[]).includes(part)) {
      badParameter('group_by', `expected ${DIMENSIONS.join(', ')} (comma-separated)`);
    }
    if (!groupBy.includes(part as Dimension)) groupBy.push(part as Dimension);
  }
  return groupBy;
}

export const getUsage: AdminRoute<Pick<AdminServices, 'analytics' | 'clock'>> = {
  doc: {
    method: 'get',
    path: '/admin/usage',
    summary:
      'Usage history from the hourly rollups: requests, tokens by kind and cost per hour or day (UTC), optionally grouped by model, key, user, team or provider, or by session (the agent session: Claude Code, Codex; summed from the request ledger). Default: the last 24 hours by hour.',
    query: usageQuery,
    response: usageAnswer,
    errors: queryErrors,
  },
  register(admin, { analytics, clock }) {
    mountRoute(admin, getUsage.doc, async (c) => {
      const q = parseQuery(usageQuery, c);
      const groupBy = groupByOf(q.group_by);
      const asked = range(q, clock(), DAY_MS);
      const { fromMs, toMs } = hourRange(asked.fromMs, asked.toMs);
      const report = await analytics.usage({ fromMs, toMs, bucket: q.bucket, groupBy });
      return c.json({
        from: iso(fromMs),
        to: iso(toMs),
        bucket: q.bucket,
        group_by: groupBy,
        rows: report.rows.map((row) => ({
          start: iso(row.startMs),
          ...row.group,
          ...countersJson(row.counters),
        })),
        total: countersJson(report.total),
        source: report.source,
      });
    });
  },
};
