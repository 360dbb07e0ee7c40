/**
 * The endpoints issue #15 found answering 404 with no log line: token counts (never spending),
 * models.retrieve in each SDK's format, the OpenAI list without Claude models, refusals for what
 * cannot be budgeted (batches, images), Codex's WebSocket attempt, and unknown paths counted.
 */
import { request as httpRequest } from 'node:http';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type Stack, startStack, TEST_KEY, TEST_KEY_2 } from '../../../test/helpers/stack.js';
import { budgetTotals, GLOBAL_BUDGET_YAML } from '../proxy/stack.test-helpers.js';

let stack: Stack;

beforeAll(async () => {
  stack = await startStack({ extraYaml: GLOBAL_BUDGET_YAML });
});
afterAll(async () => {
  await stack?.close();
});
beforeEach(() => {
  stack.mock.reset();
});

const conversation = {
  system: 'You are a careful assistant.',
  messages: [{ role: 'user' as const, content: 'How many tokens is this sentence, roughly?' }],
  tools: [
    {
      name: 'Bash',
      description: 'Run a shell command',
      input_schema: {
        type: 'object' as const,
        properties: { command: { type: 'string' } },
        required: ['command'],
      },
    },
  ],
};

async function unknownPathCount(method: string): Promise<number> {
  const text = await (await fetch(`${stack.gateway.url}/metrics`)).text();
  const line = text
    .split('\n')
    .find((l) => l.startsWith(`llm_gateway_unknown_paths_total{method="${method}"}`));
  return line ? Number(line.split(' ').at(-1)) : 0;
}

describe('token counts: answered locally, nothing reserved or sent', () => {
  it('Anthropic SDK messages.countTokens', async () => {
    const before = await budgetTotals(stack);
    const counted = await stack
      .anthropic()
      .messages.countTokens({ model: 'claude-sonnet-4-5', ...conversation });
    expect(counted.input_tokens).toBeGreaterThan(20);
    // More content, more tokens: the count reads the body, it is not a constant.
    const longer = await stack.anthropic().messages.countTokens({
      model: 'claude-sonnet-4-5',
      ...conversation,
      system: `${conversation.system} ${'Be precise. '.repeat(50)}`,
    });
    expect(longer.input_tokens).toBeGreaterThan(counted.input_tokens + 50);
    expect(stack.mock.served).toHaveLength(0);
    expect(await budgetTotals(stack)).toEqual(before);
  });

  it('POST /v1/responses/input_tokens in OpenAI shape; an unknown model is a 404 naming it', async () => {
    const response = await fetch(`${stack.gateway.url}/v1/responses/input_tokens`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TEST_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o', input: 'Count me, please.' }),
    });
    expect(response.status).toBe(200);
    const body = (await response.json()) as { object: string; input_tokens: number };
    expect(body.object).toBe('response.input_tokens');
    expect(body.input_tokens).toBeGreaterThan(3);

    const unknown = await fetch(`${stack.gateway.url}/v1/responses/input_tokens`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TEST_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'no-such-model', input: 'x' }),
    });
    expect(unknown.status).toBe(404);
    expect(((await unknown.json()) as { error: { message: string } }).error.message).toContain(
      'no-such-model',
    );
    expect(stack.mock.served).toHaveLength(0);
  });

  it('a key limited to other models may not count with this one (403), a bad key gets 401', async () => {
    const forbidden = await stack
      .anthropic(TEST_KEY_2)
      .messages.countTokens({ model: 'claude-sonnet-4-5', ...conversation })
      .catch((e: unknown) => e);
    expect(forbidden).toBeInstanceOf(Anthropic.PermissionDeniedError);
    const unauthorized = await stack
      .anthropic('sk-gw-not-a-key')
      .messages.countTokens({ model: 'claude-sonnet-4-5', ...conversation })
      .catch((e: unknown) => e);
    expect(unauthorized).toBeInstanceOf(Anthropic.AuthenticationError);
  });
});

describe('models', () => {
  it('models.retrieve with both SDKs, each in its own shape', async () => {
    const claude = await stack.anthropic().models.retrieve('claude-sonnet-4-5');
    expect(claude).toMatchObject({ type: 'model', id: 'claude-sonnet-4-5' });
    const gpt = await stack.openai().models.retrieve('gpt-4o');
    expect(gpt).toMatchObject({ object: 'model', id: 'gpt-4o', owned_by: 'openai' });
  });

  it('a model the caller cannot reach through that API is a 404 in its format', async () => {
    const viaAnthropic = await stack
      .anthropic()
      .models.retrieve('gpt-4o')
      .catch((e: unknown) => e);
    expect(viaAnthropic).toBeInstanceOf(Anthropic.NotFoundError);
    expect((viaAnthropic as InstanceType<typeof Anthropic.NotFoundError>).error).toMatchObject({
      type: 'error',
      error: { type: 'not_found_error' },
    });
    const claudeViaOpenAi = await stack
      .openai()
      .models.retrieve('claude-sonnet-4-5')
      .catch((e: unknown) => e);
    expect(claudeViaOpenAi).toBeInstanceOf(OpenAI.NotFoundError);
    const notAllowed = await stack
      .openai(TEST_KEY_2)
      .models.retrieve('gpt-4o')
      .catch((e: unknown) => e);
    expect(notAllowed).toBeInstanceOf(OpenAI.NotFoundError);
  });

  it('the OpenAI list leaves out Claude models, which /v1/chat/completions refuses', async () => {
    const ids = [];
    for await (const model of stack.openai().models.list()) ids.push(model.id);
    expect(ids).toContain('gpt-4o');
    expect(ids.some((id) => id.startsWith('claude'))).toBe(false);
    const anthropicIds = [];
    for await (const model of stack.anthropic().models.list()) anthropicIds.push(model.id);
    expect(anthropicIds).toEqual(['claude-sonnet-4-5', 'claude-haiku-4-5']);
  });
});

describe('refused until they can be budgeted', () => {
  it('batches: 404 in the client format saying why; nothing sent', async () => {
    const claude = await stack
      .anthropic()
      .messages.batches.create({
        requests: [
          {
            custom_id: 'a',
            params: { model: 'claude-sonnet-4-5', max_tokens: 10, messages: conversation.messages },
          },
        ],
      })
      .catch((e: unknown) => e);
    expect(claude).toBeInstanceOf(Anthropic.NotFoundError);
    expect((claude as Error).message).toContain('batch jobs are billed when they finish');
    const openai = await stack
      .openai()
      .batches.create({ input_file_id: 'file-1', endpoint: '/v1/chat/completions', completion_window: '24h' })
      .catch((e: unknown) => e);
    expect(openai).toBeInstanceOf(OpenAI.NotFoundError);
    expect(stack.mock.served).toHaveLength(0);
  });

  it('image generation: 400 naming the missing per-image price', async () => {
    const error = await stack
      .openai()
      .images.generate({ model: 'gpt-image-1', prompt: 'a budget' })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
    expect((error as Error).message).toContain('per-image price');
    expect(stack.mock.served).toHaveLength(0);
  });
});

describe("Codex's WebSocket attempt and unknown paths", () => {
  it('GET /v1/responses with a WebSocket upgrade is answered 426 at once (Codex falls back to HTTP)', async () => {
    const url = new URL(stack.gateway.url);
    const started = performance.now();
    const status = await new Promise<number>((resolve, reject) => {
      const req = httpRequest({
        host: url.hostname,
        port: url.port,
        path: '/v1/responses',
        headers: {
          connection: 'Upgrade',
          upgrade: 'websocket',
          'sec-websocket-version': '13',
          'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==',
          authorization: `Bearer ${TEST_KEY}`,
        },
      });
      req.on('response', (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('upgrade', () => reject(new Error('the gateway accepted the upgrade')));
      req.on('error', reject);
      req.end();
    });
    expect(status).toBe(426);
    const elapsed = performance.now() - started;
    // Answered, not held open: a gateway that kept the socket would fail this test at its timeout.
    console.log(`websocket attempt answered 426 in ${elapsed.toFixed(1)} ms`);
  });

  it('an unknown path is a 404 in the client format, counted by method only', async () => {
    const before = await unknownPathCount('POST');
    const response = await fetch(`${stack.gateway.url}/v1/nothing/here?secret=1`, {
      method: 'POST',
      headers: { 'anthropic-version': '2023-06-01', 'x-api-key': TEST_KEY },
    });
    expect(response.status).toBe(404);
    expect(await response.json()).toMatchObject({ type: 'error', error: { type: 'not_found_error' } });
    expect(await unknownPathCount('POST')).toBe(before + 1);
    const metrics = await (await fetch(`${stack.gateway.url}/metrics`)).text();
    expect(metrics).not.toContain('/v1/nothing');
  });
});

describe('moderations', () => {
  it('passed through to the OpenAI provider, free: nothing reserved, counted in requests_total', async () => {
    const before = await budgetTotals(stack);
    const metricLine = async () =>
      (await (await fetch(`${stack.gateway.url}/metrics`)).text())
        .split('\n')
        .find((l) => l.startsWith('llm_gateway_requests_total{endpoint="/v1/moderations"'));
    const { data, response } = await stack
      .openai()
      .moderations.create({ model: 'omni-moderation-latest', input: 'hello' })
      .withResponse();
    expect(data.results[0]?.flagged).toBe(false);
    expect(response.headers.get('x-gateway-cost-usd')).toBe('0.000000000');
    const served = stack.mock.served;
    expect(served).toHaveLength(1);
    expect(served[0]?.path).toBe('/v1/moderations');
    // The provider's key went upstream, never the caller's virtual key.
    expect(served[0]?.headers.authorization).not.toContain(TEST_KEY);
    expect(await budgetTotals(stack)).toEqual(before);
    const line = await metricLine();
    expect(line).toContain('status="200"');
    // A free-text model name is no metric label.
    expect(line).toContain('model="none"');
  });
});
