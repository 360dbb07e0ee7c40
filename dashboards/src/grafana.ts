/**
 * A small builder for Grafana dashboard JSON that imports into any Grafana (9 or later): every
 * panel and query reads the `${datasource}` variable (type prometheus), so no datasource uid is
 * written down; `__inputs` lets the import dialog pick the default data source.
 */

export const DATASOURCE = { type: 'prometheus', uid: '${datasource}' } as const;

export interface Target {
  expr: string;
  legend?: string;
  /** Instant query (tables, stats of a whole range); default: range query. */
  instant?: boolean;
}

export type PanelKind = 'timeseries' | 'stat' | 'bargauge' | 'table';

export interface PanelSpec {
  title: string;
  /** Shown as the panel's (i) tooltip: what it shows and what to do when it looks bad. */
  description: string;
  kind: PanelKind;
  targets: Target[];
  unit?: string;
  width?: number;
  height?: number;
  stack?: boolean;
  min?: number;
  max?: number;
  decimals?: number;
  /** [from value, colour]; the first entry's value is ignored (base colour). */
  thresholds?: Array<[number, string]>;
  mappings?: unknown[];
  /** Table columns: refId -> [column title, unit, value mappings]. */
  columns?: Record<string, [string, string, unknown[]?]>;
}

export interface RowSpec {
  title: string;
  panels: PanelSpec[];
}

export interface VariableSpec {
  name: string;
  label: string;
  /** A Grafana `label_values(selector, label)` query. */
  query: string;
}

export interface DashboardSpec {
  uid: string;
  title: string;
  description: string;
  tags: string[];
  variables: VariableSpec[];
  rows: RowSpec[];
}

const PLUGIN_NAMES: Record<PanelKind, string> = {
  timeseries: 'Time series',
  stat: 'Stat',
  bargauge: 'Bar gauge',
  table: 'Table',
};

export function buildDashboard(spec: DashboardSpec): Record<string, unknown> {
  const panels: Record<string, unknown>[] = [];
  let id = 1;
  let y = 0;
  for (const row of spec.rows) {
    panels.push({
      type: 'row',
      id: id++,
      title: row.title,
      collapsed: false,
      gridPos: { h: 1, w: 24, x: 0, y },
      panels: [],
    });
    y += 1;
    let x = 0;
    let rowHeight = 0;
    for (const panel of row.panels) {
      const w = panel.width ?? 12;
      const h = panel.height ?? 8;
      if (x + w > 24) {
        x = 0;
        y += rowHeight;
        rowHeight = 0;
      }
      panels.push(buildPanel(panel, id++, { h, w, x, y }));
      x += w;
      rowHeight = Math.max(rowHeight, h);
    }
    y += rowHeight;
  }
  const kinds = [...new Set(spec.rows.flatMap((r) => r.panels.map((p) => p.kind)))].sort();
  return {
    __inputs: [
      {
        name: 'DS_PROMETHEUS',
        label: 'Prometheus',
        description: 'The Prometheus that scrapes the gateway',
        type: 'datasource',
        pluginId: 'prometheus',
        pluginName: 'Prometheus',
      },
    ],
    __requires: [
      { type: 'grafana', id: 'grafana', name: 'Grafana', version: '9.0.0' },
      { type: 'datasource', id: 'prometheus', name: 'Prometheus', version: '1.0.0' },
      ...kinds.map((kind) => ({ type: 'panel', id: kind, name: PLUGIN_NAMES[kind], version: '' })),
    ],
    annotations: {
      list: [
        {
          builtIn: 1,
          datasource: { type: 'grafana', uid: '-- Grafana --' },
          enable: true,
          hide: true,
          iconColor: 'rgba(0, 211, 255, 1)',
          name: 'Annotations & Alerts',
          type: 'dashboard',
        },
      ],
    },
    description: spec.description,
    editable: true,
    fiscalYearStartMonth: 0,
    graphTooltip: 1,
    id: null,
    links: [{ title: 'LLM gateway', type: 'dashboards', tags: ['llm-gateway'], asDropdown: true }],
    panels,
    refresh: '30s',
    schemaVersion: 38,
    tags: spec.tags,
    templating: { list: [datasourceVariable(), ...spec.variables.map(queryVariable)] },
    time: { from: 'now-6h', to: 'now' },
    timepicker: {},
    timezone: '',
    title: spec.title,
    uid: spec.uid,
    version: 1,
    weekStart: '',
  };
}

function datasourceVariable() {
  return {
    name: 'datasource',
    label: 'Data source',
    type: 'datasource',
    query: 'prometheus',
    // Replaced by the data source picked in the import dialog; provisioned dashboards fall back
    // to the default Prometheus data source.
    current: { selected: false, text: '${DS_PROMETHEUS}', value: '${DS_PROMETHEUS}' },
    hide: 0,
    includeAll: false,
    multi: false,
    options: [],
    refresh: 1,
    regex: '',
    skipUrlSync: false,
  };
}

function queryVariable(v: VariableSpec) {
  return {
    name: v.name,
    label: v.label,
    type: 'query',
    datasource: DATASOURCE,
    definition: v.query,
    query: { query: v.query, refId: 'PrometheusVariableQueryEditor-VariableQuery' },
    current: { selected: true, text: ['All'], value: ['$__all'] },
    hide: 0,
    includeAll: true,
    allValue: '.*',
    multi: true,
    options: [],
    refresh: 2,
    regex: '',
    skipUrlSync: false,
    sort: 1,
  };
}

function thresholdSteps(spec: PanelSpec) {
  const steps = spec.thresholds ?? [[0, 'green']];
  return {
    mode: 'absolute',
    steps: steps.map(([value, color], i) => ({ color, value: i === 0 ? null : value })),
  };
}

function buildPanel(spec: PanelSpec, id: number, gridPos: Record<string, number>): Record<string, unknown> {
  const refIds = 'ABCDEFGHIJ';
  const table = spec.kind === 'table';
  const targets = spec.targets.map((t, i) => ({
    refId: refIds[i],
    datasource: DATASOURCE,
    editorMode: 'code',
    expr: t.expr,
    legendFormat: t.legend ?? '__auto',
    range: !(t.instant ?? table),
    instant: t.instant ?? table,
    ...(table ? { format: 'table' } : {}),
  }));
  const defaults: Record<string, unknown> = {
    unit: spec.unit ?? 'short',
    color: { mode: spec.kind === 'timeseries' ? 'palette-classic' : 'thresholds' },
    thresholds: thresholdSteps(spec),
    mappings: spec.mappings ?? [],
  };
  if (spec.min !== undefined) defaults.min = spec.min;
  if (spec.max !== undefined) defaults.max = spec.max;
  if (spec.decimals !== undefined) defaults.decimals = spec.decimals;
  if (spec.kind === 'timeseries') {
    defaults.custom = {
      drawStyle: 'line',
      lineWidth: 1,
      fillOpacity: spec.stack ? 30 : 10,
      showPoints: 'never',
      spanNulls: false,
      stacking: { mode: spec.stack ? 'normal' : 'none', group: 'A' },
    };
  }
  const base = {
    type: spec.kind,
    id,
    title: spec.title,
    description: spec.description,
    datasource: DATASOURCE,
    gridPos,
    targets,
    fieldConfig: { defaults, overrides: table ? columnOverrides(spec) : [] },
  };
  const reduceOptions = { calcs: ['lastNotNull'], fields: '', values: false };
  switch (spec.kind) {
    case 'timeseries':
      return {
        ...base,
        options: {
          legend: { displayMode: 'list', placement: 'bottom', showLegend: true },
          tooltip: { mode: 'multi', sort: 'desc' },
        },
      };
    case 'stat':
      return {
        ...base,
        options: {
          reduceOptions,
          colorMode: 'value',
          graphMode: 'area',
          justifyMode: 'auto',
          orientation: 'auto',
          textMode: 'auto',
        },
      };
    case 'bargauge':
      return {
        ...base,
        options: {
          reduceOptions,
          displayMode: 'gradient',
          orientation: 'horizontal',
          showUnfilled: true,
          valueMode: 'color',
          minVizHeight: 10,
          minVizWidth: 0,
        },
      };
    case 'table':
      return {
        ...base,
        options: { showHeader: true, cellHeight: 'sm', footer: { show: false, reducer: ['sum'], fields: '' } },
        transformations: [
          { id: 'merge', options: {} },
          { id: 'organize', options: { excludeByName: { Time: true }, renameByName: columnNames(spec) } },
        ],
      };
  }
}

function columnNames(spec: PanelSpec): Record<string, string> {
  const names: Record<string, string> = {};
  for (const [refId, [title]] of Object.entries(spec.columns ?? {})) names[`Value #${refId}`] = title;
  return names;
}

function columnOverrides(spec: PanelSpec): unknown[] {
  return Object.values(spec.columns ?? {}).map(([title, unit, mappings]) => ({
    matcher: { id: 'byName', options: title },
    properties: [{ id: 'unit', value: unit }, ...(mappings ? [{ id: 'mappings', value: mappings }] : [])],
  }));
}
