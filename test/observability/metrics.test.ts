/**
 * /metrics over HTTP: the optional token, bounded labels ("*" budgets summarised however many
 * users there are), histogram buckets, the observations behind overhead and estimate error, and
 * budget gauges following config reloads.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway } from '../../src/gateway.js';
import { startMockProvider } from '../../src/mock/server.js';
import type { RequestRecord } from '../../src/record.js';
import {
  ANTHROPIC_UPSTREAM_KEY,
  baseConfigYaml,
  eventually,
  OPENAI_UPSTREAM_KEY,
  type Stack,
  startStack,
  TEST_KEY,
  TEST_KEY_2,
} from '../helpers/stack.js';

const METRICS_TOKEN = 'scrape-token-metrics-test-0101';

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses Prometheus text format samples (enough for what the gateway writes). */
function parse(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match) throw new Error(`unparsable metrics line: ${line}`);
    const labels: Record<string, string> = {};
    for (const pair of (match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[pair[1]!] = pair[2]!;
    samples.push({ name: match[1]!, labels, value: Number(match[3]!.replace('+Inf', 'Infinity')) });
  }
  return samples;
}

async function scrape(url: string, token?: string): Promise<Sample[]> {
  const response = await fetch(
    `${url}/metrics`,
    token ? { headers: { authorization: `Bearer ${token}` } } : {},
  );
  expect(response.status).toBe(200);
  return parse(await response.text());
}

function one(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  const found = samples.filter(
    (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  );
  if (found.length !== 1) throw new Error(`${name} ${JSON.stringify(labels)}: ${found.length} samples`);
  return found[0]!.value;
}

function sum(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  return samples
    .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((total, s) => total + s.value, 0);
}

/** Series identities of the gateway's own metrics (process metrics left out: they vary by themselves). */
function seriesOf(samples: Sample[]): string[] {
  return samples
    .filter((s) => s.name.startsWith('llm_gateway_') && !s.name.startsWith('llm_gateway_process_'))
    .map((s) => `${s.name}${JSON.stringify(s.labels)}`)
    .sort();
}

describe('/metrics behind server.metrics_token', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ serverYaml: `, metrics_token: "${METRICS_TOKEN}"` });
  });
  afterAll(() => stack.close());

  it('answers 401 without the token or with a wrong one, and never echoes it', async () => {
    for (const authorization of [
      undefined,
      'Bearer wrong',
      `Bearer ${METRICS_TOKEN.slice(0, -1)}`,
      `Bearer ${METRICS_TOKEN}x`,
      METRICS_TOKEN,
      `Basic ${METRICS_TOKEN}`,
    ]) {
      const response = await fetch(
        `${stack.gateway.url}/metrics`,
        authorization ? { headers: { authorization } } : {},
      );
      const body = await response.text();
      expect({ authorization, status: response.status }).toEqual({ authorization, status: 401 });
      expect(body).not.toContain(METRICS_TOKEN);
      expect(body).not.toContain('llm_gateway_');
    }
  });

  it('serves Prometheus text with the token', async () => {
    const response = await fetch(`${stack.gateway.url}/metrics`, {
      headers: { authorization: `Bearer ${METRICS_TOKEN}` },
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(await response.text()).toContain('# TYPE llm_gateway_requests_total counter');
  });
});

describe('gateway metrics', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({
      extraYaml: `
budgets:
  - { id: per-user-daily, scope: { user: "*" }, limit_usd: 5, period: daily }
  - { id: data-monthly, scope: { team: data }, limit_usd: 50, period: monthly }
`,
    });
  });
  afterAll(() => stack.close());

  const ask = (user: string) =>
    stack
      .openai(TEST_KEY_2)
      .chat.completions.create(
        { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }], max_tokens: 50 },
        { headers: { 'x-gateway-user': user, 'x-mock-output-tokens': '20' } },
      );

  it('summarise a "*" budget: thirty users add no series, only counts', async () => {
    await ask('person-0');
    await eventually(async () => {
      expect(one(await scrape(stack.gateway.url), 'llm_gateway_budget_template_instances')).toBe(1);
    });
    const before = seriesOf(await scrape(stack.gateway.url));

    for (let i = 1; i < 30; i++) await ask(`person-${i}`);
    let after: Sample[] = [];
    await eventually(async () => {
      after = await scrape(stack.gateway.url);
      expect(one(after, 'llm_gateway_budget_template_instances', { budget: 'per-user-daily' })).toBe(30);
    });
    expect(seriesOf(after)).toEqual(before);
    const text = await (await fetch(`${stack.gateway.url}/metrics`)).text();
    expect(text).not.toMatch(/person-\d/);

    const spent = stack.records.reduce((total, r) => total + r.costNano, 0) / 1e9;
    expect(one(after, 'llm_gateway_budget_template_spent_usd', { budget: 'per-user-daily' })).toBeCloseTo(
      spent,
      12,
    );
    expect(one(after, 'llm_gateway_budget_spent_usd', { budget: 'data-monthly' })).toBeCloseTo(spent, 12);
    expect(one(after, 'llm_gateway_budget_limit_usd', { budget: 'data-monthly' })).toBe(50);
    // Besides the template series, only the drift counter names the budget: one per configured
    // budget (fleet-metrics.ts), never one per user.
    const perBudget = after.filter(
      (s) => s.labels.budget === 'per-user-daily' && !s.name.includes('template'),
    );
    expect(perBudget.map((s) => s.name)).toEqual(['llm_gateway_budget_limit_drift_total']);
  });

  it('observe overhead, upstream time and estimate error for every forwarded request', async () => {
    stack.records.length = 0;
    const anthropic = stack.anthropic(TEST_KEY);
    await anthropic.messages.create(
      { model: 'claude-haiku-4-5', max_tokens: 100, messages: [{ role: 'user', content: 'hello' }] },
      { headers: { 'x-mock-output-tokens': '25', 'x-mock-latency-ms': '30' } },
    );
    const stream = await stack.openai(TEST_KEY).chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'hello' }],
      max_tokens: 80,
      stream: true,
    });
    for await (const _ of stream) {
      // drain
    }
    await eventually(() => expect(stack.records.length).toBe(2));
    const samples = await scrape(stack.gateway.url);
    const anthropicRecord = stack.records.find((r) => r.provider === 'anthropic') as RequestRecord;

    // Buckets resolve 100 µs of overhead and two minutes of generation.
    const les = samples
      .filter((s) => s.name === 'llm_gateway_overhead_seconds_bucket' && s.labels.endpoint === '/v1/messages')
      .map((s) => s.labels.le);
    expect(les).toEqual(expect.arrayContaining(['0.0001', '0.00025', '0.001', '30', '120', '+Inf']));

    const messages = { endpoint: '/v1/messages', stream: 'false' };
    expect(one(samples, 'llm_gateway_overhead_seconds_count', messages)).toBe(1);
    const overhead = one(samples, 'llm_gateway_overhead_seconds_sum', messages);
    const total = one(samples, 'llm_gateway_request_duration_seconds_sum', messages);
    expect(overhead).toBeCloseTo((anthropicRecord.latencyMs - anthropicRecord.upstreamMs) / 1000, 9);
    expect(overhead).toBeGreaterThanOrEqual(0);
    expect(overhead).toBeLessThan(total);
    // The mock waited 30 ms before answering: that is the provider's time, not the gateway's.
    expect(
      one(samples, 'llm_gateway_upstream_ttfb_seconds_sum', { provider: 'anthropic' }),
    ).toBeGreaterThanOrEqual(0.03);
    expect(total - overhead).toBeGreaterThanOrEqual(0.03);

    // Actual over estimate: 25 of 100 output tokens (and the whole prompt) were used.
    const ratio = one(samples, 'llm_gateway_estimate_error_ratio_sum', { endpoint: '/v1/messages' });
    expect(ratio).toBeCloseTo(anthropicRecord.costNano / anthropicRecord.estimateNano, 9);
    expect(ratio).toBeGreaterThan(0.2);
    expect(ratio).toBeLessThan(0.5);

    expect(
      one(samples, 'llm_gateway_overhead_seconds_count', {
        endpoint: '/v1/chat/completions',
        stream: 'true',
      }),
    ).toBe(1);
    expect(sum(samples, 'llm_gateway_tokens_total', { kind: 'output', model: 'claude-haiku-4-5' })).toBe(25);
  });

  it('count store operations by operation, with every error series present from the start', async () => {
    const samples = await scrape(stack.gateway.url);
    expect(
      sum(samples, 'llm_gateway_store_operation_seconds_count', { store: 'sqlite', op: 'reserve' }),
    ).toBeGreaterThan(0);
    expect(
      sum(samples, 'llm_gateway_store_operation_seconds_count', { store: 'sqlite', op: 'settle' }),
    ).toBeGreaterThan(0);
    for (const op of ['reserve', 'settle', 'release', 'balances']) {
      expect(one(samples, 'llm_gateway_store_errors_total', { store: 'sqlite', op })).toBe(0);
    }
    expect(one(samples, 'llm_gateway_pending_settlements')).toBe(0);
  });
});

describe('budget gauges and config reloads', () => {
  it('a budget removed from the config leaves /metrics; an added one appears', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'llmgw-metrics-reload-'));
    const mock = await startMockProvider({
      openaiApiKey: OPENAI_UPSTREAM_KEY,
      anthropicApiKey: ANTHROPIC_UPSTREAM_KEY,
    });
    const path = join(dir, 'gateway.yaml');
    const write = (id: string) =>
      writeFileSync(
        path,
        baseConfigYaml(
          mock.url,
          { extraYaml: `budgets:\n  - { id: ${id}, scope: global, limit_usd: 3, period: monthly }\n` },
          dir,
        ),
      );
    write('first-budget');
    const gateway = await startGateway({ configPath: path, env: {}, watchConfig: false });
    try {
      const budgetsNow = async () =>
        (await scrape(gateway.url))
          .filter((s) => s.name === 'llm_gateway_budget_limit_usd')
          .map((s) => s.labels.budget);
      expect(await budgetsNow()).toEqual(['first-budget']);
      write('second-budget');
      expect(gateway.reload()).toMatchObject({ ok: true });
      await eventually(async () => expect(await budgetsNow()).toEqual(['second-budget']), 5000);
    } finally {
      await gateway.close();
      await mock.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
