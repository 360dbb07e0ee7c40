/**
 * GET /admin/alerts: the alerts this instance raised recently, newest first, each with the state of
 * its webhook deliveries. In memory and per instance (see docs/controls.md): behind a load balancer,
 * ask each instance, or read the webhook receiver.
 */
import { z } from 'zod';
import { ALERT_TYPES } from '../../alerts/event.js';
import type { AlertEntry } from '../../alerts/recent.js';
import { parseQuery } from './shared/problems.js';
import { type AdminRoute, mountRoute } from './shared/route.js';
import type { AdminServices } from './shared/services.js';

const MAX_LIMIT = 1000;

const alertsQuery = z.object({
  limit: z.coerce
    .number()
    .int('expected an integer')
    .min(1, 'expected at least 1')
    .max(MAX_LIMIT, `expected at most ${MAX_LIMIT}`)
    .default(50)
    .describe('How many alerts, newest first.'),
  type: z.enum(ALERT_TYPES).optional().describe('Only alerts of this type.'),
});

const delivery = z.object({
  webhook: z
    .number()
    .int()
    .describe('Index of the receiver in alerts.webhooks (URLs are not shown: they hold tokens).'),
  status: z.enum(['pending', 'delivered', 'failed', 'dropped']),
  attempts: z.number().int(),
  last_error: z.string().nullable(),
  delivered_at: z.string().nullable(),
});

const alertJson = z.looseObject({
  id: z.string(),
  type: z.enum(ALERT_TYPES),
  text: z.string(),
  time: z.string(),
  budget_id: z.string().optional(),
  instance: z.string().optional(),
  period: z.string().optional(),
  at: z.number().optional(),
  spent_usd: z.number().optional(),
  limit_usd: z.number().optional(),
  deliveries: z.array(delivery),
});

const alertsAnswer = z.object({ alerts: z.array(alertJson) });

export function alertView(entry: AlertEntry) {
  return {
    ...entry.payload,
    deliveries: entry.deliveries.map((d) => ({
      webhook: d.webhook,
      status: d.status,
      attempts: d.attempts,
      last_error: d.lastError,
      delivered_at: d.deliveredAtMs === null ? null : new Date(d.deliveredAtMs).toISOString(),
    })),
  };
}

export const listAlerts: AdminRoute<Pick<AdminServices, 'alerts'>> = {
  doc: {
    method: 'get',
    path: '/admin/alerts',
    summary:
      'Alerts this instance raised recently (threshold, exhausted, forecast, anomaly), newest first, with their webhook deliveries. Kept in memory per instance.',
    query: alertsQuery,
    response: alertsAnswer,
    errors: { 400: 'A query parameter is malformed (names it).' },
  },
  register(admin, { alerts }) {
    mountRoute(admin, listAlerts.doc, (c) => {
      const { limit, type } = parseQuery(alertsQuery, c);
      // Filter before limiting, so ?type=forecast&limit=5 is the last five forecasts.
      const entries = type
        ? alerts.recent(Number.MAX_SAFE_INTEGER).filter((e) => e.alert.type === type)
        : alerts.recent(limit);
      return c.json({ alerts: entries.slice(0, limit).map(alertView) });
    });
  },
};
