/**
 * Alerts and anomalies, newest first: what crossed a threshold, ran out, is about to, or spends far
 * above its own baseline.
 */
import { ApiError, get } from '../api.js';
import { fill, h } from '../dom.js';
import { formatRelative, formatTime, formatUsd } from '../format.js';
import type { AlertItem } from '../model.js';
import type { View } from './view.js';

/** One finding of GET /admin/anomalies. */
interface Anomaly {
  subject: 'budget' | 'key';
  id: string;
  last_hour_usd: number;
  baseline_median_usd: number;
  score: number;
}

function anomalyText(a: Anomaly): string {
  return `Unusual spend on ${a.subject} ${a.id}: ${formatUsd(a.last_hour_usd)} in the last hour against a typical ${formatUsd(a.baseline_median_usd)} (score ${a.score.toFixed(1)}).`;
}

function eventRow(kind: string, text: string, timeMs: number, now: number): HTMLElement {
  return h(
    'div',
    { class: 'event' },
    h(
      'span',
      {
        class: `pill ${kind === 'exhausted' || kind === 'anomaly' ? 'exhausted' : kind === 'threshold' ? 'downgrading' : ''}`,
      },
      kind,
    ),
    h('span', {}, text),
    h(
      'span',
      { class: 'muted small', title: new Date(timeMs).toISOString() },
      timeMs ? `${formatTime(timeMs)} · ${formatRelative(timeMs, now)}` : '',
    ),
  );
}

export function alertsView(): View {
  const alerts = h('div', { 'data-field': 'alerts' });
  const anomalies = h('div', { 'data-field': 'anomalies' });
  const root = h(
    'section',
    {},
    h('h2', {}, 'Alerts and anomalies'),
    h('div', { class: 'card' }, h('h3', {}, 'Recent alerts'), alerts),
    h('div', { class: 'card' }, h('h3', {}, 'Anomalies'), anomalies),
  );

  const loadAnomalies = async (): Promise<{ generated_at: string; anomalies: Anomaly[] } | string> => {
    try {
      return await get('/admin/anomalies');
    } catch (error) {
      if (error instanceof ApiError && error.status !== 401) return error.message;
      throw error;
    }
  };

  return {
    id: 'alerts',
    title: 'Alerts',
    root,
    live: true,
    async refresh() {
      const [alertAnswer, anomalyAnswer] = await Promise.all([
        get<{ alerts: AlertItem[] }>('/admin/alerts?limit=100'),
        loadAnomalies(),
      ]);
      const now = Date.now();
      const recent = [...alertAnswer.alerts].sort((a, b) => Date.parse(b.time) - Date.parse(a.time));
      fill(
        alerts,
        recent.length === 0
          ? h('p', { class: 'muted' }, 'No alerts yet.')
          : recent.map((a) => eventRow(a.type, a.message ?? a.text ?? '', Date.parse(a.time), now)),
      );
      if (typeof anomalyAnswer === 'string') {
        fill(anomalies, h('p', { class: 'muted' }, `Anomalies unavailable: ${anomalyAnswer}`));
        return;
      }
      // The analytics check the last hour as a whole: every finding is as of the same moment,
      // strongest first. Past anomalies are in the alert list above (type anomaly).
      const checkedAt = Date.parse(anomalyAnswer.generated_at);
      fill(
        anomalies,
        anomalyAnswer.anomalies.length === 0
          ? h(
              'p',
              { class: 'muted' },
              'Nothing unusual in the last hour: spend is in line with its baseline.',
            )
          : anomalyAnswer.anomalies.map((a) => eventRow('anomaly', anomalyText(a), checkedAt, now)),
      );
    },
  };
}
