/**
 * Spend over time: cost per hour or day from /admin/usage, stacked by model, team, key, user or
 * provider (uPlot: ~20 KB gzipped, canvas, fast with thousands of points), and the savings
 * suggestions from /admin/suggestions beside it.
 */
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { ApiError, get, query } from '../api.js';
import { fill, h } from '../dom.js';
import { formatTime, formatUsd } from '../format.js';
import { type Bucket, type GroupBy, stack, toSeries, type UsageSeries, usageRows } from './usage-series.js';
import type { View } from './view.js';

const RANGES = {
  '24h': { label: 'Last 24 hours, hourly', hours: 24, bucket: 'hour' },
  '7d-hour': { label: 'Last 7 days, hourly', hours: 24 * 7, bucket: 'hour' },
  '7d': { label: 'Last 7 days, daily', hours: 24 * 7, bucket: 'day' },
  '30d': { label: 'Last 30 days, daily', hours: 24 * 30, bucket: 'day' },
} as const satisfies Record<string, { label: string; hours: number; bucket: Bucket }>;
type RangeId = keyof typeof RANGES;

const GROUPS: GroupBy[] = ['model', 'team', 'key', 'user', 'provider'];
const PALETTE = [
  '#2f5bd3',
  '#e07b24',
  '#2a9d6f',
  '#c0398a',
  '#7a5bd1',
  '#c9a100',
  '#1c9fb8',
  '#9a6b3f',
  '#5f6b7a',
];
/** More groups than colours are summed into one "other" band. */
const MAX_GROUPS = PALETTE.length - 1;

interface Suggestion {
  text?: string;
  message?: string;
  summary?: string;
  savings_usd?: number;
  saving_usd?: number;
}

function limitGroups(series: UsageSeries): UsageSeries['groups'] {
  if (series.groups.length <= MAX_GROUPS + 1) return series.groups;
  const kept = series.groups.slice(0, MAX_GROUPS);
  const rest = series.groups.slice(MAX_GROUPS);
  const costs = series.xs.map((_, i) => rest.reduce((s, g) => s + (g.costs[i] ?? 0), 0));
  return [...kept, { name: `${rest.length} others`, costs, total: rest.reduce((s, g) => s + g.total, 0) }];
}

export function spendView(): View {
  const rangeSelect = h(
    'select',
    { name: 'range' },
    Object.entries(RANGES).map(([id, r]) => h('option', { value: id }, r.label)),
  );
  const groupSelect = h(
    'select',
    { name: 'group_by' },
    GROUPS.map((g) => h('option', { value: g }, `by ${g}`)),
  );
  const total = h('div', { class: 'muted', 'data-field': 'total' });
  const chartBox = h('div', { class: 'chart', 'data-field': 'chart' });
  const legend = h('div', { class: 'legend', 'data-field': 'legend' });
  const chartMessage = h('div');
  const suggestions = h('div', { 'data-field': 'suggestions' });
  const root = h(
    'section',
    {},
    h('h2', {}, 'Spend'),
    h(
      'div',
      { class: 'split' },
      h(
        'div',
        { class: 'card' },
        h(
          'div',
          { class: 'form-row compact', style: 'margin-bottom:.6rem' },
          h('label', {}, 'Range', rangeSelect),
          h('label', {}, 'Stack', groupSelect),
        ),
        total,
        chartMessage,
        chartBox,
        legend,
      ),
      h('aside', { class: 'card' }, h('h3', {}, 'Suggestions'), suggestions),
    ),
  );

  let chart: uPlot | undefined;
  let chartKey = '';
  let latest: { series: UsageSeries; groups: UsageSeries['groups'] } | undefined;
  const resize = new ResizeObserver(() => {
    if (chart && chartBox.clientWidth > 0) chart.setSize({ width: chartBox.clientWidth, height: 300 });
  });
  resize.observe(chartBox);

  /** Our own legend: each group's total over the range, or its cost in the bucket under the cursor. */
  const showLegend = (idx: number | null) => {
    if (!latest) return;
    const { series, groups } = latest;
    const at = idx === null ? undefined : series.xs[idx];
    fill(
      legend,
      at === undefined ? null : h('b', {}, `${formatTime(at * 1000)}:`),
      groups.map((g, i) =>
        h(
          'span',
          { 'data-group': g.name },
          h('span', { class: 'swatch', style: `background:${PALETTE[i % PALETTE.length]}` }),
          h('span', { class: 'name' }, g.name || '(none)'),
          ' ',
          h('span', { class: 'muted' }, formatUsd(idx === null ? g.total : (g.costs[idx] ?? 0))),
        ),
      ),
    );
  };

  const draw = (series: UsageSeries, bucket: Bucket) => {
    const groups = limitGroups(series);
    latest = { series, groups };
    showLegend(null);
    const sums = stack(groups);
    // Top of the stack first, so each lower band is drawn over the one above it.
    const order = groups.map((_, i) => i).reverse();
    const data: uPlot.AlignedData = [series.xs, ...order.map((i) => sums[i] ?? [])];
    const key = `${bucket}|${groups.map((g) => g.name).join('|')}`;
    if (chart && key === chartKey) {
      chart.setData(data);
      return;
    }
    chart?.destroy();
    chartKey = key;
    const step = bucket === 'hour' ? 3600 : 86400;
    const bars = uPlot.paths.bars?.({ size: [0.8, 48], align: 0 });
    chart = new uPlot(
      {
        width: Math.max(280, chartBox.clientWidth),
        height: 300,
        legend: { show: false },
        cursor: { points: { show: false }, drag: { x: false, y: false } },
        hooks: { setCursor: [(u) => showLegend(u.cursor.idx ?? null)] },
        scales: {
          x: { time: true, range: (_u, min, max) => [min - step / 2, max + step / 2] },
          y: { range: (_u, _min, max) => [0, max > 0 ? max * 1.1 : 1] },
        },
        axes: [
          { stroke: '#5f6b7a', grid: { show: false } },
          { stroke: '#5f6b7a', size: 72, values: (_u, ticks) => ticks.map((t) => formatUsd(t)) },
        ],
        series: [
          {},
          ...order.map((i) => {
            const color = PALETTE[i % PALETTE.length] ?? '#888';
            return {
              label: groups[i]?.name ?? '',
              stroke: color,
              fill: color,
              width: 0,
              paths: bars,
              points: { show: false },
            };
          }),
        ],
      },
      data,
      chartBox,
    );
  };

  const loadSuggestions = async () => {
    let answer: { suggestions?: Suggestion[] };
    try {
      answer = await get('/admin/suggestions');
    } catch (error) {
      if (error instanceof ApiError && error.status !== 401) {
        fill(suggestions, h('p', { class: 'muted' }, `Suggestions unavailable: ${error.message}`));
        return;
      }
      throw error;
    }
    const items = answer.suggestions ?? [];
    if (items.length === 0) {
      fill(suggestions, h('p', { class: 'muted' }, 'No cheaper choices found in the recent history.'));
      return;
    }
    fill(
      suggestions,
      items.map((s) => {
        const saving = s.savings_usd ?? s.saving_usd;
        return h(
          'div',
          { class: 'suggestion' },
          h('div', {}, s.text ?? s.message ?? s.summary ?? ''),
          saving === undefined ? null : h('div', { class: 'saving' }, `Saves about ${formatUsd(saving)}`),
        );
      }),
    );
  };

  const view: View = {
    id: 'spend',
    title: 'Spend',
    root,
    live: true,
    async refresh() {
      const range = RANGES[rangeSelect.value as RangeId] ?? RANGES['24h'];
      const groupBy = groupSelect.value as GroupBy;
      const to = Date.now();
      const from = to - range.hours * 3_600_000;
      const usage = get(
        `/admin/usage${query({ from: new Date(from).toISOString(), to: new Date(to).toISOString(), group_by: groupBy, bucket: range.bucket })}`,
      ).then(
        (answer) => {
          const series = toSeries(usageRows(answer, groupBy), from, to, range.bucket);
          fill(total, `Total ${formatUsd(series.totalUsd)} over ${range.label.toLowerCase()}`);
          fill(chartMessage);
          draw(series, range.bucket);
        },
        (error: unknown) => {
          if (error instanceof ApiError && error.status === 401) throw error;
          fill(chartMessage, h('div', { class: 'error' }, `Usage unavailable: ${(error as Error).message}`));
        },
      );
      await Promise.all([usage, loadSuggestions()]);
    },
    dispose() {
      resize.disconnect();
      chart?.destroy();
    },
  };
  rangeSelect.addEventListener('change', () => void view.refresh().catch(() => {}));
  groupSelect.addEventListener('change', () => void view.refresh().catch(() => {}));
  return view;
}
