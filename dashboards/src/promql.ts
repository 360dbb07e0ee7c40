/** PromQL snippets shared by the dashboards. Every selector is narrowed by the `$job` variable. */

/** `llm_gateway_<name>{job=~"$job", <matchers>}` */
export function sel(name: string, matchers = ''): string {
  return `llm_gateway_${name}{job=~"$job"${matchers ? `, ${matchers}` : ''}}`;
}

export function rate(name: string, matchers = '', by = ''): string {
  const inner = `rate(${sel(name, matchers)}[$__rate_interval])`;
  return by ? `sum by (${by}) (${inner})` : `sum(${inner})`;
}

export function increase(name: string, matchers = '', by = ''): string {
  const inner = `increase(${sel(name, matchers)}[$__range])`;
  return by ? `sum by (${by}) (${inner})` : `sum(${inner})`;
}

/** A quantile of a histogram over the rate interval, kept apart by the `by` labels. */
export function quantile(q: number, histogram: string, matchers = '', by = ''): string {
  const labels = by ? `le, ${by}` : 'le';
  return `histogram_quantile(${q}, sum by (${labels}) (rate(${sel(`${histogram}_bucket`, matchers)}[$__rate_interval])))`;
}

/**
 * Budget gauges: every gateway instance reports the same shared balances, so one value per budget
 * is taken (max for amounts, min for what is left), never a sum across instances.
 */
export function perBudget(agg: 'max' | 'min', gauge: string, matchers = 'budget=~"$budget"'): string {
  return `${agg} by (budget) (${sel(gauge, matchers)})`;
}
