import type { DashboardSpec } from './grafana.js';
import { quantile, rate } from './promql.js';

const P = 'provider=~"$provider"';

export const overview: DashboardSpec = {
  uid: 'llm-gateway-overview',
  title: 'LLM gateway / Overview',
  description: 'Traffic, errors, latency, the time the gateway adds, and the budget store.',
  tags: ['llm-gateway'],
  variables: [
    { name: 'job', label: 'Job', query: 'label_values(llm_gateway_requests_total, job)' },
    { name: 'provider', label: 'Provider', query: 'label_values(llm_gateway_requests_total, provider)' },
  ],
  rows: [
    {
      title: 'Traffic',
      panels: [
        {
          title: 'Requests per second by endpoint',
          description:
            'Proxied requests answered per second, by API endpoint. A sudden drop with steady client traffic means requests fail before the gateway (load balancer, DNS); a spike, a runaway client: check spend by team.',
          kind: 'timeseries',
          unit: 'reqps',
          width: 9,
          targets: [{ expr: rate('requests_total', P, 'endpoint'), legend: '{{endpoint}}' }],
        },
        {
          title: 'Responses by status',
          description:
            'Answers per second by HTTP status. 429 = budget exhausted, 401 = bad virtual key, 503 = budget store down (fail-closed), 502/504 = provider unreachable or slow, other 4xx/5xx = relayed from the provider.',
          kind: 'timeseries',
          unit: 'reqps',
          width: 9,
          stack: true,
          targets: [{ expr: rate('requests_total', P, 'status'), legend: '{{status}}' }],
        },
        {
          title: 'Success ratio',
          description:
            'Share of requests answered 2xx over the rate interval (orange below 98%, red below 90%). When it drops, "Gateway errors by reason" and "Provider errors by provider and status" show who refuses.',
          kind: 'stat',
          unit: 'percentunit',
          width: 6,
          decimals: 1,
          thresholds: [
            [0, 'red'],
            [0.9, 'orange'],
            [0.98, 'green'],
          ],
          targets: [{ expr: `${rate('requests_total', `${P}, status=~"2.."`)} / ${rate('requests_total', P)}` }],
        },
        {
          title: 'Requests per second by served model',
          description:
            'Requests by the model that served them (after downgrades). A shift towards cheaper models means budgets passed their downgrade thresholds.',
          kind: 'timeseries',
          unit: 'reqps',
          width: 24,
          height: 7,
          targets: [{ expr: rate('requests_total', `${P}, model!="none"`, 'model'), legend: '{{model}}' }],
        },
      ],
    },
    {
      title: 'Errors',
      panels: [
        {
          title: 'Gateway errors by reason',
          description:
            'Requests the gateway itself answered with an error, by code. budget_exceeded is expected at the end of a period; unauthorized bursts suggest a leaked or revoked key in use; store_unavailable means the budget store is down and requests fail closed.',
          kind: 'timeseries',
          unit: 'reqps',
          width: 8,
          targets: [{ expr: rate('rejections_total', '', 'reason'), legend: '{{reason}}' }],
        },
        {
          title: 'Provider errors by provider and status',
          description:
            'Errors relayed from the providers (their status), 502 when unreachable, 504 when they did not answer in time. 429 = the provider rate-limits the gateway key; 401 = the provider key is wrong or revoked; 5xx = provider outage.',
          kind: 'timeseries',
          unit: 'reqps',
          width: 8,
          targets: [
            { expr: rate('upstream_errors_total', P, 'provider, status'), legend: '{{provider}} {{status}}' },
          ],
        },
        {
          title: 'Provider error ratio',
          description:
            'Share of forwarded requests that ended in a provider 5xx, 429 or timeout, per provider. Alerted above 5% (LlmGatewayProviderErrorRate). Check the provider status page; consider a fallback model.',
          kind: 'timeseries',
          unit: 'percentunit',
          width: 8,
          min: 0,
          targets: [
            {
              expr: `${rate('upstream_errors_total', `${P}, status=~"5..|429"`, 'provider')} / ${rate('requests_total', `${P}, provider!="none"`, 'provider')}`,
              legend: '{{provider}}',
            },
          ],
        },
      ],
    },
    {
      title: 'Latency',
      panels: [
        {
          title: 'Request latency',
          description:
            'Time from request to the last byte, all endpoints (streams included, so long generations dominate p99). Compare with "Upstream time to first byte": when both rise, the provider is slow; when only this rises, look at overhead and the store.',
          kind: 'timeseries',
          unit: 's',
          width: 12,
          targets: [
            { expr: quantile(0.5, 'request_duration_seconds'), legend: 'p50' },
            { expr: quantile(0.95, 'request_duration_seconds'), legend: 'p95' },
            { expr: quantile(0.99, 'request_duration_seconds'), legend: 'p99' },
          ],
        },
        {
          title: 'p95 latency by endpoint and streaming',
          description:
            'p95 request latency per endpoint, streamed and not apart. Streams last as long as the generation; compare like with like.',
          kind: 'timeseries',
          unit: 's',
          width: 12,
          targets: [
            {
              expr: quantile(0.95, 'request_duration_seconds', '', 'endpoint, stream'),
              legend: '{{endpoint}} stream={{stream}}',
            },
          ],
        },
        {
          title: 'Gateway overhead',
          description:
            'Time the gateway adds to a forwarded request: total minus the time waiting on the provider (auth, parsing, token counting, the budget reservation and settlement). Sub-millisecond is normal; alerted when p99 stays above 25 ms (LlmGatewayOverheadHigh). When high: check store latency, CPU saturation, very large prompts.',
          kind: 'timeseries',
          unit: 's',
          width: 12,
          targets: [
            { expr: quantile(0.5, 'overhead_seconds'), legend: 'p50' },
            { expr: quantile(0.99, 'overhead_seconds'), legend: 'p99' },
          ],
        },
        {
          title: 'Upstream time to first byte by provider',
          description:
            'Time until the provider sent its response headers. Rising values are the provider getting slower (or the gateway host network); nothing to fix in the gateway.',
          kind: 'timeseries',
          unit: 's',
          width: 12,
          targets: [
            { expr: quantile(0.5, 'upstream_ttfb_seconds', P, 'provider'), legend: '{{provider}} p50' },
            { expr: quantile(0.95, 'upstream_ttfb_seconds', P, 'provider'), legend: '{{provider}} p95' },
          ],
        },
      ],
    },
    {
      title: 'Budget store',
      panels: [
        {
          title: 'Store latency p99 by operation',
          description:
            'p99 latency of budget store calls (reserve and settle are on every request). SQLite should stay well under a millisecond; Redis about one network round trip. Rising reserve latency raises gateway overhead: check the Redis CPU (one core runs every script) and the network.',
          kind: 'timeseries',
          unit: 's',
          width: 8,
          targets: [
            { expr: quantile(0.99, 'store_operation_seconds', '', 'store, op'), legend: '{{store}} {{op}}' },
          ],
        },
        {
          title: 'Store operations per second',
          description:
            'Budget store calls per second by operation: about one reserve and one settle (or release) per request, plus the balance reads of metrics scrapes and /v1/budget.',
          kind: 'timeseries',
          unit: 'ops',
          width: 8,
          targets: [{ expr: rate('store_operation_seconds_count', '', 'op'), legend: '{{op}}' }],
        },
        {
          title: 'Store errors per second',
          description:
            'Failed or timed-out store calls. Any sustained value is an incident: with on_unavailable: reject requests get 503; with allow they are served uncounted. Check /readyz, the Redis or disk health, and store.timeout_ms.',
          kind: 'timeseries',
          unit: 'ops',
          width: 8,
          thresholds: [
            [0, 'green'],
            [0.001, 'red'],
          ],
          targets: [{ expr: rate('store_errors_total', '', 'store, op'), legend: '{{store}} {{op}}' }],
        },
        {
          title: 'Settlements waiting for the store',
          description:
            'Settles and releases queued because the store failed, and how many are queued per second. They are retried until the store answers; a queue that does not drain means spend is not being recorded.',
          kind: 'timeseries',
          unit: 'short',
          width: 24,
          height: 6,
          targets: [
            { expr: 'sum(llm_gateway_pending_settlements{job=~"$job"})', legend: 'pending' },
            { expr: rate('settle_retries_total', '', 'operation'), legend: 'queued/s {{operation}}' },
          ],
        },
      ],
    },
    {
      title: 'Gateway processes',
      panels: [
        {
          title: 'CPU per instance',
          description:
            'CPU seconds per second used by each gateway process (1 = one full core). Node runs the request path on one core: near 1, add instances behind the load balancer.',
          kind: 'timeseries',
          unit: 'percentunit',
          width: 8,
          targets: [
            { expr: rate('process_process_cpu_seconds_total', '', 'instance'), legend: '{{instance}}' },
          ],
        },
        {
          title: 'Event loop lag p99 per instance',
          description:
            'How late the event loop runs timers: every request waits this long on top of its own work. Above a few milliseconds the instance is saturated (see CPU) or blocked by a large synchronous task.',
          kind: 'timeseries',
          unit: 's',
          width: 8,
          targets: [
            {
              expr: 'max by (instance) (llm_gateway_process_nodejs_eventloop_lag_p99_seconds{job=~"$job"})',
              legend: '{{instance}}',
            },
          ],
        },
        {
          title: 'Resident memory per instance',
          description:
            'Memory held by each gateway process. Steady growth under steady traffic is a leak: note the version and restart the instance.',
          kind: 'timeseries',
          unit: 'bytes',
          width: 8,
          targets: [
            {
              expr: 'max by (instance) (llm_gateway_process_process_resident_memory_bytes{job=~"$job"})',
              legend: '{{instance}}',
            },
          ],
        },
      ],
    },
  ],
};
