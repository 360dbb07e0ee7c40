import type { DashboardSpec } from './grafana.js';
import { increase, quantile, rate } from './promql.js';

const COST = 'model=~"$model", provider=~"$provider", team=~"$team"';
const TOKENS = 'model=~"$model", provider=~"$provider"';
const PER_HOUR = ' * 3600';

export const spend: DashboardSpec = {
  uid: 'llm-gateway-spend',
  title: 'LLM gateway / Spend',
  description: 'Settled cost and tokens by model, provider and team, and how good the cost estimates are.',
  tags: ['llm-gateway'],
  variables: [
    { name: 'job', label: 'Job', query: 'label_values(llm_gateway_requests_total, job)' },
    { name: 'model', label: 'Model', query: 'label_values(llm_gateway_cost_usd_total, model)' },
    { name: 'provider', label: 'Provider', query: 'label_values(llm_gateway_cost_usd_total, provider)' },
    { name: 'team', label: 'Team', query: 'label_values(llm_gateway_cost_usd_total, team)' },
  ],
  rows: [
    {
      title: 'Spend',
      panels: [
        {
          title: 'Spend in the time range',
          description:
            'Settled cost over the dashboard time range (USD), for the selected models, providers and teams. Settled = what the providers reported, not the reserved estimates.',
          kind: 'stat',
          unit: 'currencyUSD',
          width: 6,
          decimals: 2,
          targets: [{ expr: increase('cost_usd_total', COST), instant: true }],
        },
        {
          title: 'Spend rate by model (USD per hour)',
          description:
            'Cost per hour by served model. A model climbing fast is the first place to look for savings: consider a cheaper alternative or a downgrade threshold.',
          kind: 'timeseries',
          unit: 'currencyUSD',
          width: 18,
          targets: [{ expr: rate('cost_usd_total', COST, 'model') + PER_HOUR, legend: '{{model}}' }],
        },
        {
          title: 'Spend rate by provider (USD per hour)',
          description: 'Cost per hour by provider; compare with the provider invoices and your commitments.',
          kind: 'timeseries',
          unit: 'currencyUSD',
          width: 12,
          stack: true,
          targets: [{ expr: rate('cost_usd_total', COST, 'provider') + PER_HOUR, legend: '{{provider}}' }],
        },
        {
          title: 'Spend rate by team (USD per hour)',
          description:
            'Cost per hour by the team of the virtual key ("none" = keys without a team, "anonymous" = trial users). A team burning much faster than usual: check its budgets dashboard and its keys.',
          kind: 'timeseries',
          unit: 'currencyUSD',
          width: 12,
          stack: true,
          targets: [{ expr: rate('cost_usd_total', COST, 'team') + PER_HOUR, legend: '{{team}}' }],
        },
        {
          title: 'Spend by model in the time range',
          description: 'Which models cost the most over the time range.',
          kind: 'bargauge',
          unit: 'currencyUSD',
          width: 12,
          targets: [
            { expr: `sort_desc(${increase('cost_usd_total', COST, 'model')})`, legend: '{{model}}', instant: true },
          ],
        },
        {
          title: 'Spend by team in the time range',
          description: 'Which teams spent the most over the time range.',
          kind: 'bargauge',
          unit: 'currencyUSD',
          width: 12,
          targets: [
            { expr: `sort_desc(${increase('cost_usd_total', COST, 'team')})`, legend: '{{team}}', instant: true },
          ],
        },
      ],
    },
    {
      title: 'Tokens',
      panels: [
        {
          title: 'Tokens per second by kind',
          description:
            'Billed tokens per second: input, cached input (cheaper reads), cache writes, output and reasoning. A low cached share on repeated prompts means prompt caching is not used.',
          kind: 'timeseries',
          unit: 'short',
          width: 12,
          stack: true,
          targets: [{ expr: rate('tokens_total', TOKENS, 'kind'), legend: '{{kind}}' }],
        },
        {
          title: 'Tokens per second by model',
          description: 'Input plus output tokens per second by served model.',
          kind: 'timeseries',
          unit: 'short',
          width: 12,
          targets: [
            { expr: rate('tokens_total', `${TOKENS}, kind=~"input|output"`, 'model'), legend: '{{model}}' },
          ],
        },
        {
          title: 'Tokens by model and kind in the time range',
          description: 'Token totals over the time range, per model and kind.',
          kind: 'bargauge',
          unit: 'short',
          width: 12,
          targets: [
            {
              expr: `sort_desc(${increase('tokens_total', TOKENS, 'model, kind')})`,
              legend: '{{model}} {{kind}}',
              instant: true,
            },
          ],
        },
        {
          title: 'Average cost per successful request',
          description:
            'Settled cost divided by 2xx answers. A jump without a model change means longer prompts or outputs: check max_tokens and context sizes of the heaviest clients.',
          kind: 'timeseries',
          unit: 'currencyUSD',
          width: 12,
          targets: [
            {
              expr: `${rate('cost_usd_total', COST)} / ${rate('requests_total', 'status=~"2.."')}`,
              legend: 'USD per request',
            },
          ],
        },
      ],
    },
    {
      title: 'Estimates',
      panels: [
        {
          title: 'Estimate error ratio (actual / reserved)',
          description:
            'Actual cost divided by the reserved worst-case estimate. Always at most 1 when the gateway sets the output cap; a low median means clients send far larger max_tokens than they use, which locks budget needlessly (lower max_tokens, or budgeting.min_output_tokens). Above 1 means prompt tokens were under-counted: report it.',
          kind: 'timeseries',
          unit: 'percentunit',
          width: 12,
          min: 0,
          targets: [
            { expr: quantile(0.5, 'estimate_error_ratio'), legend: 'p50' },
            { expr: quantile(0.95, 'estimate_error_ratio'), legend: 'p95' },
            { expr: quantile(0.99, 'estimate_error_ratio'), legend: 'p99' },
          ],
        },
        {
          title: 'Mean estimate error ratio by endpoint',
          description: 'Average of actual / estimate per endpoint; embeddings have no output, so they sit near 1.',
          kind: 'timeseries',
          unit: 'percentunit',
          width: 6,
          min: 0,
          targets: [
            {
              expr: `${rate('estimate_error_ratio_sum', '', 'endpoint')} / ${rate('estimate_error_ratio_count', '', 'endpoint')}`,
              legend: '{{endpoint}}',
            },
          ],
        },
        {
          title: 'Output caps lowered to fit a budget',
          description:
            'Requests per second whose max_tokens the gateway lowered so the reservation fits what a budget has left. Rising values: a budget is nearly used up.',
          kind: 'timeseries',
          unit: 'reqps',
          width: 6,
          targets: [{ expr: rate('max_tokens_clamped_total'), legend: 'clamped' }],
        },
      ],
    },
  ],
};
