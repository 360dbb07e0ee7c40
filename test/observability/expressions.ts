/**
 * Every PromQL expression a user of the dashboards and rules will run: panel targets, template
 * variable queries and alert rule expressions, turned into plain PromQL Prometheus can evaluate.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { DASHBOARD_DIR } from '../../dashboards/src/build.js';

export const RULES_FILE = join(DASHBOARD_DIR, 'alerts.rules.yml');
export const DASHBOARD_FILES = [
  'llm-gateway-overview.json',
  'llm-gateway-spend.json',
  'llm-gateway-budgets.json',
];

export interface Dashboard {
  title: string;
  uid: string;
  __inputs?: Array<{ name: string; type: string; pluginId: string }>;
  __requires?: Array<{ type: string; id: string }>;
  panels: Panel[];
  templating: { list: Variable[] };
}

export interface Panel {
  type: string;
  title: string;
  description?: string;
  datasource?: { type: string; uid: string };
  targets?: Array<{ refId: string; expr: string; datasource?: { type: string; uid: string } }>;
  panels?: Panel[];
}

export interface Variable {
  name: string;
  type: string;
  query: string | { query: string };
  datasource?: { type: string; uid: string };
  allValue?: string;
}

export function loadDashboards(): Dashboard[] {
  return DASHBOARD_FILES.map(
    (file) => JSON.parse(readFileSync(join(DASHBOARD_DIR, file), 'utf8')) as Dashboard,
  );
}

/** Panels in display order, rows' nested panels included. */
export function allPanels(dashboard: Dashboard): Panel[] {
  return dashboard.panels.flatMap((panel) => [panel, ...(panel.panels ?? [])]);
}

export interface NamedQuery {
  where: string;
  expr: string;
}

export function panelQueries(dashboard: Dashboard): NamedQuery[] {
  return allPanels(dashboard).flatMap((panel) =>
    (panel.targets ?? []).map((t) => ({
      where: `${dashboard.title} / ${panel.title} / ${t.refId}`,
      expr: t.expr,
    })),
  );
}

/**
 * Grafana's built-in intervals get values that suit a 1 s scrape and a test of a minute or two;
 * template variables become ".*" (what "All" sends, as the dashboards set allValue).
 */
export function substitute(expr: string): string {
  return expr
    .replaceAll('$__rate_interval', '1m')
    .replaceAll('$__interval', '15s')
    .replaceAll('$__range', '5m')
    .replace(/\$\{(\w+)\}|\$(\w+)/g, '.*');
}

/** Template variables a query uses, with the matcher operator in front of each. */
export function variableUses(expr: string): Array<{ name: string; operator: string }> {
  const uses: Array<{ name: string; operator: string }> = [];
  for (const match of expr.matchAll(/(=~|!~|!=|=)\s*"\$\{?(\w+)\}?"/g)) {
    uses.push({ operator: match[1]!, name: match[2]! });
  }
  return uses;
}

/** `label_values(selector, label)` as PromQL: one series per value, none when there are none. */
export function variableQuery(variable: Variable): string {
  const text = typeof variable.query === 'string' ? variable.query : variable.query.query;
  const match = /^label_values\((.+),\s*(\w+)\)$/.exec(text.trim());
  if (!match)
    throw new Error(`variable ${variable.name}: expected label_values(selector, label), got ${text}`);
  return `group by (${match[2]}) (${substitute(match[1]!)})`;
}

export interface AlertRule {
  alert: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

export function loadAlertRules(): AlertRule[] {
  const file = parse(readFileSync(RULES_FILE, 'utf8')) as {
    groups: Array<{ name: string; rules: AlertRule[] }>;
  };
  return file.groups.flatMap((g) => g.rules);
}

const COMPARISONS = ['==', '!=', '>=', '<=', '>', '<'];

/**
 * The rule's expression with every comparison turned into a `bool` comparison: `x > 0.05` becomes
 * `x > bool 0.05`, which keeps every series of `x` (with value 0 or 1) instead of only those past
 * the threshold. Prometheus still parses and evaluates the whole expression, threshold included,
 * and the result is empty only when the metric behind the alert has no series at all. Label
 * matchers ({...}) and strings are skipped, so `status=~"5.."` and `provider!="none"` stay as they are.
 */
export function withoutThreshold(expr: string): string {
  let out = '';
  let braces = 0;
  let i = 0;
  while (i < expr.length) {
    const ch = expr[i]!;
    if (ch === '"' || ch === "'" || ch === '`') {
      const end = closingQuote(expr, i);
      out += expr.slice(i, end + 1);
      i = end + 1;
      continue;
    }
    if (ch === '{') braces++;
    if (ch === '}') braces--;
    const op = braces === 0 ? COMPARISONS.find((c) => expr.startsWith(c, i)) : undefined;
    if (op) {
      out += `${op} bool`;
      i += op.length;
      if (/^\s*bool\b/.test(expr.slice(i))) i += expr.slice(i).match(/^\s*bool/)![0].length;
      continue;
    }
    out += ch;
    i++;
  }
  return out;
}

function closingQuote(text: string, start: number): number {
  const quote = text[start];
  for (let i = start + 1; i < text.length; i++) {
    if (text[i] === '\\' && quote !== '`') i++;
    else if (text[i] === quote) return i;
  }
  throw new Error(`unterminated string in ${text}`);
}
