/**
 * The admin analytics: usage history, the request ledger export, forecasts, anomalies and savings
 * suggestions (see docs/analytics.md for the numbers behind each).
 */
import type { Context, Hono } from 'hono';
import { z } from 'zod';
import type { AnomalyFinding } from '../analytics/budget-anomalies.js';
import type { LineForecast } from '../analytics/budget-forecasts.js';
import { type LedgerFormat, ledgerStream } from '../analytics/ledger-export.js';
import type { Analytics } from '../analytics/service.js';
import type { Suggestion } from '../analytics/suggestions.js';
import { DIMENSIONS, type Dimension, hourRange } from '../analytics/usage-report.js';
import { nanoToUsd, usdToNano } from '../money.js';
import type { LedgerEntry, UsageCounters } from '../store/history.js';
import { commonErrors, fail, handled } from './http.js';
import { documentRoute } from './openapi-registry.js';
import { type AdminDeps, requireServices } from './router.js';

/** What this group needs from AdminDeps (gateway.ts fills it in). */
export interface AnalyticsServices {
  analytics: Analytics;
}

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
const MAX_EXPORT = 10_000_000;

const time = z
  .string()
  .describe('ISO 8601 time (2026-11-28T10:00:00Z) or milliseconds since the epoch.')
  .optional();

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

const requestsQuery = z
  .object({
    from: time,
    to: time,
    format: z.enum(['jsonl', 'csv']).default('jsonl'),
    limit: z.coerce
      .number()
      .int('expected an integer')
      .min(1, 'expected at least 1')
      .max(MAX_EXPORT, `expected at most ${MAX_EXPORT}`)
      .optional()
      .describe('At most this many records (oldest first).'),
    key: z.string().optional().describe('Only this key id.'),
    team: z.string().optional().describe('Only this team.'),
    user: z.string().optional().describe('Only this user.'),
    model: z.string().optional().describe('Only requests that asked for or were served by this model.'),
  })
  .strict();

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

const anomaliesQuery = z
  .object({
    all: z
      .enum(['true', 'false'])
      .default('false')
      .describe('Also list the budgets and keys that are not anomalous.'),
  })
  .strict();

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
    }),
  ),
  total: counters,
});

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

const finding = z.object({
  subject: z.enum(['budget', 'key']),
  id: z.string(),
  anomalous: z.boolean(),
  reason: z.enum(['anomalous', 'short_history', 'low_volume', 'within_baseline']),
  last_hour_usd: z.number(),
  baseline_median_usd: z.number(),
  baseline_mad_usd: z.number(),
  baseline_hours: z.number().int(),
  score: z.number(),
});

const anomaliesAnswer = z.object({
  generated_at: z.string(),
  window: z.object({ start: z.string(), end: z.string() }),
  min_volume_usd: z.number(),
  threshold: z.number(),
  checked: z.number().int(),
  anomalies: z.array(finding),
  findings: z.array(finding).optional(),
});

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

const badQuery = { 400: 'A query parameter is malformed (the error names it).' };

/** Parses the query or answers 400 naming the first bad parameter. */
function query<S extends z.ZodType>(c: Context, schema: S): z.infer<S> {
  const parsed = schema.safeParse(c.req.query());
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const param = issue?.code === 'unrecognized_keys' ? issue.keys.join(',') : (issue?.path.join('.') ?? '');
  const message =
    issue?.code === 'unrecognized_keys' ? 'unknown query parameter' : (issue?.message ?? 'invalid');
  return fail('invalid_request', `${param}: ${message}`, param);
}

/** A date, or a date and time with an optional zone (Date.parse alone accepts far too much). */
const ISO_8601 = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?)?$/;

/** ISO 8601 or epoch milliseconds; 400 naming the parameter otherwise. */
export function parseTime(value: string | undefined, param: string, fallback: number): number {
  if (value === undefined || value === '') return fallback;
  const ms = /^\d+$/.test(value) ? Number(value) : ISO_8601.test(value) ? Date.parse(value) : Number.NaN;
  if (!Number.isFinite(ms) || ms < 0 || ms > 8.64e15) {
    return fail('invalid_request', `${param}: expected an ISO 8601 time or epoch milliseconds`, param);
  }
  return ms;
}

function range(q: { from?: string; to?: string }, now: number, defaultSpanMs: number) {
  const toMs = parseTime(q.to, 'to', now);
  const fromMs = parseTime(q.from, 'from', toMs - defaultSpanMs);
  if (fromMs >= toMs) fail('invalid_request', 'to: expected a time after from', 'to');
  return { fromMs, toMs };
}

function iso(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}

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

function findingJson(f: AnomalyFinding) {
  return {
    subject: f.subject,
    id: f.id,
    anomalous: f.anomalous,
    reason: f.reason,
    last_hour_usd: nanoToUsd(f.lastHourNano),
    baseline_median_usd: nanoToUsd(f.medianNano),
    baseline_mad_usd: nanoToUsd(f.madNano),
    baseline_hours: f.baselineHours,
    score: Math.round(f.score * 100) / 100,
  };
}

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

async function* filtered(
  entries: AsyncIterable<LedgerEntry>,
  q: { key?: string; team?: string; user?: string; model?: string },
): AsyncIterable<LedgerEntry> {
  for await (const e of entries) {
    if (q.key !== undefined && e.keyId !== q.key) continue;
    if (q.team !== undefined && e.team !== q.team) continue;
    if (q.user !== undefined && e.user !== q.user) continue;
    if (q.model !== undefined && e.requestedModel !== q.model && e.servedModel !== q.model) continue;
    yield e;
  }
}

function documentAll(): void {
  documentRoute({
    method: 'get',
    path: '/admin/usage',
    summary:
      'Usage history from the hourly rollups: requests, tokens by kind and cost per hour or day (UTC), optionally grouped by model, key, user, team or provider. Default: the last 24 hours by hour.',
    query: usageQuery,
    response: usageAnswer,
    errors: { ...commonErrors, ...badQuery },
  });
  documentRoute({
    method: 'get',
    path: '/admin/requests',
    summary:
      'The request ledger, one record per proxied request, streamed as JSON lines (application/x-ndjson) or CSV with a header row. Sum cost_nano to reconcile with a provider invoice. Default: the last 24 hours.',
    query: requestsQuery,
    errors: { ...commonErrors, ...badQuery },
  });
  documentRoute({
    method: 'get',
    path: '/admin/forecast',
    summary:
      'Per budget line in its current period: spend projected at the period end and when it runs out, from an exponentially weighted hourly burn rate (linear when history is short).',
    query: forecastQuery,
    response: forecastAnswer,
    errors: { ...commonErrors, ...badQuery },
  });
  documentRoute({
    method: 'get',
    path: '/admin/anomalies',
    summary:
      "Budgets and keys whose last hour's spend is far above their trailing week (median and MAD score), above a minimum volume.",
    query: anomaliesQuery,
    response: anomaliesAnswer,
    errors: { ...commonErrors, ...badQuery },
  });
  documentRoute({
    method: 'get',
    path: '/admin/suggestions',
    summary:
      'Cheaper choices with money attached: per team (or key) and model, what its short-output requests cost and what a cheaper model from the alternatives or downgrade maps would have cost. Default: the last 30 days.',
    query: suggestionsQuery,
    response: suggestionsAnswer,
    errors: { ...commonErrors, ...badQuery },
  });
}

export function analyticsRoutes(admin: Hono, deps: AdminDeps): void {
  const { analytics } = requireServices(deps, 'analytics', 'analytics');
  documentAll();

  admin.get(
    '/usage',
    handled(async (c) => {
      const q = query(c, usageQuery);
      const groupBy: Dimension[] = [];
      for (const part of (q.group_by ?? '').split(',').map((s) => s.trim())) {
        if (part === '') continue;
        if (!(DIMENSIONS as readonly string[]).includes(part)) {
          fail(
            'invalid_request',
            `group_by: expected ${DIMENSIONS.join(', ')} (comma-separated)`,
            'group_by',
          );
        }
        if (!groupBy.includes(part as Dimension)) groupBy.push(part as Dimension);
      }
      const asked = range(q, deps.clock(), DAY_MS);
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
      });
    }),
  );

  admin.get(
    '/requests',
    handled(async (c) => {
      const q = query(c, requestsQuery);
      const { fromMs, toMs } = range(q, deps.clock(), DAY_MS);
      const format: LedgerFormat = q.format;
      // Records still in the recorder's buffer belong in the export.
      await analytics.flush().catch(() => {});
      const body = ledgerStream(filtered(analytics.ledger(fromMs, toMs), q), format, q.limit ?? MAX_EXPORT);
      const name = `requests-${new Date(fromMs).toISOString().replaceAll(':', '')}.${format}`;
      return new Response(body, {
        headers: {
          'content-type': format === 'csv' ? 'text/csv; charset=utf-8' : 'application/x-ndjson',
          'content-disposition': `attachment; filename="${name}"`,
          'cache-control': 'no-store',
        },
      });
    }),
  );

  admin.get(
    '/forecast',
    handled(async (c) => {
      const q = query(c, forecastQuery);
      const nowMs = deps.clock();
      let lines = await analytics.forecasts();
      if (q.budget !== undefined) lines = lines.filter((l) => l.budgetId === q.budget);
      // "*" budgets: their biggest spenders only (there may be one instance per user).
      const perTemplate = new Map<string, LineForecast[]>();
      const out: LineForecast[] = [];
      for (const line of lines) {
        if (line.instance === line.budgetId) out.push(line);
        else perTemplate.set(line.budgetId, [...(perTemplate.get(line.budgetId) ?? []), line]);
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
    }),
  );

  admin.get(
    '/anomalies',
    handled(async (c) => {
      const q = query(c, anomaliesQuery);
      const report = await analytics.anomalies();
      const history = deps.config().file.history;
      const anomalies = report.findings
        .filter((f) => f.anomalous)
        .sort((a, b) => b.score - a.score || a.subject.localeCompare(b.subject) || a.id.localeCompare(b.id));
      return c.json({
        generated_at: iso(report.generatedAtMs),
        window: { start: iso(report.generatedAtMs - HOUR_MS), end: iso(report.generatedAtMs) },
        min_volume_usd: history.anomaly_min_usd,
        threshold: history.anomaly_score,
        checked: report.findings.length,
        anomalies: anomalies.map(findingJson),
        ...(q.all === 'true' ? { findings: report.findings.map(findingJson) } : {}),
      });
    }),
  );

  admin.get(
    '/suggestions',
    handled(async (c) => {
      const q = query(c, suggestionsQuery);
      const asked = range(q, deps.clock(), 30 * DAY_MS);
      const { fromMs, toMs } = hourRange(asked.fromMs, asked.toMs);
      const suggestions = await analytics.suggestions(fromMs, toMs, usdToNano(q.min_savings_usd));
      return c.json({ from: iso(fromMs), to: iso(toMs), suggestions: suggestions.map(suggestionJson) });
    }),
  );
}
