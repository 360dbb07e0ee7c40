import type { DashboardSpec } from './grafana.js';
import { increase, perBudget, rate } from './promql.js';

const remainingUsd = `clamp_min(${perBudget('max', 'budget_limit_usd')} - ${perBudget('max', 'budget_spent_usd')} - ${perBudget('max', 'budget_reserved_usd')}, 0)`;

/** +Inf means the forecast does not run the budget out before it resets. */
const ETA_MAPPINGS = [
  { type: 'range', options: { from: 315_360_000, to: null, result: { text: 'not before reset', color: 'green' } } },
];

export const budgets: DashboardSpec = {
  uid: 'llm-gateway-budgets',
  title: 'LLM gateway / Budgets',
  description:
    'Budgets from the config and the admin API: how much is used and left, when they run out, and what the gateway did about it (downgrades, clamps, rejections, alerts).',
  tags: ['llm-gateway'],
  variables: [
    { name: 'job', label: 'Job', query: 'label_values(llm_gateway_requests_total, job)' },
    {
      name: 'budget',
      label: 'Budget',
      query: 'label_values({__name__=~"llm_gateway_budget_limit_usd|llm_gateway_budget_template_instances"}, budget)',
    },
  ],
  rows: [
    {
      title: 'Budgets',
      panels: [
        {
          title: 'Budgets at a glance',
          description:
            'Each budget in its current period: effective limit (with rollover and top-ups), settled spend, reserved by requests in flight, share left, and the forecast time to exhaustion.',
          kind: 'table',
          width: 24,
          height: 8,
          columns: {
            A: ['Limit', 'currencyUSD'],
            B: ['Spent', 'currencyUSD'],
            C: ['Reserved', 'currencyUSD'],
            D: ['Left', 'percentunit'],
            E: ['Runs out in', 's', ETA_MAPPINGS],
          },
          targets: [
            { expr: perBudget('max', 'budget_limit_usd') },
            { expr: perBudget('max', 'budget_spent_usd') },
            { expr: perBudget('max', 'budget_reserved_usd') },
            { expr: perBudget('min', 'budget_remaining_ratio') },
            { expr: perBudget('min', 'budget_exhaustion_eta_seconds') },
          ],
        },
        {
          title: 'Used share of each budget',
          description:
            'Spent plus reserved over the effective limit. Downgrade thresholds apply from their "at" ratio; at 100% requests are rejected (429). Near the end of a period with weeks left: raise the limit, top up, or tighten the heaviest keys.',
          kind: 'bargauge',
          unit: 'percentunit',
          width: 8,
          min: 0,
          max: 1,
          thresholds: [
            [0, 'green'],
            [0.8, 'orange'],
            [0.95, 'red'],
          ],
          targets: [{ expr: `1 - ${perBudget('min', 'budget_remaining_ratio')}`, legend: '{{budget}}', instant: true }],
        },
        {
          title: 'Remaining (USD)',
          description: 'What each budget has left in this period, reservations of requests in flight deducted.',
          kind: 'bargauge',
          unit: 'currencyUSD',
          width: 8,
          min: 0,
          targets: [{ expr: remainingUsd, legend: '{{budget}}', instant: true }],
        },
        {
          title: 'Time to exhaustion',
          description:
            'When the current burn rate runs each budget out (0 = exhausted now; "not before reset" = it lasts the period). Alerted under a day (LlmGatewayBudgetExhaustionForecast): raise the limit, or lower the downgrade threshold so cheaper models take over sooner.',
          kind: 'bargauge',
          unit: 's',
          width: 8,
          min: 0,
          thresholds: [
            [0, 'red'],
            [3600, 'orange'],
            [86_400, 'green'],
          ],
          mappings: ETA_MAPPINGS,
          targets: [
            { expr: perBudget('min', 'budget_exhaustion_eta_seconds'), legend: '{{budget}}', instant: true },
          ],
        },
        {
          title: 'Spent and limit over time',
          description:
            'Settled spend against the effective limit. The spend line flattens at the limit when requests get rejected; a step up in the limit is a top-up or rollover.',
          kind: 'timeseries',
          unit: 'currencyUSD',
          width: 16,
          targets: [
            { expr: perBudget('max', 'budget_spent_usd'), legend: '{{budget}} spent' },
            { expr: perBudget('max', 'budget_limit_usd'), legend: '{{budget}} limit' },
          ],
        },
        {
          title: 'Reserved by requests in flight',
          description:
            'Worst-case estimates held by requests not yet settled. High values with little traffic mean leases of dead requests: they are settled when they expire (see "Expired reservations").',
          kind: 'timeseries',
          unit: 'currencyUSD',
          width: 8,
          targets: [{ expr: perBudget('max', 'budget_reserved_usd'), legend: '{{budget}}' }],
        },
      ],
    },
    {
      title: 'Per-user and per-key budgets ("*" scopes)',
      panels: [
        {
          title: 'Instances this period',
          description:
            'How many users (or keys, teams, tags) have an instance of each "*" budget this period. Summarised here: there is no series per user.',
          kind: 'timeseries',
          unit: 'short',
          width: 6,
          targets: [{ expr: perBudget('max', 'budget_template_instances'), legend: '{{budget}}' }],
        },
        {
          title: 'Spend over all instances',
          description: 'Settled spend summed over every instance of each "*" budget.',
          kind: 'timeseries',
          unit: 'currencyUSD',
          width: 6,
          targets: [{ expr: perBudget('max', 'budget_template_spent_usd'), legend: '{{budget}}' }],
        },
        {
          title: 'Tightest instance: share left',
          description:
            'The remaining share of the instance with the least left. 0 means at least one user is being rejected; see the next panel for how many.',
          kind: 'timeseries',
          unit: 'percentunit',
          width: 6,
          min: 0,
          max: 1,
          targets: [{ expr: perBudget('min', 'budget_template_min_remaining_ratio'), legend: '{{budget}}' }],
        },
        {
          title: 'Exhausted instances',
          description:
            'Users (or keys) with nothing left in their "*" budget. Many at once: the per-user limit may be too low for normal use.',
          kind: 'timeseries',
          unit: 'short',
          width: 6,
          targets: [{ expr: perBudget('max', 'budget_template_exhausted_instances'), legend: '{{budget}}' }],
        },
      ],
    },
    {
      title: 'What the gateway did',
      panels: [
        {
          title: 'Downgrades per second',
          description:
            'Requests served by a cheaper model because a budget passed a downgrade threshold, by requested and served model. Expected near the end of a period; early in a period the threshold is too low for the traffic.',
          kind: 'timeseries',
          unit: 'reqps',
          width: 8,
          targets: [{ expr: rate('downgrades_total', '', 'from, to'), legend: '{{from}} → {{to}}' }],
        },
        {
          title: 'Rejections by reason',
          description:
            'Requests refused by the gateway. budget_exceeded: a budget is used up (the client gets 429 with the reset time); store_unavailable: the store is down and on_unavailable is reject.',
          kind: 'timeseries',
          unit: 'reqps',
          width: 8,
          targets: [{ expr: rate('rejections_total', '', 'reason'), legend: '{{reason}}' }],
        },
        {
          title: 'Budget rejections in the time range',
          description: 'Requests refused with 429 budget_exceeded over the time range.',
          kind: 'stat',
          unit: 'short',
          width: 4,
          thresholds: [
            [0, 'green'],
            [1, 'orange'],
          ],
          targets: [{ expr: increase('rejections_total', 'reason="budget_exceeded"'), instant: true }],
        },
        {
          title: 'Expired reservations in the time range',
          description:
            'Reservations settled at their reserved amount because their lease ran out: a gateway process died (or lost the store) mid-request. Non-zero without a crash or outage: check lease renewals (llm_gateway_lease_renewals_total), clock sync and the retry queue.',
          kind: 'stat',
          unit: 'short',
          width: 4,
          thresholds: [
            [0, 'green'],
            [1, 'orange'],
          ],
          targets: [{ expr: increase('reservations_expired_total'), instant: true }],
        },
        {
          title: 'Budget alert events',
          description:
            'Alerts the gateway raised in the time range: threshold (a budget passed an alerting "at"), exhausted, forecast, anomaly. Each fires once per budget period; webhooks deliver them.',
          kind: 'bargauge',
          unit: 'short',
          width: 8,
          targets: [{ expr: increase('alerts_total', '', 'type'), legend: '{{type}}', instant: true }],
        },
        {
          title: 'Requests served without counting (fail-open)',
          description:
            'Requests forwarded although the store could not reserve (store.on_unavailable: allow). Their spend is in no budget: if this is not zero, the store had an outage; compare with provider invoices.',
          kind: 'stat',
          unit: 'short',
          width: 4,
          thresholds: [
            [0, 'green'],
            [1, 'red'],
          ],
          targets: [{ expr: increase('unrecorded_requests_total'), instant: true }],
        },
        {
          title: 'Prometheus alerts pending or firing',
          description:
            'The LlmGateway* alert rules (dashboards/alerts.rules.yml) pending or firing now, by state. Empty is good. Needs the rules loaded in this Prometheus.',
          kind: 'table',
          width: 12,
          height: 6,
          columns: { A: ['Alerts', 'short'] },
          targets: [{ expr: 'sum by (alertname, alertstate, budget) (ALERTS{alertname=~"LlmGateway.*"})' }],
        },
      ],
    },
  ],
};
