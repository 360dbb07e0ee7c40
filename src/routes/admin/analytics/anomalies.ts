/**
 * GET /admin/anomalies: budgets and keys whose last hour's spend is far above their trailing week
 * (median and MAD score), above a minimum volume (see docs/analytics.md).
 */
import { z } from 'zod';
import type { AnomalyFinding } from '../../../analytics/budget-anomalies.js';
import { nanoToUsd } from '../../../money.js';
import { parseQuery } from '../shared/problems.js';
import { type AdminRoute, mountRoute } from '../shared/route.js';
import type { AdminServices } from '../shared/services.js';
import { HOUR_MS, iso, queryErrors } from './query.js';

const anomaliesQuery = z
  .object({
    all: z
      .enum(['true', 'false'])
      .default('false')
      .describe('Also list the budgets and keys that are not anomalous.'),
  })
  .strict();

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

export const getAnomalies: AdminRoute<Pick<AdminServices, 'analytics' | 'config'>> = {
  doc: {
    method: 'get',
    path: '/admin/anomalies',
    summary:
      "Budgets and keys whose last hour's spend is far above their trailing week (median and MAD score), above a minimum volume.",
    query: anomaliesQuery,
    response: anomaliesAnswer,
    errors: queryErrors,
  },
  register(admin, { analytics, config }) {
    mountRoute(admin, getAnomalies.doc, async (c) => {
      const q = parseQuery(anomaliesQuery, c);
      const report = await analytics.anomalies();
      const history = config().history;
      const anomalies = report.findings
        .filter((f) => f.anomalous)
        .sort((a, b) => b.score - a.score || a.subject.localeCompare(b.subject) || a.id.localeCompare(b.id));
      return c.json({
        generated_at: iso(report.generatedAtMs),
        window: { start: iso(report.generatedAtMs - HOUR_MS), end: iso(report.generatedAtMs) },
        min_volume_usd: nanoToUsd(history.anomalyMinNano),
        threshold: history.anomalyScore,
        checked: report.findings.length,
        anomalies: anomalies.map(findingJson),
        ...(q.all === 'true' ? { findings: report.findings.map(findingJson) } : {}),
      });
    });
  },
};
