/**
 * The dashboard files are importable into any Grafana, generated from their specs, and documented.
 * (That their queries return data is proven against a real Prometheus in prometheus.test.ts.)
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DASHBOARD_DIR, dashboardFiles } from '../../dashboards/src/build.js';
import { createMetrics } from '../../src/metrics.js';
import {
  allPanels,
  DASHBOARD_FILES,
  type Dashboard,
  loadAlertRules,
  loadDashboards,
  panelQueries,
  variableUses,
  withoutThreshold,
} from './expressions.js';

const DOCS = readFileSync(join(DASHBOARD_DIR, '..', 'docs', 'observability.md'), 'utf8');

/** The metrics DESIGN.md §2 names. */
const DESIGN_METRICS = [
  'requests_total',
  'tokens_total',
  'cost_usd_total',
  'budget_limit_usd',
  'budget_spent_usd',
  'budget_reserved_usd',
  'budget_remaining_ratio',
  'budget_exhaustion_eta_seconds',
  'downgrades_total',
  'rejections_total',
  'request_duration_seconds',
  'upstream_ttfb_seconds',
  'overhead_seconds',
  'estimate_error_ratio',
  'store_operation_seconds',
  'store_errors_total',
  'reservations_expired_total',
  'alerts_total',
].map((name) => `llm_gateway_${name}`);

/** How every query names its data source: Grafana's `${datasource}` variable, literally. */
const VIA_VARIABLE = { type: 'prometheus', uid: ['$', '{datasource}'].join('') };

/** Every object under `node` that has a `datasource` key, with where it is. */
function datasourceRefs(node: unknown, path = '$'): Array<{ path: string; ref: unknown }> {
  if (Array.isArray(node)) return node.flatMap((item, i) => datasourceRefs(item, `${path}[${i}]`));
  if (node === null || typeof node !== 'object') return [];
  const refs: Array<{ path: string; ref: unknown }> = [];
  for (const [key, value] of Object.entries(node)) {
    if (key === 'datasource') refs.push({ path: `${path}.datasource`, ref: value });
    refs.push(...datasourceRefs(value, `${path}.${key}`));
  }
  return refs;
}

describe('dashboard files', () => {
  it('are what dashboards/src/build.ts generates (run `npx tsx dashboards/src/build.ts` after editing a spec)', () => {
    const generated = dashboardFiles();
    expect(Object.keys(generated).sort()).toEqual([...DASHBOARD_FILES].sort());
    for (const [name, text] of Object.entries(generated)) {
      expect(readFileSync(join(DASHBOARD_DIR, name), 'utf8'), name).toBe(text);
    }
  });

  it.each(loadDashboards().map((d) => [d.title, d] as const))(
    '%s imports into any Grafana',
    (_title, dashboard) => {
      const d = dashboard as Dashboard & { id: unknown };
      expect(d.id).toBeNull();
      expect(d.__inputs).toEqual([expect.objectContaining({ type: 'datasource', pluginId: 'prometheus' })]);
      expect(d.__requires).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ type: 'grafana', id: 'grafana' }),
          expect.objectContaining({ type: 'datasource', id: 'prometheus' }),
        ]),
      );
      const panelTypes = new Set(allPanels(d).map((p) => p.type));
      panelTypes.delete('row');
      for (const type of panelTypes) {
        expect(d.__requires).toContainEqual(expect.objectContaining({ type: 'panel', id: type }));
      }
      const dsVar = d.templating.list.find((v) => v.name === 'datasource');
      expect(dsVar).toMatchObject({ type: 'datasource', query: 'prometheus' });

      // No data source is pinned by uid: every reference goes through the variable (the built-in
      // annotation uses Grafana's own pseudo data source).
      for (const { path, ref } of datasourceRefs(d)) {
        if (path.startsWith('$.annotations')) continue;
        expect({ path, ref }).toEqual({ path, ref: VIA_VARIABLE });
      }
      for (const panel of allPanels(d).filter((p) => p.type !== 'row')) {
        expect(panel.datasource, panel.title).toEqual(VIA_VARIABLE);
        expect(panel.targets?.length, panel.title).toBeGreaterThan(0);
        expect(panel.description?.length ?? 0, `${panel.title} needs a description`).toBeGreaterThan(40);
      }
    },
  );

  it('use template variables only in regex matchers, and each is defined with an "All" of .*', () => {
    for (const dashboard of loadDashboards()) {
      const defined = new Map(dashboard.templating.list.map((v) => [v.name, v]));
      for (const { where, expr } of panelQueries(dashboard)) {
        for (const use of variableUses(expr)) {
          expect({ where, use: use.name, operator: use.operator }).toEqual({
            where,
            use: use.name,
            operator: '=~',
          });
          expect(defined.get(use.name), `${where}: $${use.name} is not defined`).toMatchObject({
            allValue: '.*',
          });
        }
        // Every $ in a query is a known variable or a Grafana interval.
        const unknown = [...expr.matchAll(/\$\{?(\w+)\}?/g)]
          .map((m) => m[1]!)
          .filter((name) => !defined.has(name) && !name.startsWith('__'));
        expect(unknown, where).toEqual([]);
      }
    }
  });

  it('show every metric DESIGN.md names', () => {
    const text = loadDashboards()
      .flatMap(panelQueries)
      .map((q) => q.expr)
      .join('\n');
    const missing = DESIGN_METRICS.filter((name) => !text.includes(name));
    expect(missing).toEqual([]);
  });
});

describe('alert rules', () => {
  it('turn thresholds into bool comparisons without touching label matchers', () => {
    expect(withoutThreshold('sum(rate(x{status=~"5..", p!="none"}[5m])) / sum(rate(y[5m])) > 0.05')).toBe(
      'sum(rate(x{status=~"5..", p!="none"}[5m])) / sum(rate(y[5m])) > bool 0.05',
    );
    expect(withoutThreshold('min by (budget) (r) <= 0')).toBe('min by (budget) (r) <= bool 0');
    expect(withoutThreshold('a > bool 1')).toBe('a > bool 1');
    expect(withoutThreshold('a{l="x>y"} != 2')).toBe('a{l="x>y"} != bool 2');
  });

  it('each have a severity, a summary and a description', () => {
    for (const rule of loadAlertRules()) {
      expect(rule.labels?.severity, rule.alert).toMatch(/^(warning|critical)$/);
      expect(rule.annotations?.summary, rule.alert).toBeTruthy();
      expect(rule.annotations?.description, rule.alert).toBeTruthy();
    }
  });
});

describe('docs/observability.md', () => {
  it('documents every gateway metric', async () => {
    const names = (await createMetrics().registry.getMetricsAsJSON())
      .map((m) => m.name)
      .filter((name) => !name.startsWith('llm_gateway_process_'));
    expect(names.length).toBeGreaterThan(25);
    expect(names.filter((name) => !DOCS.includes(`\`${name}\``))).toEqual([]);
  });

  it('documents every dashboard panel and every alert', () => {
    const titles = loadDashboards().flatMap((d) =>
      allPanels(d)
        .filter((p) => p.type !== 'row')
        .map((p) => p.title),
    );
    expect(titles.filter((title) => !DOCS.includes(title))).toEqual([]);
    expect(loadAlertRules().filter((rule) => !DOCS.includes(rule.alert))).toEqual([]);
  });
});
