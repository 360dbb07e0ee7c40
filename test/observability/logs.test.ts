/**
 * Logs: one structured pino line per request with the ledger's fields and the request id, and no
 * secret anywhere an operator or a client can read: not in the logs (at trace level), not in
 * /metrics, not in error bodies or headers of failed auth and provider errors.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Gateway, startGateway } from '../../src/gateway.js';
import { createLogger } from '../../src/logger.js';
import { type MockProvider, startMockProvider } from '../../src/mock/server.js';
import type { RequestRecord } from '../../src/record.js';
import {
  ADMIN_TOKEN,
  ANTHROPIC_UPSTREAM_KEY,
  baseConfigYaml,
  eventually,
  OPENAI_UPSTREAM_KEY,
  TEST_KEY,
  TEST_KEY_2,
} from '../helpers/stack.js';

const WEBHOOK_SECRET = 'whsec-observability-test-5151';
const METRICS_TOKEN = 'metrics-token-observability-4242';
/** A key a client sends that the gateway does not know: still a credential, never logged. */
const WRONG_KEY = 'sk-gw-wrong-but-secret-7373';

const SECRETS = {
  OPENAI_UPSTREAM_KEY,
  ANTHROPIC_UPSTREAM_KEY,
  TEST_KEY,
  TEST_KEY_2,
  ADMIN_TOKEN,
  WEBHOOK_SECRET,
  METRICS_TOKEN,
  WRONG_KEY,
};

let mock: MockProvider;
/** A provider that refuses the gateway's key, so its 401 is relayed. */
let refusing: MockProvider;
let gateway: Gateway;
let dir: string;
const lines: string[] = [];
const records: RequestRecord[] = [];
/** Everything clients were answered: status lines, headers and bodies. */
const answers: string[] = [];

async function call(
  path: string,
  init: RequestInit & { headers?: Record<string, string> },
): Promise<Response> {
  const response = await fetch(`${gateway.url}${path}`, init);
  const body = await response.text();
  answers.push(`${response.status} ${JSON.stringify([...response.headers])} ${body}`);
  return new Response(body, { status: response.status, headers: response.headers });
}

function chat(key: string, extra: Record<string, unknown> = {}, headers: Record<string, string> = {}) {
  return call('/v1/chat/completions', {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}`, ...headers },
    body: JSON.stringify({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'hi' }],
      max_tokens: 20,
      ...extra,
    }),
  });
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'llmgw-logs-'));
  mock = await startMockProvider({
    openaiApiKey: OPENAI_UPSTREAM_KEY,
    anthropicApiKey: ANTHROPIC_UPSTREAM_KEY,
  });
  refusing = await startMockProvider({ openaiApiKey: 'sk-some-other-key' });
  const logger = createLogger('trace', {
    write(line: string) {
      lines.push(line);
    },
  });
  const configText = baseConfigYaml(
    mock.url,
    {
      serverYaml: `, metrics_token: "${METRICS_TOKEN}"`,
      extraYaml: `
alerts:
  webhooks: [{ url: "http://127.0.0.1:9/hook", secret: "${WEBHOOK_SECRET}" }]
budgets:
  - id: web-monthly
    scope: { team: web }
    limit_usd: 0.001
    period: monthly
    thresholds: [{ at: 0.01, alert: true }]
`,
    },
    dir,
  ).replace(
    // A third provider whose upstream refuses the key: its 401 is relayed to the client.
    'models:',
    `  refusing: { kind: openai, base_url: "${refusing.url}/v1", api_key: "${OPENAI_UPSTREAM_KEY}" }\nmodels:\n  refused-model: { provider: refusing, input: 1, output: 1, max_output_tokens: 100 }`,
  );
  gateway = await startGateway({ configText, env: {}, logger, onRecord: (r) => records.push(r) });

  expect((await chat(TEST_KEY)).status).toBe(200);
  expect((await chat(TEST_KEY, { stream: true })).status).toBe(200);
  expect(
    (
      await call('/v1/messages', {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-api-key': TEST_KEY,
          'anthropic-version': '2023-06-01',
        },
        body: JSON.stringify({
          model: 'claude-haiku-4-5',
          max_tokens: 20,
          messages: [{ role: 'user', content: 'hi' }],
        }),
      })
    ).status,
  ).toBe(200);
  expect((await chat(WRONG_KEY)).status).toBe(401);
  expect((await chat(ADMIN_TOKEN)).status).toBe(401);
  expect((await chat(OPENAI_UPSTREAM_KEY)).status).toBe(401);
  expect((await chat(TEST_KEY, {}, { 'x-mock-fail': 'status:500' })).status).toBe(500);
  expect((await chat(TEST_KEY, { model: 'refused-model' })).status).toBe(401);
  expect((await chat(TEST_KEY_2, { model: 'gpt-4o' })).status).toBe(403);
  // The web budget is spent past its limit by now: a rejection, and threshold/exhausted alerts
  // whose webhook delivery fails (nothing listens on port 9).
  for (let i = 0; i < 5; i++) await chat(TEST_KEY, { max_tokens: 500 }, { 'x-mock-output-tokens': '500' });
  expect(records.some((r) => r.errorCode === 'budget_exceeded')).toBe(true);
  await call('/admin/budgets', { headers: { authorization: `Bearer ${WRONG_KEY}` } });
  await call('/admin/budgets', { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
  await call('/metrics', { headers: { authorization: `Bearer ${WRONG_KEY}` } });
  expect((await call('/metrics', { headers: { authorization: `Bearer ${METRICS_TOKEN}` } })).status).toBe(
    200,
  );
  // Reloads log too.
  gateway.reload();
  await eventually(() =>
    expect(lines.filter((l) => l.includes('"msg":"request"')).length).toBe(records.length),
  );
}, 60_000);

afterAll(async () => {
  await gateway?.close();
  await mock?.close();
  await refusing?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function leaks(text: string): string[] {
  return Object.entries(SECRETS)
    .filter(([, secret]) => text.includes(secret))
    .map(([name]) => name);
}

describe('request logs', () => {
  it('have one structured line per request, with every ledger field and the request id', () => {
    const requestLines = lines
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((l) => l.msg === 'request');
    expect(requestLines.length).toBe(records.length);
    expect(records.length).toBeGreaterThan(10);
    for (const [i, record] of records.entries()) {
      const line = requestLines[i]!;
      expect(line).toMatchObject({ ...record });
      expect(line.requestId).toMatch(/^req_[0-9a-f]{32}$/);
      expect(typeof line.time).toBe('number');
    }
    // Errors log at warn (4xx) and error (5xx): pino levels 40 and 50.
    const levelOf = (status: number) => requestLines.find((l) => l.status === status)?.level;
    expect(levelOf(200)).toBe(30);
    expect(levelOf(401)).toBe(40);
    expect(levelOf(500)).toBe(50);
  });

  it('and every other log line hold no secret', () => {
    expect(lines.length).toBeGreaterThan(records.length);
    expect(leaks(lines.join('\n'))).toEqual([]);
  });

  it('the redaction guard hides credentials under their usual field names', () => {
    const out: string[] = [];
    const logger = createLogger('info', { write: (line: string) => out.push(line) });
    logger.info({
      msg: 'x',
      headers: { authorization: `Bearer ${TEST_KEY}`, 'x-api-key': TEST_KEY_2, cookie: WRONG_KEY },
      provider: { apiKey: OPENAI_UPSTREAM_KEY },
      adminToken: ADMIN_TOKEN,
      webhook: { secret: WEBHOOK_SECRET },
      server: { metricsToken: METRICS_TOKEN },
      keys: [{ id: 'web', key: ANTHROPIC_UPSTREAM_KEY }],
    });
    expect(out).toHaveLength(1);
    expect(leaks(out[0]!)).toEqual([]);
    expect(out[0]).toContain('[redacted]');
  });

  it('follow the configured level', () => {
    const out: string[] = [];
    const logger = createLogger('warn', { write: (line: string) => out.push(line) });
    logger.info({ msg: 'quiet' });
    logger.warn({ msg: 'loud' });
    expect(out.map((l) => JSON.parse(l).msg)).toEqual(['loud']);
  });
});

describe('no secret reaches clients or metrics', () => {
  it('error bodies and headers of failed auth, provider errors and rejections', () => {
    expect(answers.length).toBeGreaterThan(15);
    expect(answers.filter((a) => a.startsWith('401')).length).toBeGreaterThanOrEqual(4);
    expect(leaks(answers.join('\n'))).toEqual([]);
  });

  it('/metrics', async () => {
    const text = await gateway.metrics.registry.metrics();
    expect(text).toContain('llm_gateway_requests_total');
    expect(leaks(text)).toEqual([]);
  });
});
