/**
 * The proxy routes in process (`app.request()`): a fake budget engine and an undici MockPool for the
 * provider, no mock provider process, no store. What the edge does with each answer of the engine
 * and the provider: denials in the client's format, releases on refusals, one settle per stream.
 */
import { MockAgent } from 'undici';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Denial } from '../../budget/denials.js';
import type {
  Admission,
  AdmissionDenied,
  AdmissionRequest,
  BudgetEngine,
  ExtendOutcome,
  Reservation,
  SettleOutcome,
} from '../../budget/types.js';
import { parseConfig } from '../../config/load.js';
import type { RuntimeModel } from '../../config/runtime.js';
import { createLogger } from '../../logger.js';
import type { RequestRecord } from '../../record.js';
import { buildApp } from '../../server.js';
import type { BudgetStore } from '../../store/types.js';
import type { Usage } from '../../usage.js';

const UPSTREAM = 'http://upstream.test';
const KEY = 'sk-gw-unit-key';
const NOW = Date.UTC(2030, 5, 15, 12);

const config = parseConfig(
  `
server: { log_level: silent }
store: { type: sqlite, path: ":memory:" }
providers:
  openai: { kind: openai, base_url: "${UPSTREAM}/v1", api_key: "sk-upstream" }
  anthropic: { kind: anthropic, base_url: "${UPSTREAM}", api_key: "sk-ant-upstream" }
models:
  gpt-4o-mini: { provider: openai, input: 0.15, output: 0.60, max_output_tokens: 16384 }
  claude-haiku-4-5: { provider: anthropic, input: 1.00, output: 5.00, max_output_tokens: 64000 }
keys:
  - { id: unit, key: "${KEY}", team: web }
`,
  '(unit test)',
  {},
);

/** A budget denial as the engine returns it. */
function denied(denial: Denial): AdmissionDenied {
  return { ok: false, denial };
}

class FakeEngine implements BudgetEngine {
  admitted: AdmissionRequest[] = [];
  settled: Array<{ reservation: Reservation | null; model: string; usage: Usage }> = [];
  released: Array<Reservation | null> = [];
  answer: (request: AdmissionRequest) => Admission = (request) => this.grant(request.model);
  private settledWaiters: Array<() => void> = [];

  grant(model: RuntimeModel): Admission {
    return {
      ok: true,
      reservation: { id: 'res-1', amountNano: 1_000, lines: [] },
      servedModel: model,
      outputCap: 50,
      reservedOutputTokens: 50,
      capChanged: false,
      clamped: false,
      estimateNano: 1_000,
      promptTokens: 3,
      waitedMs: 0,
    };
  }
  async admit(request: AdmissionRequest): Promise<Admission> {
    this.admitted.push(request);
    return this.answer(request);
  }
  async precheck(): Promise<undefined> {
    return undefined;
  }
  async preview(): Promise<never> {
    throw new Error('not used by the proxy');
  }
  async settle(reservation: Reservation | null, model: RuntimeModel, usage: Usage): Promise<SettleOutcome> {
    this.settled.push({ reservation, model: model.name, usage });
    for (const wake of this.settledWaiters.splice(0)) wake();
    return { costNano: 42 };
  }
  async extend(): Promise<ExtendOutcome> {
    return { status: 'rejected' };
  }

  farFromEnd(): boolean {
    return false;
  }

  async release(reservation: Reservation | null): Promise<void> {
    this.released.push(reservation);
  }
  async budgetsFor(): Promise<[]> {
    return [];
  }
  async close(): Promise<void> {}
  /** Resolves at the next settle (a stream settles after its last byte, after the response). */
  nextSettle(): Promise<void> {
    return new Promise((resolve) => this.settledWaiters.push(resolve));
  }
}

let engine: FakeEngine;
let agent: MockAgent;
let records: RequestRecord[];
let logLines: string[];

function app() {
  return buildApp({
    config: () => config,
    engine: () => engine,
    store: () => ({ ping: async () => true }) as unknown as BudgetStore,
    pools: { pool: () => agent.get(UPSTREAM) },
    observe: (record) => records.push(record),
    logger: createLogger('info', { write: (line: string) => logLines.push(line) }),
    clock: () => NOW,
  });
}

beforeEach(() => {
  engine = new FakeEngine();
  agent = new MockAgent();
  agent.disableNetConnect();
  records = [];
  logLines = [];
});
afterEach(async () => {
  await agent.close();
});

const chat = { model: 'gpt-4o-mini', max_tokens: 50, messages: [{ role: 'user', content: 'hi' }] };
const message = { model: 'claude-haiku-4-5', max_tokens: 50, messages: [{ role: 'user', content: 'hi' }] };

function post(path: string, body: unknown, headers: Record<string, string> = {}) {
  return app().request(path, {
    method: 'POST',
    headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

const exhausted: Denial = {
  kind: 'budget_exceeded',
  budgetId: 'web-monthly',
  instance: 'web-monthly',
  remainingNano: 0,
  minimumNano: 5_000,
  resetsAtMs: NOW + 3_600_000,
  nowMs: NOW,
  anonymous: false,
};

describe('a denial from the engine', () => {
  beforeEach(() => {
    engine.answer = () => denied(exhausted);
  });

  it('is a 429 budget_exceeded in OpenAI’s format, with retry-after and x-should-retry', async () => {
    const response = await post('/v1/chat/completions', chat);
    expect(response.status).toBe(429);
    expect(response.headers.get('retry-after')).toBe('3600');
    expect(response.headers.get('x-should-retry')).toBe('false');
    expect(response.headers.get('x-gateway-request-id')).toMatch(/^req_[0-9a-f]{32}$/);
    const body = (await response.json()) as { error: Record<string, unknown> };
    expect(body.error).toMatchObject({ type: 'budget_exceeded', code: 'budget_exceeded', param: null });
    expect(body.error.message).toContain('Budget "web-monthly" is exhausted');
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({ status: 429, errorCode: 'budget_exceeded', settlement: 'none' });
    expect(engine.released).toEqual([]);
  });

  it('is a 429 in Anthropic’s format on /v1/messages, same headers', async () => {
    const response = await post('/v1/messages', message, { 'anthropic-version': '2023-06-01' });
    expect(response.status).toBe(429);
    expect(response.headers.get('retry-after')).toBe('3600');
    expect(response.headers.get('x-should-retry')).toBe('false');
    const body = (await response.json()) as { type: string; error: { type: string; message: string } };
    expect(body).toMatchObject({ type: 'error', error: { type: 'budget_exceeded' } });
    expect(body.error.message).toContain('web-monthly');
  });
});

describe('the provider’s answer', () => {
  it('an upstream 500 is relayed as it came and the reservation released', async () => {
    agent
      .get(UPSTREAM)
      .intercept({ path: '/v1/chat/completions', method: 'POST' })
      .reply(
        500,
        { error: { message: 'upstream broke' } },
        { headers: { 'content-type': 'application/json' } },
      );
    const response = await post('/v1/chat/completions', chat);
    expect(response.status).toBe(500);
    expect(await response.json()).toEqual({ error: { message: 'upstream broke' } });
    expect(engine.released).toEqual([{ id: 'res-1', amountNano: 1_000, lines: [] }]);
    expect(engine.settled).toEqual([]);
    expect(records[0]).toMatchObject({ status: 500, errorCode: 'provider_error', settlement: 'released' });
  });

  it('a plain answer settles once at its usage', async () => {
    agent
      .get(UPSTREAM)
      .intercept({ path: '/v1/chat/completions', method: 'POST' })
      .reply(
        200,
        { id: 'c1', choices: [], usage: { prompt_tokens: 9, completion_tokens: 4 } },
        { headers: { 'content-type': 'application/json' } },
      );
    const response = await post('/v1/chat/completions', chat);
    expect(response.status).toBe(200);
    expect(response.headers.get('x-gateway-cost-usd')).toBeDefined();
    expect(engine.settled).toHaveLength(1);
    expect(engine.settled[0]?.usage).toMatchObject({ inputTokens: 9, outputTokens: 4 });
    expect(records[0]).toMatchObject({ status: 200, settlement: 'usage', costNano: 42 });
  });

  it('a streamed answer settles once, after the last byte, at the stream’s usage', async () => {
    const events = [
      { id: 's1', choices: [{ index: 0, delta: { content: 'Hel' } }] },
      { id: 's1', choices: [{ index: 0, delta: { content: 'lo' } }] },
      { id: 's1', choices: [], usage: { prompt_tokens: 11, completion_tokens: 7 } },
    ];
    const sse = `${events.map((e) => `data: ${JSON.stringify(e)}\n\n`).join('')}data: [DONE]\n\n`;
    agent
      .get(UPSTREAM)
      .intercept({ path: '/v1/chat/completions', method: 'POST' })
      .reply(200, sse, { headers: { 'content-type': 'text/event-stream' } });
    const settled = engine.nextSettle();
    const response = await post('/v1/chat/completions', { ...chat, stream: true });
    expect(response.status).toBe(200);
    const text = await response.text();
    expect(text).toContain('Hel');
    // The gateway asked for the usage chunk; the client, who did not, does not see it.
    expect(text).not.toContain('prompt_tokens');
    await settled;
    expect(engine.settled).toHaveLength(1);
    expect(engine.settled[0]?.usage).toMatchObject({ inputTokens: 11, outputTokens: 7 });
    expect(engine.released).toEqual([]);
    expect(records[0]).toMatchObject({ stream: true, settlement: 'usage', outputTokens: 7 });
  });
});

describe('a client body the endpoint refuses', () => {
  it.each([
    ['not JSON', '{"model": '],
    ['no messages', { model: 'gpt-4o-mini' }],
    ['a negative cap', { ...chat, max_tokens: -1 }],
  ])('%s: 400, and the engine was never asked', async (_name, body) => {
    const response = await post('/v1/chat/completions', body);
    expect(response.status).toBe(400);
    expect(((await response.json()) as { error: { type: string } }).error.type).toBe('invalid_request_error');
    expect(engine.admitted).toEqual([]);
    expect(records[0]?.status).toBe(400);
  });
});

describe('the error boundary', () => {
  it('answers an unknown error with a 500 in the client’s format and logs it with the request id and stack', async () => {
    engine.admit = async () => {
      throw new Error('engine exploded');
    };
    const openai = await post('/v1/chat/completions', chat);
    expect(openai.status).toBe(500);
    expect(await openai.json()).toMatchObject({ error: { code: 'internal_error', type: 'server_error' } });
    const anthropic = await post('/v1/messages', message);
    expect(anthropic.status).toBe(500);
    expect(await anthropic.json()).toMatchObject({ type: 'error', error: { type: 'api_error' } });

    const logged = logLines.map((l) => JSON.parse(l)).filter((l) => l.msg === 'unhandled error');
    expect(logged).toHaveLength(2);
    expect(logged[0].requestId).toBe(openai.headers.get('x-gateway-request-id'));
    expect(logged[0]).toMatchObject({ method: 'POST', path: '/v1/chat/completions', level: 50 });
    expect(logged[0].err.message).toBe('engine exploded');
    expect(logged[0].err.stack).toContain('handler.test.ts');
    // Neither the virtual key nor the provider's key reaches the log.
    expect(logLines.join('\n')).not.toContain(KEY);
    expect(logLines.join('\n')).not.toContain('sk-upstream');
    expect(records.map((r) => [r.status, r.errorCode])).toEqual([
      [500, 'internal_error'],
      [500, 'internal_error'],
    ]);
  });

  it('answers an unknown path with a 404 in the client’s format and logs method and path only', async () => {
    const openai = await app().request('/v1/nope?secret=x', { method: 'POST' });
    expect(openai.status).toBe(404);
    expect(await openai.json()).toMatchObject({ error: { code: 'not_found' } });
    const anthropic = await app().request('/v1/nope', { headers: { 'anthropic-version': '2023-06-01' } });
    expect(await anthropic.json()).toMatchObject({ type: 'error', error: { type: 'not_found_error' } });
    const logged = logLines.map((l) => JSON.parse(l)).filter((l) => l.msg === 'no route');
    expect(logged.map((l) => [l.method, l.path])).toEqual([
      ['POST', '/v1/nope'],
      ['GET', '/v1/nope'],
    ]);
    expect(logLines.join('\n')).not.toContain('secret=x');
  });

  it('answers a missing key with a 401 in the client’s format on shared routes', async () => {
    const openai = await app().request('/v1/budget');
    expect(openai.status).toBe(401);
    expect(await openai.json()).toMatchObject({ error: { code: 'unauthorized' } });
    const anthropic = await app().request('/v1/models', { headers: { 'anthropic-version': '2023-06-01' } });
    expect(anthropic.status).toBe(401);
    expect(await anthropic.json()).toMatchObject({ type: 'error', error: { type: 'authentication_error' } });
  });
});
