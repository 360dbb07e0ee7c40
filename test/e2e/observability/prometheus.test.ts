/**
 * The proof that the dashboards and alert rules work: a real Prometheus scrapes a real gateway
 * (Redis store, mock provider) under traffic that makes every series exist (successes, streams,
 * a downgrade, a clamp, rejections, a provider error, an expired reservation, a store outage),
 * then every panel query, every template variable query and every alert rule expression is
 * evaluated through Prometheus's HTTP API. Any invalid or empty expression fails the test.
 */
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { periodOf } from '../../../src/budget/periods.js';
import type { RequestRecord } from '../../../src/record.js';
import { type StartedRedis, startRedis } from '../../helpers/redis.js';
import { type Stack, startStack, TEST_KEY, TEST_KEY_2 } from '../../helpers/stack.js';
import {
  loadAlertRules,
  loadDashboards,
  panelQueries,
  RULES_FILE,
  substitute,
  variableQuery,
  withoutThreshold,
} from '../../observability/expressions.js';
import {
  type PromSample,
  promtool,
  requirePrometheus,
  type StartedPrometheus,
  startPrometheus,
} from './prometheus.js';

const METRICS_TOKEN = 'metrics-token-for-prometheus-test';

const BUDGETS = `
budgeting: { min_output_tokens: 16 }
budgets:
  - id: web-monthly
    scope: { team: web }
    limit_usd: 0.01
    period: monthly
    thresholds:
      - { at: 0.1, alert: true, downgrade: { gpt-4o: gpt-4o-mini } }
  - { id: data-small, scope: { team: data }, limit_usd: 0.0002, period: monthly }
  - { id: per-user-daily, scope: { user: "*" }, limit_usd: 5, period: daily }
  - { id: everything, scope: global, limit_usd: 100, period: monthly }
`;

const FIXED_BUDGETS = ['web-monthly', 'data-small', 'everything'];
const messages = [{ role: 'user' as const, content: 'Say something short.' }];

let redis: StartedRedis;
let stack: Stack;
let prom: StartedPrometheus;

async function status(promise: Promise<unknown>): Promise<number> {
  try {
    await promise;
    return 200;
  } catch (error) {
    if (error instanceof OpenAI.APIError && error.status !== undefined) return error.status;
    const withStatus = error as { status?: number };
    if (typeof withStatus.status === 'number') return withStatus.status;
    throw error;
  }
}

async function waitUntil(what: string, check: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      if (await check()) return;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${String(lastError ?? '')}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function value(expr: string): Promise<number> {
  const result = await prom.query(expr);
  if (result.length !== 1) throw new Error(`${expr}: expected one series, got ${result.length}`);
  return Number(result[0]!.value[1]);
}

/**
 * Requests of every steady kind: successes, streams on both APIs, an embedding, a provider 500, a
 * bad key, an unknown model. Run twice with a scrape in between, as real traffic is: a counter's
 * first sample only founds its series, so rates and quantiles need increases seen across scrapes.
 */
async function steadyTraffic(): Promise<void> {
  const alpha = stack.openai(TEST_KEY);
  const anthropic = stack.anthropic(TEST_KEY);
  const out = (n: number) => ({ headers: { 'x-mock-output-tokens': String(n) } });
  expect(
    await status(alpha.chat.completions.create({ model: 'gpt-4o-mini', messages, max_tokens: 40 }, out(20))),
  ).toBe(200);
  const stream = await alpha.chat.completions.create(
    { model: 'gpt-4o-mini', messages, max_tokens: 50, stream: true, stream_options: { include_usage: true } },
    out(30),
  );
  for await (const _ of stream) {
    // drain
  }
  await anthropic.messages
    .stream({ model: 'claude-haiku-4-5', max_tokens: 50, messages }, out(30))
    .finalMessage();
  expect(
    await status(anthropic.messages.create({ model: 'claude-haiku-4-5', max_tokens: 40, messages }, out(10))),
  ).toBe(200);
  expect(await status(alpha.embeddings.create({ model: 'text-embedding-3-small', input: 'hello' }))).toBe(
    200,
  );
  expect(
    await status(
      alpha.chat.completions.create(
        { model: 'gpt-4o-mini', messages, max_tokens: 20 },
        { headers: { 'x-mock-fail': 'status:500' } },
      ),
    ),
  ).toBe(500);
  expect(
    await status(stack.openai('sk-gw-nobody').chat.completions.create({ model: 'gpt-4o-mini', messages })),
  ).toBe(401);
  expect(await status(alpha.chat.completions.create({ model: 'no-such-model', messages }))).toBe(404);
}

/** Budget events, each once: a threshold and downgrade, a clamp and rejection, an expired lease. */
async function budgetEvents(): Promise<void> {
  const alpha = stack.openai(TEST_KEY);
  const bravo = stack.openai(TEST_KEY_2);
  // web-monthly: this gpt-4o call passes the 10% threshold (alert), the next one is downgraded.
  expect(
    await status(
      alpha.chat.completions.create(
        { model: 'gpt-4o', messages, max_tokens: 100 },
        { headers: { 'x-mock-output-tokens': '100' } },
      ),
    ),
  ).toBe(200);
  const downgraded = await alpha.chat.completions
    .create({ model: 'gpt-4o', messages, max_tokens: 100 }, { headers: { 'x-mock-output-tokens': '20' } })
    .withResponse();
  expect(downgraded.response.headers.get('x-gateway-downgraded-from')).toBe('gpt-4o');

  // data-small: spend until the budget rejects (the last affordable call gets its cap lowered).
  let rejected = false;
  for (let i = 0; i < 12 && !rejected; i++) {
    const code = await status(
      bravo.chat.completions.create(
        { model: 'gpt-4o-mini', messages, max_tokens: 100 },
        { headers: { 'x-mock-output-tokens': '100', 'x-gateway-user': 'bob' } },
      ),
    );
    if (code === 429) rejected = true;
    else expect(code).toBe(200);
  }
  expect(rejected).toBe(true);

  // A reservation whose process "died": its lease expired, so the reaper settles it.
  const now = Date.now();
  const period = periodOf('monthly', 'UTC', now);
  await stack.gateway.store.reserve({
    reservationId: 'obs-test-expired',
    lines: [
      {
        instance: 'everything',
        budgetId: 'everything',
        period: period.id,
        previousPeriod: null,
        limitNano: 100_000_000_000,
        rolloverMaxNano: 0,
        downgradeAtNano: -1,
        ttlSeconds: 86_400,
      },
    ],
    fixedPico: 1000,
    outputPico: 0,
    requestedCap: 0,
    minCap: 0,
    nowMs: now - 10_000,
    leaseExpiresAtMs: now - 5_000,
  });
  await stack.gateway.engine.reapNow();
}

/** A store outage: a request fails closed (503) and the store errors are counted; then recovery. */
async function storeOutage(): Promise<void> {
  await redis.stop();
  const alpha = stack.openai(TEST_KEY);
  expect(
    await status(alpha.chat.completions.create({ model: 'gpt-4o-mini', messages, max_tokens: 10 })),
  ).toBe(503);
  await redis.restart();
  await waitUntil(
    'the gateway to reach Redis again',
    async () => (await fetch(`${stack.gateway.url}/readyz`)).ok,
  );
}

async function scraped(): Promise<void> {
  const answered = records().length;
  await waitUntil(
    'Prometheus to scrape the latest requests',
    async () => (await value('sum(llm_gateway_requests_total)')) === answered,
  );
}

function records(): RequestRecord[] {
  return stack.records;
}

beforeAll(async () => {
  requirePrometheus();
  redis = await startRedis();
  stack = await startStack({
    store: { type: 'redis', url: redis.url, prefix: 'obs' },
    storeExtra: ', timeout_ms: 300',
    serverYaml: `, metrics_token: "${METRICS_TOKEN}"`,
    extraYaml: BUDGETS,
  });
  prom = await startPrometheus({
    target: new URL(stack.gateway.url).host,
    metricsToken: METRICS_TOKEN,
    ruleFiles: [RULES_FILE],
  });
  await waitUntil(
    'Prometheus to scrape the gateway',
    async () => (await value('up{job="llm-gateway"}')) === 1,
  );
  await steadyTraffic();
  await scraped();
  await budgetEvents();
  await steadyTraffic();
  await storeOutage();
  const answered = records().length;
  // Every answered request, the budgets (back after the outage) and the rules' verdicts are in.
  await waitUntil('Prometheus to hold the final state', async () => {
    const checks = await Promise.all([
      value('sum(llm_gateway_requests_total)'),
      value('count(llm_gateway_budget_limit_usd)'),
      value('count(ALERTS{alertname="LlmGatewayBudgetNearlyExhausted", budget="data-small"})'),
      // rate() needs two samples: the newest series too.
      value('min(count_over_time(llm_gateway_requests_total[1m]))'),
    ]);
    return checks[0] === answered && checks[1] === FIXED_BUDGETS.length && checks[2] === 1 && checks[3] >= 2;
  });
}, 120_000);

afterAll(async () => {
  await prom?.close();
  await stack?.close();
  await redis?.close();
});

function describeResult(result: PromSample[]): string {
  return result
    .slice(0, 3)
    .map((s) => `${JSON.stringify(s.metric)} ${s.value[1]}`)
    .join('; ');
}

/** Valid, at least one series, and at least one value that is a number (not NaN from empty rates). */
async function expectData(where: string, expr: string): Promise<PromSample[]> {
  let result: PromSample[];
  try {
    result = await prom.query(expr);
  } catch (error) {
    throw new Error(`${where}: invalid PromQL: ${(error as Error).message}\n  ${expr}`);
  }
  if (result.length === 0) throw new Error(`${where}: no series\n  ${expr}`);
  if (!result.some((s) => s.value[1] !== 'NaN')) {
    throw new Error(`${where}: only NaN (${describeResult(result)})\n  ${expr}`);
  }
  return result;
}

describe('dashboards and alert rules against a real Prometheus', () => {
  it('every panel query of every dashboard is valid PromQL and returns data', async () => {
    const dashboards = loadDashboards();
    const queries = dashboards.flatMap(panelQueries);
    expect(queries.length).toBeGreaterThan(40);
    const failures: string[] = [];
    for (const q of queries) {
      await expectData(q.where, substitute(q.expr)).catch((e: Error) => failures.push(e.message));
    }
    expect(failures).toEqual([]);
  });

  it('every template variable query finds values', async () => {
    const failures: string[] = [];
    let count = 0;
    for (const dashboard of loadDashboards()) {
      for (const variable of dashboard.templating.list.filter((v) => v.type === 'query')) {
        count++;
        await expectData(`${dashboard.title} / $${variable.name}`, variableQuery(variable)).catch(
          (e: Error) => failures.push(e.message),
        );
      }
    }
    expect(count).toBeGreaterThan(5);
    expect(failures).toEqual([]);
  });

  it('every alert rule expression is valid and has series to judge (thresholds as bool comparisons)', async () => {
    const rules = loadAlertRules();
    expect(rules.length).toBeGreaterThanOrEqual(8);
    const failures: string[] = [];
    for (const rule of rules) {
      const expr = withoutThreshold(rule.expr);
      expect(expr, rule.alert).toMatch(/ bool /);
      await expectData(`alert ${rule.alert}`, expr).catch((e: Error) => failures.push(e.message));
    }
    expect(failures).toEqual([]);
  });

  it('Prometheus loaded every rule and evaluates each without error', async () => {
    const data = await prom.get<{
      groups: Array<{ rules: Array<{ name: string; health: string; lastError?: string; type: string }> }>;
    }>('/api/v1/rules');
    const loaded = data.groups.flatMap((g) => g.rules);
    expect(loaded.map((r) => r.name).sort()).toEqual(
      loadAlertRules()
        .map((r) => r.alert)
        .sort(),
    );
    for (const rule of loaded)
      expect({ name: rule.name, health: rule.health, error: rule.lastError ?? '' }).toEqual({
        name: rule.name,
        health: 'ok',
        error: '',
      });
  });

  it('the budget near exhaustion is alerted, and healthy budgets are not', async () => {
    const pending = await prom.query('ALERTS{alertname="LlmGatewayBudgetNearlyExhausted"}');
    expect(pending.map((s) => s.metric.budget)).toEqual(['data-small']);
  });

  it('the series hold what the gateway did', async () => {
    const all = records();
    const count = (pred: (r: RequestRecord) => boolean) => all.filter(pred).length;
    const usd = (pred: (r: RequestRecord) => boolean) =>
      all.filter(pred).reduce((sum, r) => sum + r.costNano, 0) / 1e9;

    expect(await value('sum(llm_gateway_requests_total)')).toBe(all.length);
    expect(await value('sum(llm_gateway_rejections_total{reason="budget_exceeded"})')).toBe(
      count((r) => r.errorCode === 'budget_exceeded'),
    );
    expect(await value('sum(llm_gateway_rejections_total{reason="store_unavailable"})')).toBe(1);
    expect(await value('sum(llm_gateway_rejections_total{reason="unauthorized"})')).toBe(
      count((r) => r.errorCode === 'unauthorized'),
    );
    expect(await value('sum(llm_gateway_upstream_errors_total{provider="openai", status="500"})')).toBe(
      count((r) => r.errorCode === 'provider_error' && r.status === 500),
    );
    expect(count((r) => r.errorCode === 'provider_error')).toBe(2);
    expect(await value('sum(llm_gateway_downgrades_total{from="gpt-4o", to="gpt-4o-mini"})')).toBe(
      count((r) => r.downgraded),
    );
    expect(count((r) => r.downgraded)).toBe(1);
    expect(await value('sum(llm_gateway_reservations_expired_total)')).toBe(1);
    expect(await value('sum(llm_gateway_store_errors_total{op="reserve"})')).toBeGreaterThanOrEqual(1);
    expect(await value('sum(llm_gateway_alerts_total{type="threshold"})')).toBe(1);
    expect(await value('sum(llm_gateway_alerts_total{type="exhausted"})')).toBe(1);

    const spent = usd(() => true);
    expect(await value('sum(llm_gateway_cost_usd_total)')).toBeCloseTo(spent, 12);
    expect(await value('llm_gateway_budget_spent_usd{budget="data-small"}')).toBeCloseTo(
      usd((r) => r.team === 'data'),
      12,
    );
    // The reaped reservation charged 1 nano-USD (1000 pico) to "everything".
    expect(await value('llm_gateway_budget_spent_usd{budget="everything"}')).toBeCloseTo(spent + 1e-9, 12);
    expect(await value('llm_gateway_budget_limit_usd{budget="data-small"}')).toBeCloseTo(0.0002, 12);
    expect(await value('llm_gateway_budget_remaining_ratio{budget="data-small"}')).toBeLessThan(0.1);
    expect(await value('llm_gateway_budget_remaining_ratio{budget="everything"}')).toBeGreaterThan(0.99);

    // The "*" budget is one summary, not a series per user.
    expect(await value('llm_gateway_budget_template_instances{budget="per-user-daily"}')).toBe(2);
    expect(await value('llm_gateway_budget_template_spent_usd{budget="per-user-daily"}')).toBeCloseTo(
      usd((r) => r.user !== null),
      12,
    );
    expect(await prom.query('llm_gateway_budget_spent_usd{budget="per-user-daily"}')).toEqual([]);
    expect(await prom.query('{__name__=~"llm_gateway_.+", user!=""}')).toEqual([]);
  });
});

describe('promtool', () => {
  it('check metrics passes on the gateway /metrics output', async () => {
    const response = await fetch(`${stack.gateway.url}/metrics`, {
      headers: { authorization: `Bearer ${METRICS_TOKEN}` },
    });
    expect(response.status).toBe(200);
    const text = await response.text();
    // promtool accepts empty input: make sure the whole picture is there first.
    for (const name of FIXED_BUDGETS)
      expect(text).toContain(`llm_gateway_budget_limit_usd{budget="${name}"}`);
    expect(text).toContain('llm_gateway_request_duration_seconds_bucket');
    expect(text).toContain('llm_gateway_process_process_cpu_user_seconds_total');
    await promtool(['check', 'metrics'], text);
  });

  it('check rules passes on the rules file', async () => {
    const output = await promtool(['check', 'rules', RULES_FILE]);
    expect(output).toContain(`SUCCESS: ${loadAlertRules().length} rules found`);
  });
});
