/**
 * An anomaly as an alert for the dispatcher (webhooks, GET /admin/alerts). Its id names the
 * subject and the hour, so instances that both see it raise one alert at the receiver too.
 */
import type { AlertInput } from '../alerts/event.js';
import { nanoToUsd } from '../money.js';
import { hourOf } from '../store/history.js';
import type { AnomalyEvent } from './service.js';
import { money } from './suggestions.js';

export function anomalyAlert(event: AnomalyEvent): AlertInput {
  const who = event.subject === 'budget' ? `budget ${event.id}` : `key ${event.id}`;
  const score = Math.round(event.score * 10) / 10;
  return {
    type: 'anomaly',
    id: `alert_anomaly_${event.subject}_${event.id}_${hourOf(event.timeMs)}`,
    ...(event.subject === 'budget' ? { budgetId: event.id } : {}),
    timeMs: event.timeMs,
    message:
      `Unusual spend on ${who}: ${money(event.lastHourNano)} in the last hour against a typical ` +
      `${money(event.medianNano)} per hour over the past week (score ${score}).`,
    details: {
      subject: event.subject,
      id: event.id,
      last_hour_usd: nanoToUsd(event.lastHourNano),
      baseline_median_usd: nanoToUsd(event.medianNano),
      baseline_mad_usd: nanoToUsd(event.madNano),
      score,
      window_start: new Date(event.windowStartMs).toISOString(),
      window_end: new Date(event.windowEndMs).toISOString(),
    },
  };
}
